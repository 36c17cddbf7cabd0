"""The character-generation recipe end to end, with a tiny model."""

import json
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from helpers import train
from hypothesis import given
from hypothesis import strategies as st
from strategies import batches, signature_examples

from nlp_lstm import cli, corpora, runner
from nlp_lstm.recipes.generation import recipe as generation

TINY = [
    "--embedding-dim",
    "16",
    "--lstm-units",
    "48",
    "--sequence-length",
    "64",
    "--batch-size",
    "32",
    "--epochs",
    "2",
    "--steps-per-epoch",
    "40",
    "--learning-rate",
    "0.01",
]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("generation")
    text = corpora.load("shakespeare", "train")[:300_000]
    (root / "plays.txt").write_text(text)
    code = train(
        "generation",
        "--data",
        str(root / "plays.txt"),
        "--run-dir",
        str(root / "run"),
        "--export-dir",
        str(root / "exports"),
        *TINY,
    )
    assert code == 0
    return root


def test_train_reports_bits_per_char_and_exports(trained):
    report = json.loads((trained / "run" / "metrics.json").read_text())
    for split in ("validation", "test"):
        assert 1.0 < report[split]["bits_per_char"] < 4.5  # below a uniform guess (6.2 bits)
    assert (trained / "run" / "plots" / "training_curves.png").exists()
    metadata = json.loads((trained / "exports" / "1" / "nlp_lstm.json").read_text())
    assert metadata["task"] == "generation" and "\n" in metadata["vocabulary"]
    assert metadata["metrics"]["test"]["bits_per_char"] == report["test"]["bits_per_char"]


CONSUMER = """
import json, sys
import tensorflow as tf
import tensorflow_text
assert not [m for m in sys.modules if m.startswith("nlp_lstm")]
serve = tf.saved_model.load(sys.argv[1]).signatures["serving_default"]
results = {}
for name, (prompts, n, temperature, top_k, top_p, seed) in json.loads(sys.argv[2]).items():
    out = serve(prompt=tf.constant(prompts, tf.string), max_new_chars=tf.constant(n),
                temperature=tf.constant(temperature), top_k=tf.constant(top_k),
                top_p=tf.constant(top_p), seed=tf.constant(seed, tf.int64))
    results[name] = [t.decode("utf-8") for t in out["text"].numpy()]
print(json.dumps(results))
"""


