"""The sentiment recipe end to end, with a tiny model on slices of the bundled corpora."""

import json
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf
from helpers import train, write_labelled
from hypothesis import given
from strategies import batches, signature_examples

from nlp_lstm import cli, corpora, runner
from nlp_lstm.data import LabelledExamples, read_labelled
from nlp_lstm.embedding import read_word2vec_text
from nlp_lstm.layers import MaskedMaxMeanPooling
from nlp_lstm.models.sentiment import build_sentiment_classifier
from nlp_lstm.precision import set_model_policy
from nlp_lstm.recipes.sentiment import recipe as sentiment
from nlp_lstm.tokenization import EOS_ID, SentencePieceTokenizer, train_sentencepiece
from nlp_lstm.training import RunDirectory, TrainingSession, logged_history

TINY = [
    "--vocabulary-size",
    "400",
    "--embedding-dim",
    "16",
    "--lstm-units",
    "8",
    "--sequence-length",
    "48",
    "--epochs",
    "4",
    "--patience",
    "4",
    "--batch-size",
    "32",
    "--learning-rate",
    "0.01",
]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("sentiment")
    texts, labels = corpora.load("rotten_tomatoes", "train")
    data = write_labelled(root / "reviews.tsv", texts[:1500], labels[:1500])
    code = train(
        "sentiment",
        "--data",
        str(data),
        "--run-dir",
        str(root / "run"),
        "--export-dir",
        str(root / "exports"),
        *TINY,
        "--adversarial-epsilon",
        "0.02",
    )  # adversarial, as the full preset
    assert code == 0
    return root


def test_train_writes_run_directory_and_versioned_export(trained):
    run = trained / "run"
    report = json.loads((run / "metrics.json").read_text())
    assert set(report) >= {"train", "validation", "test"}
    test = report["test"]
    confusion = np.array(test["confusion_matrix"])
    assert confusion.sum() == test["examples"] == 150  # the 10 % test split of 1,500 rows
    assert test["accuracy"] == pytest.approx(np.trace(confusion) / confusion.sum())
    for name in (
        "config.json",
        "history.csv",
        "model.keras",
        "plots/training_curves.png",
        "plots/confusion_matrix_test.png",
        "checkpoints/best.weights.h5",
    ):
        assert (run / name).exists(), name
    export = trained / "exports" / "1"
    metadata = json.loads((export / "nlp_lstm.json").read_text())
    assert metadata["task"] == "sentiment" and metadata["labels"] == ["negative", "positive"]
    assert metadata["metrics"]["test"]["accuracy"] == report["test"]["accuracy"]
    assert (export / "assets" / "sentencepiece.model").exists()
    assert not [p for p in (trained / "exports").iterdir() if p.name.startswith(".")]


def test_training_loss_falls(trained):
    rows = (trained / "run" / "history.csv").read_text().splitlines()[1:]
    losses = [float(row.split(",")[2]) for row in rows]
    assert len(losses) == 4 and losses[-1] < losses[0] - 0.05


def test_learning_rate_anneals_to_zero_over_the_run(trained):
    report = json.loads((trained / "run" / "metrics.json").read_text())
    optimizer = keras.saving.load_model(trained / "run" / "model.keras").optimizer
    schedule = optimizer.get_config()["learning_rate"]
    assert schedule["class_name"] == "CosineDecay"
    assert schedule["config"]["initial_learning_rate"] == pytest.approx(0.01)
    assert schedule["config"]["alpha"] == 0.0
    assert schedule["config"]["decay_steps"] == 4 * report["steps_per_epoch"]
    assert report["training_steps"] == 4 * report["steps_per_epoch"]  # ran the whole schedule


CONSUMER = """
import json, sys
import tensorflow as tf
import tensorflow_text
assert not [m for m in sys.modules if m.startswith("nlp_lstm")]
serve = tf.saved_model.load(sys.argv[1]).signatures["serving_default"]
out = serve(text=tf.constant(json.loads(sys.argv[2])))
print(json.dumps({"label": [x.decode() for x in out["label"].numpy()],
                  "label_id": out["label_id"].numpy().tolist(),
                  "probabilities": out["probabilities"].numpy().tolist()}))
"""


