"""The sentiment recipe: labelled texts, the BiLSTM classifier, accuracy and macro-F1."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from nlp_lstm import corpora, metrics, plots
from nlp_lstm.adversarial import AdversarialEmbeddingTraining
from nlp_lstm.data import (
    LabelledExamples,
    batch_by_length,
    read_labelled,
    shuffled,
    with_known_length,
)
from nlp_lstm.data.sources import labelled_splits
from nlp_lstm.embedding import initialize_from_vectors
from nlp_lstm.errors import NlpLstmError
from nlp_lstm.models.sentiment import build_sentiment_classifier, export_sentiment
from nlp_lstm.precision import set_model_policy
from nlp_lstm.recipes.base import Recipe, RecipeData
from nlp_lstm.recipes.sentiment import config as config_module
from nlp_lstm.recipes.sentiment.config import DEFAULT_CORPUS, SentimentConfig
from nlp_lstm.tokenization import EOS_ID, SentencePieceTokenizer, train_sentencepiece
from nlp_lstm.training import (
    RunDirectory,
    TrainingSession,
    epoch_size,
    fit,
    run_key,
    training_record,
)

TOKENIZER_FILE = "sentencepiece.model"
BUCKETS = [16, 32, 48, 64]
REVIEW_ENDING_WORDS = 60  # what pretraining reads of each review


def label_ids(labels: list[str], vocabulary: list[str], source: str) -> np.ndarray:
    """Maps label names to ids; unknown labels are an error naming them."""
    index = {label: i for i, label in enumerate(vocabulary)}
    unknown = sorted(set(labels) - set(index))
    if unknown:
        raise NlpLstmError(
            f"{source} has labels {unknown} that the model does not know (it knows {vocabulary})"
        )
    return np.array([index[label] for label in labels], dtype=np.int32)


def make_dataset(
    examples: LabelledExamples,
    labels: list[str],
    tokenizer: SentencePieceTokenizer,
    config: SentimentConfig,
    training: bool,
    source: str,
    batch_size: int | None = None,
    keep_end: bool = False,
) -> tf.data.Dataset:
    """Tokenized, length-bucketed batches of ``(ids, label_id)`` (``batch_size``
    defaults to the config's). A text longer than the sequence keeps its first pieces,
    or its last with ``keep_end``.

    Training batches are reshuffled every pass (seeded) and, with ``subword_alpha > 0``,
    re-segmented by SentencePiece sampling every pass; evaluation batches keep their
    order and carry their count (``with_known_length``).
    """
    ids = label_ids(examples.labels, labels, source)
    dataset = tf.data.Dataset.from_tensor_slices((examples.texts, ids))
    length = config.sequence_length - 1  # room for the eos every row ends with
    sample = training and config.subword_alpha > 0

    def tokenize(text, label):
        tokens = (
            tokenizer.sampling_tokenize(text, config.subword_alpha)
            if sample
            else tokenizer.tokenize(text)
        )
        kept = tokens[-length:] if keep_end else tokens[:length]
        return tf.concat([kept, [EOS_ID]], axis=0), label

    if sample:  # cache the texts, shuffle, then segment afresh every epoch
        dataset = shuffled(dataset, seed=config.seed)
        dataset = dataset.map(tokenize, num_parallel_calls=tf.data.AUTOTUNE)
    else:  # segment once, cache the ids, shuffle every epoch
        dataset = dataset.map(tokenize, num_parallel_calls=tf.data.AUTOTUNE).cache()
        if training:
            dataset = shuffled(dataset, seed=config.seed, cache=False)
    batches = batch_by_length(dataset, batch_size or config.batch_size, BUCKETS)
    return batches if training else with_known_length(batches)


def training_batches(
    examples: LabelledExamples,
    labels: list[str],
    tokenizer: SentencePieceTokenizer,
    config: SentimentConfig,
    source: str,
    keep_end: bool = False,
):
    """What ``training.fit`` reads: ``(make_batches, steps_per_epoch, tokens_per_epoch)``
    (``keep_end`` as in ``make_dataset``).

    The epoch is counted without subword sampling, so every worker of a distributed
    run agrees on its length.
    """

    def make_batches(batch_size: int) -> tf.data.Dataset:
        return make_dataset(examples, labels, tokenizer, config, True, source, batch_size, keep_end)

    steps, tokens = epoch_size(
        make_dataset(
            examples,
            labels,
            tokenizer,
            dataclasses.replace(config, subword_alpha=0.0),
            True,
            source,
            keep_end=keep_end,
        )
    )
    return make_batches, steps, tokens


def compile_settings(config: SentimentConfig, total_steps: int) -> dict:
    """``compile`` arguments: AdamW (clipped) with the learning rate annealed to zero
    over ``total_steps`` (cosine), so the last epochs settle instead of over-fitting."""
    schedule = keras.optimizers.schedules.CosineDecay(config.learning_rate, total_steps)
    return {
        "optimizer": keras.optimizers.AdamW(
            schedule, weight_decay=config.weight_decay, clipnorm=config.clipnorm
        ),
        "loss": "sparse_categorical_crossentropy",
        "metrics": ["accuracy"],
    }


def review_endings(examples: LabelledExamples, words: int = REVIEW_ENDING_WORDS):
    """Each review cut to its last ``words`` words, where reviewers mostly give their
    verdict: a few sentences, like a snippet, instead of a 230-word IMDb review."""
    return LabelledExamples(
        [" ".join(text.split()[-words:]) for text in examples.texts],
        examples.labels,
        examples.skipped,
    )


def read_reviews(
    config: SentimentConfig, labels: list[str], skip_bad_rows: bool = False
) -> LabelledExamples | None:
    """The endings (``review_endings``) of the reviews to pretrain on
    (``config.pretrain_reviews``), or None when the config does not pretrain.

    Raises:
        NlpLstmError: for an unreadable reviews file (naming file and line), or review
            labels that the training data does not have.
    """
    if not config.pretrain_reviews:
        return None
    path = corpora.reviews(config.pretrain_reviews)
    reviews = read_labelled(path, skip_bad_rows=skip_bad_rows)
    if not set(reviews.labels) <= set(labels):
        raise NlpLstmError(
            f"the pretraining reviews are labelled {sorted(set(reviews.labels))}, the training "
            f"data {labels}; pass --pretrain-reviews '' to train without them, or reviews "
            "labelled like the data",
            path=path,
        )
    return review_endings(reviews)


def pretrain_on_reviews(
    classifier: keras.Model,
    reviews: LabelledExamples,
    labels: list[str],
    tokenizer: SentencePieceTokenizer,
    config: SentimentConfig,
    session: TrainingSession,
    validation: tf.data.Dataset,
) -> dict:
    """Trains a new classifier on review endings (``read_reviews``) for
    ``config.pretrain_epochs`` before the snippets.

    IMDb's 25k reviews hold 30 times the snippets' words (their endings, 8 times): the
    whole BiLSTM learns how reviewers praise and pan before it sees the few snippets.
    The stage has its own folder in the run directory, ``pretraining/`` (history, logs,
    checkpoints, plots), keeps its best epoch on the snippets' validation split and
    resumes like the main stage; a run interrupted after it only reloads its weights.

    Returns:
        What the stage did, for the run's metrics: reviews, epochs, steps, seconds and
        the best validation accuracy.
    """
    source = f"reviews {config.pretrain_reviews}"
    make_batches, steps, _ = training_batches(
        reviews, labels, tokenizer, config, source, keep_end=True
    )
    print(
        f"pretraining on the last {REVIEW_ENDING_WORDS} words of {len(reviews.texts):,} "
        f"{source}: {config.pretrain_epochs} epoch(s) of {steps} steps"
    )
    precision = classifier.dtype_policy.name
    classifier.compile(**compile_settings(config, config.pretrain_epochs * steps))
    stage = session.run.stage("pretraining")
    history = fit(
        classifier,
        make_batches,
        validation,
        stage,
        batch_size=config.batch_size,
        epochs=config.pretrain_epochs,
        steps_per_epoch=steps,
        monitor="val_accuracy",
        mode="max",
        patience=config.pretrain_epochs,
        key="pretraining " + run_key(config, reviews),
        strategy=session.strategy,
        checkpoint_every=session.checkpoint_every,
    )
    set_model_policy(classifier, precision)  # fit leaves it computing in float32
    plots.training_curves(
        history,
        ["loss", "accuracy"],
        stage.plots / "training_curves.png",
        title=f"sentiment pretraining: {source}",
    )
    return {
        "reviews": len(reviews.texts),
        "epochs": config.pretrain_epochs,
        "steps_per_epoch": steps,
        "seconds": history["seconds"],
        "validation_accuracy": max(history["val_accuracy"]),
    }


def make_tokenizer(proto: bytes, config: SentimentConfig) -> SentencePieceTokenizer:
    """Every row ends with eos, so even an empty text has one token to read."""
    return SentencePieceTokenizer(
        proto, sequence_length=config.sequence_length, add_eos=True, name="tokenizer"
    )


def evaluate_splits(
    classifier: keras.Model,
    splits: dict[str, LabelledExamples],
    labels: list[str],
    tokenizer,
    config,
) -> dict:
    """Accuracy, macro-F1 and the confusion matrix of every split."""
    report = {}
    for split, examples in splits.items():
        dataset = make_dataset(examples, labels, tokenizer, config, training=False, source=split)
        truth, predicted = [], []
        for ids, label in dataset:
            truth.append(label.numpy())
            predicted.append(np.argmax(classifier(ids, training=False), axis=-1))
        report[split] = metrics.classification_report(
            np.concatenate(truth), np.concatenate(predicted), labels
        )
    return report


def new_head(classifier: keras.Model, num_classes: int) -> keras.Model:
    """The same body with a freshly initialised output layer for ``num_classes``."""
    pooled = classifier.get_layer("head_dropout").output
    probabilities = keras.layers.Dense(
        num_classes, activation="softmax", dtype="float32", name="probabilities"
    )(pooled)
    return keras.Model(classifier.input, probabilities, name=classifier.name)


@dataclasses.dataclass
class SentimentData(RecipeData):
    """The labelled splits, the label names (sorted; the model's class order) and, for a
    new classifier whose config pretrains, the review endings to pretrain on."""

    labels: list[str] = dataclasses.field(default_factory=list)
    reviews: LabelledExamples | None = None

    def metadata(self) -> dict:
        return {"labels": self.labels}


class SentimentRecipe(Recipe):
    asset = TOKENIZER_FILE

    def read_data(self, args, config: SentimentConfig) -> SentimentData:
        splits, source = labelled_splits(
            args.data, args.dataset, DEFAULT_CORPUS, config.seed, args.skip_bad_rows
        )
        return SentimentData(splits, source, sorted(set(splits["train"].labels)))

    def start_training(self, args, config, data: SentimentData, run: RunDirectory):
        if len(data.labels) < 2:
            raise NlpLstmError(
                f"the training data has a single label {data.labels}; need two or more"
            )
        reviews = read_reviews(config, data.labels, args.skip_bad_rows)
        if reviews is None and run.stage("pretraining", create=False).checkpointed:
            raise NlpLstmError(
                "this run directory holds a pretraining checkpoint of a run with "
                "other settings; rerun with them, or pass a new --run-dir",
                path=run.restore_from,
            )
        return dataclasses.replace(data, reviews=reviews)

    def make_asset(self, args, config, data) -> bytes:
        return train_sentencepiece(
            data.splits["train"].texts,
            config.vocabulary_size,
            source=args.data or data.source,
            lower_case=config.lower_case,
        )

    def describe_asset(self, config) -> str:
        return f"a SentencePiece model ({config.vocabulary_size} pieces) on the training split"

    def start_finetuning(self, args, session, export, config, data: SentimentData):
        old = export.metadata["labels"]
        if set(data.labels) <= set(old):
            if data.labels != old:
                print(f"note: the new data has labels {data.labels}; keeping the export's {old}")
            return export.model, dataclasses.replace(data, labels=old), {}
        if not args.new_head:
            raise NlpLstmError(
                f"the data's labels {data.labels} differ from the export's {old}; "
                "rename them to match, or pass --new-head to train a new output layer"
            )
        print(
            f"note: labels differ (export {old}, data {data.labels}); "
            "starting a new output layer (--new-head)"
        )
        return new_head(export.model, len(data.labels)), data, {}

    def train(self, session, config, data: SentimentData, asset, model):
        run, labels = session.run, data.labels
        tokenizer = make_tokenizer(asset, config)
        validation = make_dataset(
            data.splits["validation"], labels, tokenizer, config, False, "validation data"
        )
        if model is None:
            model = self.build(config, tokenizer, len(labels))
        report = {}
        if data.reviews is not None and not run.checkpointed:  # else the checkpoint holds it
            report["pretraining"] = pretrain_on_reviews(
                model, data.reviews, labels, tokenizer, config, session, validation
            )
        make_batches, steps_per_epoch, tokens_per_epoch = training_batches(
            data.splits["train"], labels, tokenizer, config, "training data"
        )
        compiled = compile_settings(config, config.epochs * steps_per_epoch)
        model.compile(**compiled)  # saved with the optimizer, whichever model trains
        trainee = model
        if config.adversarial_epsilon:
            trainee = AdversarialEmbeddingTraining(
                model, model.get_layer("token_embedding"), config.adversarial_epsilon
            )
            trainee.compile(**compiled)
        print(
            f"training on {len(data.splits['train'].texts):,} examples, {len(labels)} classes "
            f"{labels}; {model.count_params():,} parameters"
        )
        history = self.fit(
            session,
            trainee,
            make_batches,
            validation,
            config,
            steps_per_epoch,
            data.splits["train"],
            monitor="val_accuracy",
            mode="max",
        )
        report.update(evaluate_splits(model, data.splits, labels, tokenizer, config))
        report.update(training_record(model, history, steps_per_epoch, tokens_per_epoch))
        plots.training_curves(
            history,
            ["loss", "accuracy"],
            run.plots / "training_curves.png",
            title=f"sentiment: {data.source}",
        )
        plots.confusion_matrix(
            report["test"]["confusion_matrix"],
            labels,
            run.plots / "confusion_matrix_test.png",
            title="test split",
        )
        return model, report

    def build(self, config: SentimentConfig, tokenizer, num_classes: int) -> keras.Model:
        """A new classifier; its embedding starts from ``config.pretrained_vectors``, if any."""
        model = build_sentiment_classifier(
            vocabulary_size=tokenizer.vocabulary_size(),
            num_classes=num_classes,
            embedding_dim=config.embedding_dim,
            units=config.lstm_units,
            layers=config.lstm_layers,
            dropout=config.dropout,
            embedding_dropout=config.embedding_dropout,
            cell=config.cell,
        )
        if config.pretrained_vectors:
            path = corpora.word_vectors(config.pretrained_vectors)
            found = initialize_from_vectors(
                model.get_layer("token_embedding"), tokenizer.pieces(), path, config.seed
            )
            print(
                f"embedding: {found:,} of {tokenizer.vocabulary_size():,} pieces start "
                f"from the vectors in {path}"
            )
        return model

    def write_export(self, model, config, asset, saved, directory: Path) -> dict:
        labels = saved["labels"]
        export_sentiment(model, make_tokenizer(asset, config), labels, directory)
        (directory / "assets").mkdir(exist_ok=True)
        (directory / "assets" / "labels.txt").write_text("\n".join(labels) + "\n")
        return {"labels": labels}

    def evaluate(self, export, config, data: SentimentData, split: str) -> dict:
        tokenizer = make_tokenizer(export.asset, config)
        labels = export.metadata["labels"]
        return evaluate_splits(
            export.model, {split: data.splits[split]}, labels, tokenizer, config
        )[split]

    def summary(self, report: dict) -> list[str]:
        lines = [
            f"{split:<10} accuracy {report[split]['accuracy']:.4f}  "
            f"macro-F1 {report[split]['macro_f1']:.4f}  ({report[split]['examples']:,} examples)"
            for split in ("train", "validation", "test")
        ]
        if "pretraining" in report:
            p = report["pretraining"]
            lines.append(
                f"pretrained {p['reviews']:,} reviews x {p['epochs']} epoch(s) in "
                f"{p['seconds']:.0f} s; validation accuracy after it {p['validation_accuracy']:.4f}"
            )
        return lines


RECIPE = SentimentRecipe(config_module)