def test_export_samples_reproducibly_without_this_package(trained):
    calls = {
        "a": (["ROMEO:\n", "", "Zürich ☃\x00"], 80, 0.8, 0, 1.0, 1),
        "a_again": (["ROMEO:\n", "", "Zürich ☃\x00"], 80, 0.8, 0, 1.0, 1),
        "b": (["ROMEO:\n", "", "Zürich ☃\x00"], 80, 0.8, 0, 1.0, 2),
        "greedy1": (["ROMEO:\n"], 40, 0.0, 0, 1.0, 1),
        "greedy2": (["ROMEO:\n"], 40, 0.0, 0, 1.0, 99),
        "nucleus": (["ROMEO:\n"] * 2, 40, 1.0, 10, 0.9, 5),
        "huge": (["A"], 1_000_000, 1.0, 0, 1.0, 3),
        "none": (["ROMEO:", ""], 0, 1.0, 0, 1.0, 3),
        "empty_batch": ([], 40, 0.8, 0, 1.0, 1),
    }
    result = subprocess.run(
        [sys.executable, "-c", CONSUMER, str(trained / "exports" / "1"), json.dumps(calls)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["a"] == out["a_again"] and out["a"] != out["b"]
    assert out["a"][0].startswith("ROMEO:\n") and out["a"][2].startswith("Zürich ☃\x00")
    assert all(len(text) == len(prompt) + 80 for text, prompt in zip(out["a"], calls["a"][0]))
    assert out["greedy1"] == out["greedy2"]
    assert len(out["huge"][0]) == 1 + 10_000  # capped at MAX_NEW_CHARS
    assert out["none"] == ["ROMEO:", ""]
    assert out["empty_batch"] == []


def test_generate_cli(trained, capsys, tmp_path):
    assert (
        cli.main(
            [
                "generate",
                "--model",
                str(trained / "exports"),
                "--prompt",
                "JULIET:",
                "--max-new-chars",
                "30",
                "--seed",
                "4",
                "--top-p",
                "0.9",
            ]
        )
        == 0
    )
    assert capsys.readouterr().out.startswith("JULIET:")
    (tmp_path / "prompts.txt").write_text("ROMEO:\nKING:\n")
    assert (
        cli.main(
            [
                "generate",
                "--model",
                str(trained / "exports"),
                "--prompt",
                "JULIET:",
                "--input",
                str(tmp_path / "prompts.txt"),
                "--max-new-chars",
                "5",
            ]
        )
        == 0
    )
    samples = capsys.readouterr().out.split("-" * 40 + "\n")
    assert [s.split(":")[0] for s in samples[:3]] == ["JULIET", "ROMEO", "KING"]


def test_finetune_lowers_bits_per_char_on_the_new_text(trained, tmp_path):
    english, german = corpora.load("ding_en_de", "train")
    (tmp_path / "german.txt").write_text("\n".join(german[:4000]) + "\n")
    assert (
        runner.main(
            "generation",
            [
                "finetune",
                "--from",
                str(trained / "exports"),
                "--data",
                str(tmp_path / "german.txt"),
                "--run-dir",
                str(tmp_path / "run"),
                "--export-dir",
                str(tmp_path / "exports"),
                "--epochs",
                "2",
                "--steps-per-epoch",
                "40",
                "--learning-rate",
                "0.005",
            ],
        )
        == 0
    )
    report = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert report["validation"]["bits_per_char"] < report["validation_bits_per_char_before"] - 0.2
    assert 0.0 < report["unknown_character_share"] < 0.05  # umlauts and ß are new to the plays


def test_bits_per_char_carries_state_across_windows(trained):
    """Reading in windows with carried states equals reading the text in one pass."""
    import keras

    export = runner.load_export(generation.RECIPE, trained / "exports" / "1")
    model, tokenizer = export.model, generation.make_tokenizer(export.asset)
    text = corpora.load("shakespeare", "test")[:700]
    ids = generation.encode(tokenizer, text)
    inputs = np.concatenate([[generation.BOS_ID], ids[:-1]])[None]
    logits = model(inputs, training=False)
    nats = keras.ops.convert_to_numpy(
        tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(ids[None], logits))
    )
    one_pass = generation.bits_per_char(model, tokenizer, text, streams=1, window=10_000)
    windowed = generation.bits_per_char(model, tokenizer, text, streams=1, window=64)
    np.testing.assert_allclose(one_pass, generation.bits(nats), rtol=1e-4)
    np.testing.assert_allclose(windowed, one_pass, rtol=1e-4)


@pytest.fixture(scope="module")
def served(trained):
    return tf.saved_model.load(str(trained / "exports" / "1")).signatures["serving_default"]


@signature_examples
@given(
    prompts=batches,
    new=st.integers(0, 60),
    temperature=st.floats(0.0, 2.0),
    top_k=st.integers(0, 100),
    top_p=st.floats(0.0, 1.0),
    seed=st.integers(0, 2**40),
)
def test_any_prompts_get_bounded_continuations(
    served, prompts, new, temperature, top_k, top_p, seed
):
    out = served(
        prompt=tf.constant(prompts, tf.string),
        max_new_chars=tf.constant(new),
        temperature=tf.constant(temperature, tf.float32),
        top_k=tf.constant(top_k),
        top_p=tf.constant(top_p, tf.float32),
        seed=tf.constant(seed, tf.int64),
    )
    texts = out["text"].numpy()
    assert texts.shape == (len(prompts),)
    for prompt, text in zip(prompts, texts):
        assert len(text.decode("utf-8", "replace")) <= len(prompt.decode("utf-8", "replace")) + new
