import json

from nlp_lstm import cli


def test_tsv_rows_stay_one_line_each_and_jsonl_keeps_the_raw_text():
    rows = [{"text": "a\tb\nc\\d\r", "pieces": ["x\ty"]}, {"text": "plain", "pieces": []}]
    assert cli._format_rows(rows, "tsv", header=True).splitlines() == [
        "text\tpieces",
        'a\\tb\\nc\\\\d\\r\t["x\\\\ty"]',
        "plain\t[]",
    ]
    assert cli._format_rows(rows[1:], "tsv", header=False) == "plain\t[]\n"
    assert [
        json.loads(line) for line in cli._format_rows(rows, "jsonl", False).splitlines()
    ] == rows
    assert (
        cli._format_rows([{"prompt": "a", "text": "ab"}], "text", False) == "ab\n" + "-" * 40 + "\n"
    )