def test_export_serves_raw_strings_without_this_package(trained):
    texts = ["A gorgeous, moving film.", "", "dull " * 5000, "Ünïcödé ☃ \x00 text"]
    result = subprocess.run(
        [sys.executable, "-c", CONSUMER, str(trained / "exports" / "1"), json.dumps(texts)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert len(out["label"]) == 4 and set(out["label"]) <= {"negative", "positive"}
    assert [["negative", "positive"][i] for i in out["label_id"]] == out["label"]
    np.testing.assert_allclose(np.sum(out["probabilities"], axis=1), 1.0, rtol=1e-5)


# TensorFlow's own saved_model_cli, with the tensorflow_text ops registered first.
SAVED_MODEL_CLI = (
    "import sys, tensorflow_text; from tensorflow.python.tools.saved_model_cli "
    "import main; sys.argv[0] = 'saved_model_cli'; main()"
)


def test_saved_model_cli_runs_the_signature(trained):
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
            "serving_default",
            "--input_exprs",
            "text=['A gorgeous film.', 'Awful.']",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Result for output key label:" in result.stdout
    assert "Result for output key probabilities:" in result.stdout


def test_predict_cli_reads_a_file_and_picks_the_newest_version(trained, tmp_path, capsys):
    inputs = tmp_path / "texts.txt"
    inputs.write_text("A gorgeous film.\nAwful.\n")
    assert (
        cli.main(
            [
                "predict",
                "--model",
                str(trained / "exports"),
                "--input",
                str(inputs),
                "--format",
                "jsonl",
            ]
        )
        == 0
    )
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["text"] for r in rows] == ["A gorgeous film.", "Awful."]
    assert all(abs(r["p_negative"] + r["p_positive"] - 1) < 1e-3 for r in rows)


def test_finetune_with_a_new_head_learns_a_new_domain(trained, tmp_path):
    """New domain and labels: is a Ding sentence English or German? Starts at chance."""
    english, german = corpora.load("ding_en_de", "train")
    texts = [s for pair in zip(english[:300], german[:300]) for s in pair]
    labels = ["english", "german"] * 300
    data = write_labelled(tmp_path / "languages.tsv", texts, labels)
    common = [
        "--data",
        str(data),
        "--run-dir",
        str(tmp_path / "run"),
        "--export-dir",
        str(tmp_path / "exports"),
        "--epochs",
        "6",
    ]
    assert runner.main("sentiment", ["finetune", "--from", str(trained / "exports"), *common]) == 2
    assert (
        runner.main(
            "sentiment", ["finetune", "--from", str(trained / "exports"), "--new-head", *common]
        )
        == 0
    )
    report = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert report["test"]["accuracy"] > 0.8
    metadata = json.loads((tmp_path / "exports" / "1" / "nlp_lstm.json").read_text())
    assert metadata["labels"] == ["english", "german"]


def test_finetune_keeps_labels_when_names_match(trained, tmp_path):
    """Fine-tuning continues from the export's weights: it never pretrains (a reviews
    file in the config, as in a full-preset export's, is not read)."""
    texts, labels = corpora.load("rotten_tomatoes", "validation")
    data = write_labelled(tmp_path / "more.tsv", texts[:400], labels[:400])
    assert (
        runner.main(
            "sentiment",
            [
                "finetune",
                "--from",
                str(trained / "exports" / "1"),
                "--data",
                str(data),
                "--run-dir",
                str(tmp_path / "run"),
                "--export-dir",
                str(tmp_path / "exports"),
                "--epochs",
                "1",
                "--pretrain-reviews",
                str(tmp_path / "nowhere.tsv"),
            ],
        )
        == 0
    )
    assert not (tmp_path / "run" / "pretraining").exists()
    before = json.loads((trained / "exports" / "1" / "nlp_lstm.json").read_text())
    after = json.loads((tmp_path / "exports" / "1" / "nlp_lstm.json").read_text())
    assert after["labels"] == before["labels"]
    assert after["config"]["vocabulary_size"] == before["config"]["vocabulary_size"]


def test_training_starts_from_pretrained_vectors(tmp_path):
    """With a learning rate of 1e-12 the export holds the GloVe rows it started from."""
    texts, labels = corpora.load("rotten_tomatoes", "train")
    data = write_labelled(tmp_path / "reviews.tsv", texts[:600], labels[:600])
    assert (
        train(
            "sentiment",
            "--data",
            str(data),
            "--run-dir",
            str(tmp_path / "run"),
            "--export-dir",
            str(tmp_path / "exports"),
            *TINY,
            "--epochs",
            "1",
            "--learning-rate",
            "1e-12",
            "--embedding-dim",
            "100",
            "--pretrained-vectors",
            "glove_100d",
        )
        == 0
    )
    model = keras.saving.load_model(tmp_path / "run" / "model.keras")
    matrix = model.get_layer("token_embedding").matrix
    pieces = SentencePieceTokenizer(
        (tmp_path / "run" / "sentencepiece.model").read_bytes()
    ).pieces()
    words, vectors = read_word2vec_text(corpora.word_vectors("glove_100d"))
    row = {w: i for i, w in enumerate(words)}
    shared = [(i, row[p[1:]]) for i, p in enumerate(pieces) if p[1:] in row and p[0] == "\u2581"]
    assert len(shared) > 100
    np.testing.assert_allclose(
        matrix[[i for i, _ in shared]], vectors[[j for _, j in shared]], atol=1e-9
    )


@pytest.mark.parametrize(
    "argv, message",
    [
        (["train", "--data", "missing.tsv"], "missing.tsv: no such file"),
        (["train", "--lstm-unitz", "3"], "unknown config field 'lstm_unitz'"),
        (["train", "--epochs", "many"], "config field 'epochs' expects int"),
        (["train", "--dataset", "shakespeare"], "is for generation, not sentiment"),
        (["evaluate", "--model", "nowhere"], "nowhere: no such export directory"),
        (["train", "--pretrained-vectors", "nowhere.vec"], "nowhere.vec: no such file"),
        (
            ["train", "--adversarial-epsilon", "-1"],
            "config field 'adversarial_epsilon' (--adversarial-epsilon) is -1.0; "
            "it must be at least 0",
        ),
        (["train", "--pretrain-reviews", "nowhere.tsv"], "nowhere.tsv: no such file"),
        (
            ["train", "--pretrain-reviews", "imdb_reviews", "--pretrain-epochs", "0"],
            "config field 'pretrain_epochs' (--pretrain-epochs) is 0; it must be at least 1",
        ),
    ],
)
def test_bad_input_is_one_clear_message(argv, message, capsys, tmp_path):
    assert (
        runner.main(
            "sentiment", argv + ["--run-dir", str(tmp_path / "r")] if argv[0] == "train" else argv
        )
        == 2
    )
    assert message in capsys.readouterr().err


def test_pretraining_reads_the_end_of_each_review():
    reviews = LabelledExamples(["one two  three four", "five"], ["positive", "negative"])
    assert sentiment.review_endings(reviews, words=2).texts == ["three four", "five"]
    texts, _ = corpora.load("rotten_tomatoes", "train")
    config = sentiment.SentimentConfig(sequence_length=6)
    tokenizer = sentiment.make_tokenizer(train_sentencepiece(texts[:2000], 300), config)
    text = "a long , slow and utterly charmless film"
    pieces = tokenizer.tokenize(text).numpy()
    batches = {
        keep_end: next(
            iter(
                sentiment.make_dataset(
                    LabelledExamples([text], ["negative"]),
                    ["negative"],
                    tokenizer,
                    config,
                    False,
                    "r",
                    keep_end=keep_end,
                )
            )
        )[0].numpy()[0]
        for keep_end in (False, True)
    }
    assert list(batches[False]) == [*pieces[:5], EOS_ID]
    assert list(batches[True]) == [*pieces[-5:], EOS_ID]


def test_reviews_labelled_unlike_the_data_stop_before_training(tmp_path, capsys):
    texts, labels = corpora.load("rotten_tomatoes", "train")
    data = write_labelled(tmp_path / "snippets.tsv", texts[:300], labels[:300])
    stars = write_labelled(tmp_path / "stars.tsv", ["Great fun.", "A bore."], ["5", "1"])
    assert (
        train(
            "sentiment",
            "--data",
            str(data),
            "--run-dir",
            str(tmp_path / "run"),
            *TINY,
            "--pretrain-reviews",
            str(stars),
        )
        == 2
    )
    captured = capsys.readouterr()
    assert (
        f"{stars}: the pretraining reviews are labelled ['1', '5'], the training data "
        "['negative', 'positive']; pass --pretrain-reviews '' to train without them" in captured.err
    )
    assert "SentencePiece" not in captured.out


def test_a_pretraining_checkpoint_of_other_settings_is_not_resumed(tmp_path, capsys):
    """Its tokenizer would be reused by a run that never checks the stage's settings."""
    texts, labels = corpora.load("rotten_tomatoes", "train")
    data = write_labelled(tmp_path / "snippets.tsv", texts[:300], labels[:300])
    (tmp_path / "run" / "pretraining" / "backup").mkdir(parents=True)
    (tmp_path / "run" / "pretraining" / "backup" / "position.json").write_text("{}")
    assert train("sentiment", "--data", str(data), "--run-dir", str(tmp_path / "run"), *TINY) == 2
    assert "holds a pretraining checkpoint of a run with other settings" in capsys.readouterr().err


def test_pretraining_on_reviews_teaches_the_classifier_and_a_resume_only_reloads_it(
    tmp_path, capsys
):
    imdb = read_labelled(corpora.reviews("imdb_reviews"))
    path = write_labelled(tmp_path / "imdb.tsv", imdb.texts[:3000], imdb.labels[:3000])
    config = sentiment.SentimentConfig(
        vocabulary_size=400,
        embedding_dim=16,
        lstm_units=8,
        sequence_length=48,
        batch_size=32,
        learning_rate=0.01,
        pretrain_reviews=str(path),
        pretrain_epochs=3,
    )
    texts, labels = corpora.load("rotten_tomatoes", "train")
    tokenizer = sentiment.make_tokenizer(train_sentencepiece(texts, 400, lower_case=True), config)
    classes = ["negative", "positive"]
    reviews = sentiment.read_reviews(config, classes)
    validation = sentiment.make_dataset(
        LabelledExamples(texts[:300], labels[:300]), classes, tokenizer, config, False, "snippets"
    )
    session = TrainingSession(
        tf.distribute.get_strategy(), RunDirectory(tmp_path / "run"), tmp_path / "exports"
    )

    def new_classifier():
        return set_model_policy(build_sentiment_classifier(400, 2, 16, 8, 1), "mixed_bfloat16")

    classifier = new_classifier()
    record = sentiment.pretrain_on_reviews(
        classifier, reviews, classes, tokenizer, config, session, validation
    )
    stage = tmp_path / "run" / "pretraining"
    history = logged_history(stage / "history.csv")
    assert len(history["loss"]) == 3 and history["loss"][-1] < history["loss"][0] - 0.05
    assert record["reviews"] == 3000 and record["epochs"] == 3
    assert record["validation_accuracy"] == max(history["val_accuracy"])
    assert (stage / "plots" / "training_curves.png").exists()
    assert classifier.dtype_policy.name == "mixed_bfloat16"  # as the main stage trains
    assert session.run.resuming and not session.run.checkpointed

    resumed = new_classifier()  # as a run interrupted after the stage builds it again
    capsys.readouterr()
    sentiment.pretrain_on_reviews(resumed, reviews, classes, tokenizer, config, session, validation)
    assert "resuming from epoch 4, step 0" in capsys.readouterr().out
    assert len(logged_history(stage / "history.csv")["loss"]) == 3  # not trained again
    for mine, theirs in zip(classifier.weights, resumed.weights):
        np.testing.assert_array_equal(mine.numpy(), theirs.numpy())
    session.run.remove_checkpoints()
    assert not session.run.resuming and not (stage / "backup").exists()


def test_masked_pooling_ignores_padding():
    sequences = np.array([[[1.0, -5.0], [3.0, -1.0], [100.0, 100.0]]], dtype="float32")
    mask = np.array([[True, True, False]])
    pooled = np.asarray(MaskedMaxMeanPooling()(sequences, mask=mask))
    np.testing.assert_allclose(pooled, [[3.0, -1.0, 2.0, -3.0]])
    empty = np.asarray(MaskedMaxMeanPooling()(sequences, mask=np.zeros((1, 3), bool)))
    np.testing.assert_allclose(empty, 0.0)


@pytest.fixture(scope="module")
def served(trained):
    return tf.saved_model.load(str(trained / "exports" / "1")).signatures["serving_default"]


@signature_examples
@given(texts=batches)
def test_any_batch_of_strings_gets_one_valid_prediction_each(served, texts):
    out = served(text=tf.constant(texts, tf.string))
    assert out["label"].shape == out["label_id"].shape == (len(texts),)
    probabilities = out["probabilities"].numpy()
    assert probabilities.shape == (len(texts), 2) and np.all(np.isfinite(probabilities))
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    assert set(out["label"].numpy()) <= {b"negative", b"positive"}


def test_the_tokenizer_is_built_once_at_load_not_per_call(served):
    """The SentencePiece model is a resource restored with the export: the signature
    only runs the tokenize op, it never rebuilds the tokenizer from its proto."""
    graph = served.graph.as_graph_def()
    ops = [node.op for node in graph.node]
    ops += [node.op for function in graph.library.function for node in function.node_def]
    assert "SentencepieceTokenizeOp" in ops
    assert "SentencepieceOp" not in ops
