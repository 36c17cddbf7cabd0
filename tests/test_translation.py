"""The translation recipe end to end, with a tiny model on a slice of the Ding pairs."""

import argparse
import json
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf
from helpers import train, write_pairs
from hypothesis import given
from hypothesis import strategies as st
from strategies import batches, signature_examples

from nlp_lstm import cli, corpora, demo, metrics, recipes, runner
from nlp_lstm import config as config_lib
from nlp_lstm.data.sources import parallel_splits
from nlp_lstm.losses import MaskedSequenceCrossEntropy
from nlp_lstm.models.translation import Translator
from nlp_lstm.recipes.translation import recipe as translation

TINY = [
    "--vocabulary-size",
    "500",
    "--embedding-dim",
    "32",
    "--encoder-units",
    "32",
    "--decoder-units",
    "48",
    "--epochs",
    "2",
    "--batch-size",
    "32",
    "--beam-size",
    "3",
    "--learning-rate",
    "0.01",
]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("translation")
    english, german = corpora.load("ding_en_de", "train")
    data = write_pairs(root / "pairs.tsv", english[:800], german[:800])
    # Tied embeddings and input feeding, as in the full preset (``tiny_exports`` and
    # ``test_dictionary_pairs_...`` train untied, without input feeding).
    code = train(
        "translation",
        "--data",
        str(data),
        "--run-dir",
        str(root / "run"),
        "--export-dir",
        str(root / "exports"),
        *TINY,
        "--target",
        "de",
        "--decoder-units",
        "32",
        "--tied-embeddings",
        "true",
        "--input-feeding",
        "true",
        "--steps-per-epoch",
        "15",  # of the 20 in a pass
    )
    assert code == 0
    return root


def test_train_writes_run_directory_metrics_and_export(trained):
    run = trained / "run"
    report = json.loads((run / "metrics.json").read_text())
    rows = [
        line.split("\t") for line in (run / "translations_test.tsv").read_text().splitlines()[1:]
    ]
    references = [row[3:] for row in rows]
    assert len({row[0] for row in rows}) == len(rows) and all(references)
    for column, (search, beam) in enumerate((("greedy", 1), ("beam", 3)), 1):
        scores = report["test"][search]
        assert scores["beam_size"] == beam and scores["sentences"] == len(rows)
        # the report scores each distinct source against all of its references
        again = metrics.translation_scores([row[column] for row in rows], references)
        assert scores["bleu"] == pytest.approx(again["bleu"])
        assert scores["chrf"] == pytest.approx(again["chrf"])
        assert "tok:13a" in scores["bleu_signature"]
    assert "greedy" in report["validation"]
    assert (report["steps_per_epoch"], report["training_steps"]) == (15, 30)
    for name in (
        "config.json",
        "history.csv",
        "model.keras",
        "plots/training_curves.png",
        "plots/attention_1.png",
    ):
        assert (run / name).exists(), name
    metadata = json.loads((trained / "exports" / "1" / "nlp_lstm.json").read_text())
    assert metadata["task"] == "translation" and metadata["config"]["tied_embeddings"]
    assert metadata["languages"] == {"source": "en", "target": "de"}
    assert metadata["decoding"]["beam_size"] == 3
    assert metadata["metrics"]["test"]["beam"]["bleu"] == report["test"]["beam"]["bleu"]


def test_training_loss_falls(trained):
    rows = (trained / "run" / "history.csv").read_text().splitlines()[1:]
    losses = [float(row.split(",")[1]) for row in rows]
    assert len(losses) == 2 and losses[-1] < losses[0] - 0.1


CONSUMER = """
import json, sys
import tensorflow as tf
import tensorflow_text
assert not [m for m in sys.modules if m.startswith("nlp_lstm")]
module = tf.saved_model.load(sys.argv[1])
sources = tf.constant(json.loads(sys.argv[2]))
default = module.signatures["serving_default"](source=sources)
out = {"default": [t.decode() for t in default["translation"].numpy()],
       "score": default["score"].numpy().tolist()}
for beam in (1, 3):
    for limit in (0, 3):
        r = module.signatures["translate"](source=sources, beam_size=tf.constant(beam),
                                           max_length=tf.constant(limit))
        out[f"{beam}-{limit}"] = {k: list(v.shape) for k, v in r.items()}
nothing = tf.constant([], tf.string)
out["empty"] = {k: list(v.shape) for k, v in module.signatures["translate"](
    source=nothing, beam_size=tf.constant(3), max_length=tf.constant(0)).items()}
out["empty_default"] = module.signatures["serving_default"](source=nothing)["score"].shape[0]
print(json.dumps(out))
"""


