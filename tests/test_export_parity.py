"""Each recipe's SavedModel computes what its Keras model computes: the same
probabilities, the same greedy text, the same greedy translations (float32 both)."""

import json

import numpy as np
import pytest
import tensorflow as tf

from nlp_lstm import runner, serving
from nlp_lstm.config import from_saved
from nlp_lstm.recipes.generation import recipe as generation
from nlp_lstm.recipes.sentiment import recipe as sentiment
from nlp_lstm.recipes.translation import recipe as translation
from nlp_lstm.tokenization import BOS_ID, EOS_ID, SentencePieceTokenizer
from nlp_lstm.tokenization.special_ids import NUM_SPECIAL

TEXTS = ["A warm, funny film.", "Dull and far too long.", "", "Where is the station?"]


def loaded(exports, recipe):
    """The Keras model (``runner.load_export``), its config, and the serving signature."""
    export = runner.load_export(recipe, exports / recipe.name / "1")
    config = from_saved(recipe.spec.CONFIG, export.metadata["config"])
    return export, config, serving.load(export.version, recipe.name)


def test_sentiment_export_gives_the_keras_models_probabilities(tiny_exports):
    export, config, served = loaded(tiny_exports, sentiment.RECIPE)
    ids = sentiment.make_tokenizer(export.asset, config)(tf.constant(TEXTS))
    expected = export.model(ids, training=False).numpy()
    got = served.signature(text=tf.constant(TEXTS))
    np.testing.assert_allclose(got["probabilities"].numpy(), expected, rtol=1e-5, atol=1e-6)
    labels = export.metadata["labels"]
    assert [label.decode() for label in got["label"].numpy()] == [
        labels[i] for i in expected.argmax(axis=1)
    ]


def test_generation_export_greedy_text_is_the_keras_models(tiny_exports):
    """Greedy continuation, recomputed by running the whole sequence through the Keras
    model at every step (the export carries LSTM states from step to step instead)."""
    export, _, served = loaded(tiny_exports, generation.RECIPE)
    tokenizer = generation.make_tokenizer(export.asset)
    prompts, new_chars = ["ROMEO:", "Tha"], 24
    for prompt in prompts:
        ids = [BOS_ID, *generation.encode(tokenizer, prompt)]
        for _ in range(new_chars):
            logits = export.model(np.array([ids]), training=False)[0, -1].numpy()
            ids.append(NUM_SPECIAL + int(np.argmax(logits[NUM_SPECIAL:])))
        continuation = tokenizer.detokenize(tf.constant([ids[-new_chars:]]))[0].numpy()
        expected = prompt.encode() + continuation
        got = served.signature(
            prompt=tf.constant([prompt]),
            max_new_chars=tf.constant(new_chars),
            temperature=tf.constant(0.0),
            top_k=tf.constant(0),
            top_p=tf.constant(1.0),
            seed=tf.constant(1, tf.int64),
        )["text"][0].numpy()
        assert got == expected


def test_translation_export_greedy_translations_are_the_keras_models(tiny_exports):
    """Greedy search, recomputed by feeding the Keras model its own output prefix at every
    step (the export steps the decoder with carried states)."""
    export, config, served = loaded(tiny_exports, translation.RECIPE)
    tokenizer = SentencePieceTokenizer(export.asset)
    decoding = json.loads((export.version / "nlp_lstm.json").read_text())["decoding"]
    for source in TEXTS:
        source_ids = [*tokenizer.tokenize(tf.constant([source]))[0].numpy(), EOS_ID]
        limit = int(np.ceil(decoding["max_length_ratio"] * len(source_ids)))
        limit += decoding["max_length_offset"]
        target = [BOS_ID]
        while len(target) <= limit and target[-1] != EOS_ID:
            logits = export.model((np.array([source_ids]), np.array([target])), training=False)[
                0, -1
            ]
            target.append(int(np.argmax(logits)))
        expected = tokenizer.detokenize(tf.constant([target[1:]]))[0].numpy()
        got = served.module.signatures["translate"](
            source=tf.constant([source]), beam_size=tf.constant(1), max_length=tf.constant(0)
        )["translation"][0].numpy()
        assert got == expected, source


@pytest.mark.parametrize("recipe", [sentiment.RECIPE, generation.RECIPE, translation.RECIPE])
def test_the_export_keeps_the_asset_the_run_made(tiny_exports, recipe):
    run = tiny_exports.parent / "runs" / recipe.name
    version = tiny_exports / recipe.name / "1"
    assert (version / "assets" / recipe.asset).read_bytes() == (run / recipe.asset).read_bytes()
