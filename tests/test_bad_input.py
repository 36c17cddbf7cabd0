"""Every kind of bad input a user can give gets one clear message and exit code 2.

One test per row of the README's troubleshooting table; none of them trains a model.
"""

import functools

import keras
import pytest
import tensorflow as tf

from nlp_lstm import cli, export, recipes, runner

RECIPES = {name: functools.partial(runner.main, name) for name in recipes.NAMES}
RECIPES["nlp-lstm"] = cli.main


def reviews(count):
    rows = [
        f"review number {i} is {'good' if i % 2 else 'bad'}\t{'pos' if i % 2 else 'neg'}"
        for i in range(count)
    ]
    return "text\tlabel\n" + "\n".join(rows) + "\n"


FILES = {
    "empty.tsv": b"",
    "blank.tsv": b"\n   \n\n",
    "latin1.tsv": "text\tlabel\ncaf\u00e9 au lait\tpos\n".encode("latin-1"),
    "missing_column.tsv": b"text\tlabel\ngood film\tpos\nbad film\n",
    "extra_column.tsv": b"text\tlabel\ngood film\tpos\textra\n",
    "missing_label.tsv": b"text\tlabel\ngood film\t\n",
    "unaligned.tsv": b"en\tde\nHello.\tHallo.\nOnly English.\n",
    "english.txt": b"Hello.\nGoodbye.\n",
    "german.txt": b"Hallo.\n",
    "five.tsv": reviews(5).encode(),
    "thirty.tsv": reviews(30).encode(),
    "short.txt": b"".join(b"line %d\n" % i for i in range(12)),
}

CASES = [
    # (recipe, arguments, what the message must say); {d} is the folder of the files
    ("sentiment", "train --data {d}/empty.tsv", "{d}/empty.tsv: the file is empty"),
    (
        "sentiment",
        "train --data {d}/blank.tsv",
        "{d}/blank.tsv: the file is empty or holds only blank lines",
    ),
    ("sentiment", "train --data {d}/latin1.tsv", "{d}/latin1.tsv:2: not valid UTF-8 (byte 0xe9)"),
    (
        "sentiment",
        "train --data {d}/missing_column.tsv",
        "{d}/missing_column.tsv:3: expected 2 columns, found 1",
    ),
    (
        "sentiment",
        "train --data {d}/extra_column.tsv",
        "{d}/extra_column.tsv:2: expected 2 columns, found 3",
    ),
    ("sentiment", "train --data {d}/missing_label.tsv", "{d}/missing_label.tsv:2: missing label"),
    (
        "translation",
        "train --data {d}/unaligned.tsv",
        "{d}/unaligned.tsv:3: expected 2 tab-separated columns, found 1",
    ),
    (
        "translation",
        "train --data {d}/english.txt --target-data {d}/german.txt",
        "{d}/english.txt: 2 lines here but 1 in {d}/german.txt",
    ),
    ("sentiment", "train --data {d}/five.tsv", "only 5 usable examples; at least 10 are needed"),
    ("generation", "train --data {d}/short.txt", "fewer than one batch of windows"),
    (
        "sentiment",
        "finetune --from {d}/exports --data {d}/thirty.tsv",
        "{d}/exports/1: this export is a 'translation' model, not 'sentiment'",
    ),
    ("translation", "evaluate --model {d}/nowhere", "{d}/nowhere: no such export directory"),
    (
        "translation",
        "evaluate --model {d}/corrupt_metadata",
        "{d}/corrupt_metadata/1: corrupt nlp_lstm.json",
    ),
    (
        "translation",
        "finetune --from {d}/exports --data {d}/thirty.tsv",
        "{d}/exports/1: export is incomplete or corrupt",
    ),
    (
        "nlp-lstm",
        "translate --model {d}/corrupt_graph Hello.",
        "{d}/corrupt_graph/1: cannot load the SavedModel",
    ),
    (
        "nlp-lstm",
        "tokenizer --corpus ding_en_de --vocabulary-size 5 --output {d}/tok.model",
        "ding_en_de: vocabulary size 5 is smaller than the 81 distinct characters of this corpus "
        "need; raise --vocabulary-size",
    ),
    ("nlp-lstm", "tokenizer --corpus ding_en_de --output {d}", "{d}: --output is a folder"),
    (
        "nlp-lstm",
        "translate --model {d}/exports Hello. --plot-attention {d}/att",
        "--plot-attention needs a .png file name, got {d}/att",
    ),
    (
        "generation",
        "train --lstm-unitz 3",
        "unknown config field 'lstm_unitz'; known fields: cell,",
    ),
    ("translation", "train --cell rnn", "unknown cell 'rnn'; choose one of lstm, gru, peephole"),
    (
        "sentiment",
        "train --strategy multi-worker --data {d}/thirty.tsv",
        "--strategy multi-worker needs TF_CONFIG describing the cluster",
    ),
    (
        "sentiment",
        "finetune --from {d}/code_export --data {d}/thirty.tsv",
        "{d}/code_export/1: export is incomplete or corrupt: Requested the deserialization of a "
        "`Lambda` layer",
    ),
]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("bad")
    for name, content in FILES.items():
        (root / name).write_bytes(content)

    def tiny_export(directory):  # a real SavedModel with translation metadata, no Keras file
        tf.saved_model.save(tf.Module(), str(directory))
        export.write_metadata(directory, "translation", config={})

    def code_export(directory):  # sentiment metadata, and a Keras file that carries code
        tf.saved_model.save(tf.Module(), str(directory))
        export.write_metadata(directory, "sentiment", config={})
        inputs = keras.Input((3,))
        (directory / export.KERAS_DIR).mkdir()
        keras.Model(inputs, keras.layers.Lambda(lambda x: x * 2)(inputs)).save(
            directory / export.KERAS_DIR / export.KERAS_FILE
        )

    for name in ("exports", "corrupt_metadata", "corrupt_graph"):
        export.write_version(root / name, tiny_export)
    export.write_version(root / "code_export", code_export)
    (root / "corrupt_metadata" / "1" / "nlp_lstm.json").write_text("{oops")
    graph = root / "corrupt_graph" / "1" / "saved_model.pb"
    graph.write_bytes(graph.read_bytes()[:40])
    return root


@pytest.mark.parametrize(
    "recipe, arguments, message",
    CASES,
    ids=[f"{r}-{a.split()[0]}-{i}" for i, (r, a, _) in enumerate(CASES)],
)
def test_bad_input_gets_one_clear_message(folder, recipe, arguments, message, capsys, tmp_path):
    argv = arguments.format(d=folder).split()
    if argv[0] in ("train", "finetune"):
        argv += ["--run-dir", str(tmp_path / "runs" / "run")]
    assert RECIPES[recipe](argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: ") and message.format(d=folder) in err[-1]
    assert "Traceback" not in "\n".join(err)
    runs = tmp_path / "runs"  # not left behind empty
    assert not runs.exists() or any(path.is_file() for path in runs.rglob("*"))


@pytest.mark.parametrize(
    "argv, message",
    [
        (
            "predict --model m --batch-size 0 Hello.",
            "argument --batch-size: 0 is out of range: must be at least 1",
        ),
        (
            "generate --model m --top-p 1.5",
            "argument --top-p: 1.5 is out of range: must be from 0 to 1",
        ),
        ("translate --model m --beam-size -1 Hello.", "argument --beam-size: -1 is out of range"),
    ],
)
def test_a_number_out_of_range_is_a_usage_error(argv, message, capsys):
    with pytest.raises(SystemExit) as stopped:
        cli.main(argv.split())
    assert stopped.value.code == 2 and message in capsys.readouterr().err