def test_export_translates_a_batch_without_this_package(trained):
    sources = ["Where is the station?", "", "word " * 3000, "Ünïcödé ☃ \\x00 text", "I see."]
    result = subprocess.run(
        [sys.executable, "-c", CONSUMER, str(trained / "exports" / "1"), json.dumps(sources)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert len(out["default"]) == 5 and len(out["score"]) == 5
    assert all(s <= 0.0 for s in out["score"])  # length-normalised log-probabilities
    for beam in (1, 3):
        full, capped = out[f"{beam}-0"], out[f"{beam}-3"]
        assert full["translation"] == [5] and full["score"] == [5]
        # truncated sources (128 pieces) bound the attention; max_length caps the output
        batch, steps, width = full["attention"]
        assert batch == 5 and width == full["source_pieces"][1] <= 128
        assert steps == full["target_pieces"][1] <= 128 * 1.5 + 10
        assert capped["target_pieces"][1] <= 3
    assert out["empty_default"] == 0 and out["empty"]["translation"] == [0]  # an empty batch
    assert out["empty"]["attention"][0] == out["empty"]["source_pieces"][0] == 0


SAVED_MODEL_CLI = (
    "import sys, tensorflow_text; from tensorflow.python.tools.saved_model_cli "
    "import main; sys.argv[0] = 'saved_model_cli'; main()"
)


@pytest.mark.parametrize(
    "signature, inputs",
    [
        ("serving_default", "source=['Where is the station?', 'I see.']"),
        ("translate", "source=['Where is the station?'];beam_size=2;max_length=5"),
    ],
)
def test_saved_model_cli_runs_both_signatures(trained, signature, inputs):
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            SAVED_MODEL_CLI,
            "run",
            "--dir",
            str(trained / "exports" / "1"),
            "--tag_set",
            "serve",
            "--signature_def",
            signature,
            "--input_exprs",
            inputs,
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Result for output key translation:" in result.stdout
    assert "Result for output key score:" in result.stdout


def test_translate_cli_reads_a_file_and_plots_attention(trained, tmp_path, capsys):
    inputs = tmp_path / "english.txt"
    inputs.write_text("Where is the station?\nI see.\n")
    plot = tmp_path / "attention.png"
    assert (
        cli.main(
            [
                "translate",
                "--model",
                str(trained / "exports"),
                "--input",
                str(inputs),
                "--beam-size",
                "2",
                "--format",
                "jsonl",
                "--plot-attention",
                str(plot),
            ]
        )
        == 0
    )
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["source"] for r in rows] == ["Where is the station?", "I see."]
    assert all(isinstance(r["translation"], str) and r["score"] <= 0 for r in rows)
    assert plot.stat().st_size > 1000


def test_evaluate_scores_an_export(trained, capsys):
    assert (
        runner.main(
            "translation",
            [
                "evaluate",
                "--model",
                str(trained / "exports" / "1"),
                "--data",
                str(trained / "pairs.tsv"),
                "--split",
                "test",
            ],
        )
        == 0
    )
    out = capsys.readouterr().out
    report = json.loads(out[out.index("{") :])
    saved = json.loads((trained / "run" / "metrics.json").read_text())["test"]
    for search in ("greedy", "beam"):  # the export scores as the Keras model did
        assert report[search]["bleu"] == pytest.approx(saved[search]["bleu"], abs=0.5)


def test_finetune_lowers_the_loss_on_new_pairs(trained, tmp_path):
    english, german = corpora.load("ding_en_de", "train")
    data = write_pairs(tmp_path / "new.tsv", english[5000:5400], german[5000:5400])
    code = runner.main(
        "translation",
        [
            "finetune",
            "--from",
            str(trained / "exports"),
            "--data",
            str(data),
            "--run-dir",
            str(tmp_path / "run"),
            "--export-dir",
            str(trained / "exports"),
            "--epochs",
            "2",
            "--learning-rate",
            "0.005",
        ],
    )
    assert code == 0
    report = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert report["validation_loss"] < report["validation_loss_before"] - 0.05
    assert report["steps_per_epoch"] < 15  # a pass over ~320 pairs, not the export's 15 steps
    metadata = json.loads((trained / "exports" / "2" / "nlp_lstm.json").read_text())
    assert "fine-tuned from" in metadata["corpus"]
    tokenizer = (trained / "exports" / "1" / "assets" / "sentencepiece.model").read_bytes()
    assert (trained / "exports" / "2" / "assets" / "sentencepiece.model").read_bytes() == tokenizer


def test_bundled_corpus_in_either_direction():
    forward, _ = parallel_splits(None, None, "ding_en_de", 1, "en", "de")
    backward, description = parallel_splits(None, None, "ding_en_de", 1, "de", "en")
    assert backward["test"].sources == forward["test"].targets
    assert backward["test"].targets == forward["test"].sources
    assert "de -> en" in description


@pytest.mark.parametrize(
    "corpus, source, target, expected",
    [
        ("tatoeba_en_es", None, None, ("en", "es")),
        ("tatoeba_en_es", "es", None, ("es", "en")),
        ("tatoeba_en_es", None, "en", ("es", "en")),
        ("ding_en_de", None, None, ("en", "de")),
        ("ding_en_de", "de", None, ("de", "en")),
        (None, None, "fr", ("en", "fr")),
    ],
)
def test_languages_default_to_the_corpus(corpus, source, target, expected):
    overrides = translation.language_overrides(
        argparse.Namespace(source=source, target=target, overrides=[]), corpus
    )
    assert overrides == [f"source_language={expected[0]}", f"target_language={expected[1]}"]


@pytest.mark.parametrize(
    "flags, expected",
    [(["--source-language", "es"], ("es", "en")), (["--target-language", "en"], ("es", "en"))],
)
def test_the_language_fields_as_overrides_choose_the_direction_like_source_and_target(
    flags, expected
):
    parser = runner.build_parser(recipes.config_module("translation"), script=True)[0]
    config = translation.RECIPE.resolve_config(runner.parse(parser, ["train", *flags]))
    assert (config.source_language, config.target_language) == expected


def test_each_bundled_corpus_has_presets_that_fit_it():
    for corpus in ("tatoeba_en_es", "ding_en_de"):
        quick, full = (
            config_lib.resolve(
                translation.TranslationConfig, translation.PRESETS[corpus], preset, []
            )
            for preset in ("quick", "full")
        )
        assert full.epochs * full.decoder_units > quick.epochs * quick.decoder_units
    assert translation.PRESETS["tatoeba_en_es"] != translation.PRESETS["ding_en_de"]


def test_demo_sentences_are_new_to_the_corpus():
    english = {en for split in corpora.SPLITS for en in corpora.load("tatoeba_en_es", split)[0]}
    assert len(demo.ENGLISH) >= 5 and not english & set(demo.ENGLISH)


def test_dictionary_pairs_join_the_training_sentences_in_either_direction():
    train, _ = parallel_splits(None, None, "ding_en_de", 1, "de", "en")
    config = translation.TranslationConfig(
        source_language="de", target_language="en", dictionary_pairs=50
    )
    extended = translation.with_dictionary(train["train"], config)
    assert extended.sources[: len(train["train"].sources)] == train["train"].sources
    english, german = corpora.load_dictionary()
    pairs = set(zip(german, english))
    added = list(zip(extended.sources, extended.targets))[len(train["train"].sources) :]
    assert len(added) == 50 and set(added) <= pairs
    assert translation.with_dictionary(train["train"], config).sources == extended.sources


def test_dictionary_pairs_apply_to_the_bundled_corpus_only(tmp_path, capsys):
    english, german = corpora.load("ding_en_de", "train")
    data = write_pairs(tmp_path / "pairs.tsv", english[:100], german[:100])
    assert (
        train(
            "translation",
            "--data",
            str(data),
            "--run-dir",
            str(tmp_path / "run"),
            "--export-dir",
            str(tmp_path / "exports"),
            "--dictionary-pairs",
            "10",
            *TINY,
            "--epochs",
            "1",
        )
        == 0
    )
    assert "training on file" in capsys.readouterr().out
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert saved["config"]["dictionary_pairs"] == 0


def test_padding_does_not_change_the_translation_model():
    """Masks: extra source padding leaves the logits as they were."""
    keras.utils.set_random_seed(0)
    model = Translator(30, 8, 8, 1, 16, 1)
    source = tf.constant([[5, 6, 7, 3], [8, 9, 3, 0]])
    target = tf.constant([[2, 5, 6], [2, 7, 0]])
    padded = tf.pad(source, [[0, 0], [0, 4]])
    np.testing.assert_allclose(model((source, target)), model((padded, target)), atol=1e-5)


@pytest.mark.parametrize("tied", [False, True])
def test_only_real_target_positions_are_scored(tied):
    """Real positions get the vocabulary scores of their attentional vectors, padding
    positions zero, and the loss and its gradients are those of scoring every position."""
    keras.utils.set_random_seed(0)
    model = Translator(30, 16, 8, 1, 16, 1, dropout=0.0, tied_embeddings=tied)
    source = tf.constant([[5, 6, 7, 3], [8, 9, 3, 0]])
    target_in = tf.constant([[2, 5, 6, 9], [2, 7, 0, 0]])
    target_out = tf.constant([[5, 6, 9, 3], [7, 3, 0, 0]])
    loss = MaskedSequenceCrossEntropy(0.1)
    with tf.GradientTape(persistent=True) as tape:
        logits = model((source, target_in))
        memory, mask = model.encode(source)
        attentional = model.decoder(model.embedding(target_in), memory, mask)
        every_position = model.vocabulary_scorer()(attentional)
        compact, full = loss(target_out, logits), loss(target_out, every_position)
    real = (target_in.numpy() != 0)[..., None]
    np.testing.assert_allclose(logits, np.where(real, every_position, 0.0), atol=1e-6)
    np.testing.assert_allclose(compact, full, rtol=1e-6)
    variables = model.trainable_variables
    for ours, reference in zip(tape.gradient(compact, variables), tape.gradient(full, variables)):
        np.testing.assert_allclose(
            tf.convert_to_tensor(ours), tf.convert_to_tensor(reference), atol=1e-6
        )


def test_models_saved_before_scaled_attention_keep_their_scores():
    model = Translator(30, 8, 8, 1, 16, 1)
    config = model.get_config()
    assert Translator.from_config(config).decoder.scaled_scores
    del config["scaled_attention"]  # as written before the option existed
    assert not Translator.from_config(config).decoder.scaled_scores


def test_runs_saved_before_input_feeding_was_optional_keep_it():
    model = Translator(30, 8, 8, 1, 16, 1)
    config = model.get_config()
    del config["input_feeding"]  # as written before the option existed
    assert Translator.from_config(config).decoder.input_feeding
    saved = json.loads(config_lib.to_json(translation.TranslationConfig()))
    assert not translation.TranslationConfig().input_feeding  # the quick preset's
    del saved["input_feeding"]
    assert config_lib.from_saved(translation.TranslationConfig, saved).input_feeding


def test_runs_saved_before_the_warm_up_existed_resume_without_one():
    saved = json.loads(config_lib.to_json(translation.TranslationConfig()))
    assert saved["warmup_steps"] == 200  # the quick preset's
    del saved["warmup_steps"]
    assert config_lib.from_saved(translation.TranslationConfig, saved).warmup_steps == 0


def test_tied_embeddings_score_with_the_embedding_matrix(tmp_path):
    keras.utils.set_random_seed(0)
    model = Translator(30, 16, 8, 1, 16, 1, tied_embeddings=True)
    model.build()
    untied = Translator(30, 16, 8, 1, 16, 1)
    untied.build()
    assert untied.count_params() - model.count_params() == 30 * 16  # the output matrix
    model.output_bias.assign(np.linspace(-1.0, 1.0, 30))
    vectors = tf.random.stateless_normal([2, 3, 16], seed=[3, 4])
    expected = vectors.numpy() @ model.embedding.matrix.T + model.output_bias.numpy()
    np.testing.assert_allclose(model.vocabulary_scorer()(vectors), expected, rtol=1e-5, atol=1e-5)
    source, target = tf.constant([[5, 6, 7, 3]]), tf.constant([[2, 5, 6]])
    with tf.GradientTape() as tape:
        logits = model((source, target))[0, -1, 9]  # token 9 is in neither input
    gradient = tape.gradient(logits, model.embedding.table)
    assert np.abs(tf.convert_to_tensor(gradient).numpy()[9]).sum() > 0.0
    model.save(tmp_path / "tied.keras")
    reloaded = keras.saving.load_model(tmp_path / "tied.keras")
    np.testing.assert_allclose(reloaded((source, target)), model((source, target)), atol=1e-6)
    with pytest.raises(ValueError, match="decoder_units .16. equal to embedding_dim .8."):
        Translator(30, 8, 8, 1, 16, 1, tied_embeddings=True)


def test_tied_logits_train_without_broadcasting_the_table_over_batch_and_time():
    """No tensor of the gradient outgrows the logits (an einsum over "..." built one of
    batch x time x vocabulary x width: 6 GB and 13 s a step for the full preset)."""
    model = Translator(30, 16, 8, 1, 16, 1, tied_embeddings=True)
    model.build()

    @tf.function(input_signature=[tf.TensorSpec([4, 5, 16])])
    def gradient(vectors):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(model.vocabulary_scorer()(vectors))
        return tape.gradient(loss, model.embedding.table)

    graph = gradient.get_concrete_function().graph
    sizes = [t.shape.num_elements() for op in graph.get_operations() for t in op.outputs]
    assert None not in sizes and max(sizes) == 4 * 5 * 30


def test_full_preset_ties_embeddings_and_names_the_fix_for_a_wider_decoder(tmp_path, capsys):
    config = config_lib.resolve(
        translation.TranslationConfig, translation.PRESETS["ding_en_de"], "full", []
    )
    assert config.tied_embeddings and config.decoder_units == config.embedding_dim
    assert (
        train(
            "translation",
            "--preset",
            "full",
            "--dataset",
            "ding_en_de",
            "--decoder-units",
            "512",
            "--run-dir",
            str(tmp_path / "run"),
        )
        == 2
    )
    assert (
        "tied_embeddings needs decoder_units (512) equal to embedding_dim (256); change one, "
        "or pass --tied-embeddings false"
    ) in capsys.readouterr().err


def test_word_dropout_reaches_the_shared_embedding_and_survives_a_save(tmp_path):
    model = Translator(30, 8, 8, 1, 16, 1, word_dropout=0.2)
    model.build()
    assert model.embedding.word_dropout_rate == 0.2
    model.save(tmp_path / "model.keras")
    assert keras.saving.load_model(tmp_path / "model.keras").embedding.word_dropout_rate == 0.2


def test_learning_rate_warms_up_then_decays_to_a_tenth():
    config = translation.TranslationConfig(learning_rate=8e-3, warmup_steps=100)
    schedule = translation.learning_rate_schedule(config, steps=1000)
    rates = [float(schedule(step)) for step in (0, 50, 100, 1000, 5000)]
    np.testing.assert_allclose(rates, [0.0, 4e-3, 8e-3, 8e-4, 8e-4], rtol=1e-5, atol=1e-9)
    # A run shorter than twice the warm-up (fine-tuning a few steps) warms up for half of it.
    short = translation.learning_rate_schedule(config, steps=40)
    np.testing.assert_allclose(float(short(20)), 8e-3, rtol=1e-5)
    assert float(translation.learning_rate_schedule(config, steps=1)(0)) == pytest.approx(8e-3)


def test_loss_ignores_padding_and_smooths_labels():
    logits = tf.random.stateless_normal([2, 4, 10], seed=[1, 2])
    truth = tf.constant([[5, 6, 7, 0], [8, 0, 0, 0]])
    plain = MaskedSequenceCrossEntropy(0.0)(truth, logits)
    real = tf.constant([[True, True, True, False], [True, False, False, False]])
    expected = tf.reduce_mean(
        tf.boolean_mask(tf.nn.sparse_softmax_cross_entropy_with_logits(truth, logits), real)
    )
    np.testing.assert_allclose(plain, expected, rtol=1e-5)
    changed = tf.where(real[..., None], logits, 100.0 * tf.ones_like(logits))
    np.testing.assert_allclose(MaskedSequenceCrossEntropy(0.0)(truth, changed), plain, rtol=1e-5)
    # Smoothing 0.1: 0.9 of the true token's loss plus 0.1 of the mean over the vocabulary.
    log_probs = tf.nn.log_softmax(logits)
    smoothed = 0.9 * tf.nn.sparse_softmax_cross_entropy_with_logits(truth, logits) + 0.1 * (
        -tf.reduce_mean(log_probs, -1)
    )
    np.testing.assert_allclose(
        MaskedSequenceCrossEntropy(0.1)(truth, logits),
        tf.reduce_mean(tf.boolean_mask(smoothed, real)),
        rtol=1e-5,
    )


@pytest.fixture(scope="module")
def signatures(trained):
    return tf.saved_model.load(str(trained / "exports" / "1")).signatures


@signature_examples
@given(sources=batches, beam_size=st.integers(0, 4), max_length=st.integers(0, 30))
def test_any_sources_get_bounded_translations(signatures, sources, beam_size, max_length):
    batch = len(sources)
    default = signatures["serving_default"](source=tf.constant(sources, tf.string))
    assert default["translation"].shape == default["score"].shape == (batch,)
    assert np.all(default["score"].numpy() <= 0.0)
    out = signatures["translate"](
        source=tf.constant(sources, tf.string),
        beam_size=tf.constant(beam_size),
        max_length=tf.constant(max_length),
    )
    assert out["translation"].shape == out["score"].shape == (batch,)
    assert np.all(out["score"].numpy() <= 0.0)
    steps = out["target_pieces"].shape[1]
    assert steps <= (max_length or 128 * 1.5 + 10)
    assert out["attention"].shape[:2] == (batch, steps)
    assert out["attention"].shape[2] == out["source_pieces"].shape[1] <= 128
