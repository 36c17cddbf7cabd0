import json

from nlp_lstm import cli


def test_tsv_rows_stay_one_line_each_and_jsonl_keeps_the_raw_text(capsys):
    rows = [{"text": "a\tb\nc\\d\r", "pieces": ["x\ty"]}, {"text": "plain", "pieces": []}]
    cli._write_rows(rows, "tsv")
    assert capsys.readouterr().out.splitlines() == [
        "text\tpieces", "a\\tb\\nc\\\\d\\r\t[\"x\\\\ty\"]", "plain\t[]"]
    cli._write_rows(rows, "jsonl")
    assert [json.loads(line) for line in capsys.readouterr().out.splitlines()] == rows
