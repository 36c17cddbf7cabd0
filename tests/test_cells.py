"""Every recipe trains, exports and serves with each cell variant (tiny models).

The LSTM path is covered by each recipe's own tests; here the GRU and the peephole LSTM.
"""

import json

import keras
import pytest
import tensorflow as tf
from helpers import train, write_labelled, write_pairs

from nlp_lstm import corpora, serving
from nlp_lstm.errors import NlpLstmError
from nlp_lstm.layers import PeepholeLSTM, PeepholeLSTMCell
from nlp_lstm.layers.cells import check_cell

CELLS = ["gru", "peephole"]


def run_recipe(recipe, data, root, cell, options):
    """train and export; returns the export folder. (Fine-tuning reloads the export's
    Keras model and config, which ``assert_cell_used`` and the metadata check cover.)"""
    exports = root / "exports"
    run = ["--run-dir", str(root / "run"), "--export-dir", str(exports)]
    assert train(recipe, "--data", str(data), *run, "--cell", cell, *options) == 0
    metadata = json.loads((exports / "1" / "nlp_lstm.json").read_text())
    assert metadata["config"]["cell"] == cell
    return exports


def assert_cell_used(root, cell):
    """The exported Keras model holds the variant's layers (or cells) and no plain LSTM."""
    model = keras.saving.load_model(root / "exports" / "1" / "keras" / "model.keras")
    kinds = {type(layer) for layer in model._flatten_layers(include_self=False)}
    expected = {
        "gru": {keras.layers.GRU, keras.layers.GRUCell},
        "peephole": {PeepholeLSTM, PeepholeLSTMCell},
    }[cell]
    assert kinds & expected
    assert not kinds & {keras.layers.LSTM, keras.layers.LSTMCell}


@pytest.mark.parametrize("cell", CELLS)
def test_sentiment(cell, tmp_path):
    texts, labels = corpora.load("rotten_tomatoes", "train")
    data = write_labelled(tmp_path / "reviews.tsv", texts[:400], labels[:400])
    exports = run_recipe(
        "sentiment",
        data,
        tmp_path,
        cell,
        [
            "--vocabulary-size",
            "300",
            "--embedding-dim",
            "8",
            "--lstm-units",
            "8",
            "--epochs",
            "1",
            "--batch-size",
            "32",
        ],
    )
    out = serving.load(exports, "sentiment").signature(text=tf.constant(["Fine.", ""]))
    assert out["probabilities"].shape == (2, 2)
    assert_cell_used(tmp_path, cell)


@pytest.mark.parametrize("cell", CELLS)
def test_generation(cell, tmp_path):
    data = tmp_path / "plays.txt"
    data.write_text(corpora.load("shakespeare", "train")[:60_000])
    exports = run_recipe(
        "generation",
        data,
        tmp_path,
        cell,
        [
            "--embedding-dim",
            "8",
            "--lstm-units",
            "16",
            "--lstm-layers",
            "2",
            "--sequence-length",
            "32",
            "--batch-size",
            "16",
            "--epochs",
            "1",
            "--steps-per-epoch",
            "10",
        ],
    )
    out = serving.load(exports, "generation").signature(
        prompt=tf.constant(["ROMEO:", ""]),
        max_new_chars=tf.constant(20),
        temperature=tf.constant(0.8),
        top_k=tf.constant(0),
        top_p=tf.constant(1.0),
        seed=tf.constant(1, tf.int64),
    )
    texts = [t.decode("utf-8") for t in out["text"].numpy()]
    assert texts[0].startswith("ROMEO:") and len(texts[0]) > len("ROMEO:")
    assert_cell_used(tmp_path, cell)


@pytest.mark.parametrize("cell", CELLS)
def test_translation(cell, tmp_path):
    english, german = corpora.load("ding_en_de", "train")
    data = write_pairs(tmp_path / "pairs.tsv", english[:300], german[:300])
    exports = run_recipe(
        "translation",
        data,
        tmp_path,
        cell,
        [
            "--vocabulary-size",
            "300",
            "--embedding-dim",
            "8",
            "--encoder-units",
            "8",
            "--decoder-units",
            "16",
            "--decoder-layers",
            "2",
            "--epochs",
            "1",
            "--batch-size",
            "32",
            "--beam-size",
            "2",
        ],
    )
    translate = serving.load(exports, "translation").module.signatures["translate"]
    for beam in (1, 2):
        out = translate(
            source=tf.constant(["Where is it?", ""]),
            beam_size=tf.constant(beam),
            max_length=tf.constant(0),
        )
        assert out["translation"].shape == (2,)
    assert_cell_used(tmp_path, cell)


def test_unknown_cell_is_a_clear_error():
    with pytest.raises(NlpLstmError, match="unknown cell 'rnn'; choose one of lstm, gru, peephole"):
        check_cell("rnn")


def test_peephole_layers_are_what_the_models_build():
    from nlp_lstm.models.generation import build_char_language_model, recurrent_layers

    model = build_char_language_model(20, 4, 8, 2, cell="peephole")
    assert [type(layer) for layer in recurrent_layers(model)] == [PeepholeLSTM, PeepholeLSTM]
