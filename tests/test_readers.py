import gzip

import pytest

from nlp_lstm.data import read_labelled, read_lines, read_pairs, read_text
from nlp_lstm.errors import NlpLstmError


def write(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return path


def test_labelled_formats_agree(tmp_path):
    tsv = write(tmp_path, "a.tsv", "text\tlabel\nGreat fun.\tpos\nDull.\tneg\n")
    bare = write(tmp_path, "b.tsv", "Great fun.\tpos\n\nDull.\tneg\n")
    csv = write(tmp_path, "c.csv", 'label,text\npos,"Great fun."\nneg,Dull.\n')
    jsonl = write(
        tmp_path,
        "d.jsonl",
        '{"text": "Great fun.", "label": "pos"}\n{"text": "Dull.", "label": "neg"}\n',
    )
    for path in (tsv, bare, csv, jsonl):
        examples = read_labelled(path)
        assert (examples.texts, examples.labels) == (["Great fun.", "Dull."], ["pos", "neg"])


def test_gzip_and_integer_labels(tmp_path):
    path = tmp_path / "a.tsv.gz"
    path.write_bytes(gzip.compress("Schön!\t1\nNaja.\t0\n".encode()))
    assert read_labelled(path).labels == ["1", "0"]


@pytest.mark.parametrize(
    "content, message, line",
    [
        ("", "empty or holds only blank lines", None),
        ("\n  \n\n", "empty or holds only blank lines", None),
        ("ok\tpos\ntoo\tmany\tcolumns\n", "expected 2 columns, found 3", 2),
        ("ok\tpos\nno label here\n", "expected 2 columns, found 1", 2),
        ("ok\tpos\nmissing\t\n", "missing label", 2),
        ("ok\tpos\n\tneg\n", "empty text", 2),
        (b"ok\tpos\nbad \xff byte\tneg\n", "not valid UTF-8", 2),
    ],
)
def test_bad_labelled_files_name_file_and_line(tmp_path, content, message, line):
    path = write(tmp_path, "bad.tsv", content)
    with pytest.raises(NlpLstmError) as error:
        read_labelled(path)
    assert message in str(error.value)
    assert str(path) in str(error.value)
    assert error.value.line == line


def test_bad_jsonl_and_csv(tmp_path):
    with pytest.raises(NlpLstmError, match=r"bad.jsonl:2: not a JSON object"):
        read_labelled(write(tmp_path, "bad.jsonl", '{"text": "a", "label": "x"}\n{oops\n'))
    with pytest.raises(NlpLstmError, match=r"bad2.jsonl:1: missing the 'label' field"):
        read_labelled(write(tmp_path, "bad2.jsonl", '{"text": "a"}\n'))
    with pytest.raises(NlpLstmError, match=r"bad.csv:1: a CSV file needs a header"):
        read_labelled(write(tmp_path, "bad.csv", "a,b\n"))
    with pytest.raises(NlpLstmError, match=r"bad2.csv:4: expected 2 columns"):
        read_labelled(write(tmp_path, "bad2.csv", 'text,label\n"two\nlines",pos\nx,y,z\n'))


def test_skipping_bad_rows_counts_them(tmp_path, capsys):
    path = write(tmp_path, "mixed.tsv", "good\tpos\nbad\nalso good\tneg\n\tneg\n")
    examples = read_labelled(path, skip_bad_rows=True)
    assert examples.texts == ["good", "also good"] and examples.skipped == 2
    assert "skipped 2 bad row(s)" in capsys.readouterr().err


def test_missing_file(tmp_path):
    with pytest.raises(NlpLstmError, match="no such file"):
        read_labelled(tmp_path / "nope.tsv")


def test_plain_text(tmp_path):
    assert read_text(write(tmp_path, "a.txt", "ROMEO:\nHa!\r\n")) == "ROMEO:\nHa!\n"
    lines = read_lines(write(tmp_path, "b.txt", "one\u2028still one\r\nform\x0cfeed\n\nlast"))
    assert lines == ["one\u2028still one", "form\x0cfeed", "", "last"]  # only \n ends a line
    with pytest.raises(NlpLstmError, match=r"a2.txt:3: not valid UTF-8 \(byte 0xe9\)"):
        read_text(write(tmp_path, "a2.txt", b"one\ntwo\ncaf\xe9\n"))


def test_pairs_tsv_with_and_without_header(tmp_path):
    with_header = write(tmp_path, "p.tsv", "en\tde\nGood morning.\tGuten Morgen.\n")
    without = write(tmp_path, "q.tsv", "Good morning.\tGuten Morgen.\n")
    for path in (with_header, without):
        pairs = read_pairs(path)
        assert (pairs.sources, pairs.targets) == (["Good morning."], ["Guten Morgen."])


def test_aligned_files(tmp_path):
    en = write(tmp_path, "a.en", "Hello.\nThanks.\n")
    de = write(tmp_path, "a.de", "Hallo.\nDanke.\n")
    assert read_pairs(en, de).targets == ["Hallo.", "Danke."]
    short = write(tmp_path, "b.de", "Hallo.\n")
    with pytest.raises(NlpLstmError, match=r"2 lines here but 1 in .*b.de"):
        read_pairs(en, short)
    gap = write(tmp_path, "c.de", "\nDanke.\n")
    with pytest.raises(NlpLstmError, match=r"a.en:1: one side of the pair is empty"):
        read_pairs(en, gap)


def test_bad_pairs(tmp_path):
    with pytest.raises(NlpLstmError, match=r"p.tsv:2: expected 2 tab-separated columns, found 1"):
        read_pairs(write(tmp_path, "p.tsv", "Hi.\tHallo.\nonly one side\n"))
