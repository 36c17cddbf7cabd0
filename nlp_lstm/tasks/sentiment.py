"""Sentiment runner: train, evaluate, export and fine-tune the BiLSTM classifier."""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from nlp_lstm import config as config_lib
from nlp_lstm import corpora, metrics, plots, recipe_args
from nlp_lstm import export as export_lib
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
from nlp_lstm.layers.cells import check_cell
from nlp_lstm.models.sentiment import build_sentiment_classifier, export_sentiment
from nlp_lstm.precision import set_model_policy
from nlp_lstm.tokenization import EOS_ID, SentencePieceTokenizer, train_sentencepiece
from nlp_lstm.training import (
    RunDirectory,
    TrainingSession,
    epoch_size,
    fit,
    run_key,
    training_record,
)

TASK = "sentiment"
DEFAULT_CORPUS = "rotten_tomatoes"
TOKENIZER_FILE = "sentencepiece.model"


@dataclasses.dataclass
class SentimentConfig:
    """Everything that shapes a sentiment run (saved with the run and the export)."""

    cell: str = "lstm"
    vocabulary_size: int = 4000
    lower_case: bool = False
    sequence_length: int = 96
    embedding_dim: int = 64
    lstm_units: int = 64
    lstm_layers: int = 1
    dropout: float = 0.3
    embedding_dropout: float = 0.1
    batch_size: int = 64
    epochs: int = 4
    learning_rate: float = 3e-3
    weight_decay: float = 0.0
    clipnorm: float = 1.0
    subword_alpha: float = 0.0
    pretrained_vectors: str = ""  # word2vec text file, or "glove_100d" (bundled)
    adversarial_epsilon: float = 0.0  # > 0: adversarial training on the word vectors
    pretrain_reviews: str = ""  # labelled reviews file, or "imdb_reviews" (bundled)
    pretrain_epochs: int = 1  # over the reviews, before the snippets (new models only)
    patience: int = 2
    seed: int = 1

    def __post_init__(self):
        check_cell(self.cell)  # at once, before a tokenizer is trained
        config_lib.check_ranges(self, RANGES)


RANGES = {
    "vocabulary_size": config_lib.POSITIVE,
    "sequence_length": config_lib.Range(2),
    "embedding_dim": config_lib.POSITIVE,
    "lstm_units": config_lib.POSITIVE,
    "lstm_layers": config_lib.POSITIVE,
    "dropout": config_lib.RATE,
    "embedding_dropout": config_lib.RATE,
    "batch_size": config_lib.POSITIVE,
    "epochs": config_lib.POSITIVE,
    "learning_rate": config_lib.SCALE,
    "weight_decay": config_lib.NON_NEGATIVE,
    "clipnorm": config_lib.SCALE,
    "subword_alpha": config_lib.Range(0, 1, high_closed=True),
    "adversarial_epsilon": config_lib.NON_NEGATIVE,
    "pretrain_epochs": config_lib.POSITIVE,
    "patience": config_lib.NON_NEGATIVE,
    "seed": config_lib.SEED,
}
PRESETS = {
    "quick": {},
    # ~10k short snippets teach few words: the embedding starts from GloVe, with a
    # lower-cased vocabulary (as GloVe's) large enough to keep most words whole; the
    # whole classifier first reads the endings of 25k IMDb reviews; weight decay, heavy
    # dropout and adversarial training hold off the over-fitting.
    "full": {
        "vocabulary_size": 13000,
        "lower_case": True,
        "pretrained_vectors": "glove_100d",
        "pretrain_reviews": "imdb_reviews",
        "embedding_dim": 100,
        "lstm_units": 128,
        "lstm_layers": 2,
        "dropout": 0.5,
        "embedding_dropout": 0.3,
        "weight_decay": 0.01,
        "learning_rate": 2e-3,
        "adversarial_epsilon": 1.0,
        "epochs": 6,
        "patience": 4,
    },
}
FINETUNE = {"epochs": 6, "learning_rate": 1e-3, "patience": 2}
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


def save_run_artifacts(run: RunDirectory, classifier, proto: bytes, labels, config, source: str):
    """Keeps what ``export`` needs: the Keras model, tokenizer, labels, config."""
    classifier.save(run.keras_model)
    (run.path / TOKENIZER_FILE).write_bytes(proto)
    run.write_json(
        "config.json",
        {"task": TASK, "config": dataclasses.asdict(config), "labels": labels, "corpus": source},
    )


def export_run(run: RunDirectory, export_dir: Path, metrics_report: dict | None = None) -> Path:
    """Exports a finished run as the next version under ``export_dir``."""
    saved, classifier, saved_metrics = run.load_finished(TASK)
    proto = run.read_bytes(TOKENIZER_FILE)
    config = config_lib.from_dict(SentimentConfig, saved["config"])
    metrics_report = metrics_report or saved_metrics
    tokenizer = make_tokenizer(proto, config)

    def write(directory: Path):
        export_sentiment(classifier, tokenizer, saved["labels"], directory)
        (directory / "assets").mkdir(exist_ok=True)
        (directory / "assets" / TOKENIZER_FILE).write_bytes(proto)
        (directory / "assets" / "labels.txt").write_text("\n".join(saved["labels"]) + "\n")
        export_lib.add_keras_model(directory, run.keras_model)
        export_lib.write_metadata(
            directory,
            TASK,
            config=saved["config"],
            labels=saved["labels"],
            corpus=saved["corpus"],
            metrics=metrics_report,
            run_dir=str(run.path),
        )

    return export_lib.write_version(export_dir, write)


def train_and_export(
    splits,
    labels,
    proto,
    config,
    session: TrainingSession,
    source: str,
    classifier: keras.Model | None = None,
    reviews: LabelledExamples | None = None,
) -> dict:
    """The common tail of train and finetune: (pretrain a new classifier on ``reviews``,)
    fit, evaluate, plot, save, export."""
    keras.utils.set_random_seed(config.seed)
    run = session.run
    tokenizer = make_tokenizer(proto, config)

    validation = make_dataset(
        splits["validation"], labels, tokenizer, config, False, "validation data"
    )
    if classifier is None:
        classifier = build_sentiment_classifier(
            tokenizer.vocabulary_size(),
            len(labels),
            config.embedding_dim,
            config.lstm_units,
            config.lstm_layers,
            config.dropout,
            config.embedding_dropout,
            config.cell,
        )
        if config.pretrained_vectors:
            path = corpora.word_vectors(config.pretrained_vectors)
            found = initialize_from_vectors(
                classifier.get_layer("token_embedding"), tokenizer.pieces(), path, config.seed
            )
            print(
                f"embedding: {found:,} of {tokenizer.vocabulary_size():,} pieces start "
                f"from the vectors in {path}"
            )
    pretraining = None
    if reviews is not None and not run.checkpointed:  # else the main checkpoint holds it
        pretraining = pretrain_on_reviews(
            classifier, reviews, labels, tokenizer, config, session, validation
        )
    make_batches, steps_per_epoch, tokens_per_epoch = training_batches(
        splits["train"], labels, tokenizer, config, "training data"
    )
    compiled = compile_settings(config, config.epochs * steps_per_epoch)
    classifier.compile(**compiled)  # saved with the optimizer, whichever model trains
    trainee = classifier
    if config.adversarial_epsilon:
        trainee = AdversarialEmbeddingTraining(
            classifier, classifier.get_layer("token_embedding"), config.adversarial_epsilon
        )
        trainee.compile(**compiled)
    print(
        f"training on {len(splits['train'].texts):,} examples, {len(labels)} classes "
        f"{labels}; {classifier.count_params():,} parameters"
    )
    history = fit(
        trainee,
        make_batches,
        validation,
        run,
        batch_size=config.batch_size,
        epochs=config.epochs,
        steps_per_epoch=steps_per_epoch,
        monitor="val_accuracy",
        mode="max",
        patience=config.patience,
        key=run_key(config, splits["train"]),
        strategy=session.strategy,
        checkpoint_every=session.checkpoint_every,
    )
    report = evaluate_splits(classifier, splits, labels, tokenizer, config)
    report.update(training_record(classifier, history, steps_per_epoch, tokens_per_epoch))
    if pretraining:
        report["pretraining"] = pretraining
    run.write_json("metrics.json", report)
    plots.training_curves(
        history,
        ["loss", "accuracy"],
        run.plots / "training_curves.png",
        title=f"sentiment: {source}",
    )
    plots.confusion_matrix(
        report["test"]["confusion_matrix"],
        labels,
        run.plots / "confusion_matrix_test.png",
        title="test split",
    )
    save_run_artifacts(run, classifier, proto, labels, config, source)
    version = export_run(run, session.export_dir, report)
    return {"report": report, "export": version}


def print_summary(result: dict, run: RunDirectory, seconds: float) -> None:
    report = result["report"]
    print("\n== sentiment summary")
    for split in ("train", "validation", "test"):
        r = report[split]
        print(
            f"  {split:<10} accuracy {r['accuracy']:.4f}  macro-F1 {r['macro_f1']:.4f}  "
            f"({r['examples']:,} examples)"
        )
    if "pretraining" in report:
        p = report["pretraining"]
        print(
            f"  pretrained {p['reviews']:,} reviews x {p['epochs']} epoch(s) in "
            f"{p['seconds']:.0f} s; validation accuracy after it {p['validation_accuracy']:.4f}"
        )
    print(f"  run dir    {run.path}  (metrics.json, plots/, logs/, checkpoints/)")
    print(f"  export     {result['export']}")
    print(f"  weights    sha256 {report['weights_sha256']}")
    print(
        f"  speed      {report['tokens_per_second']:,.0f} training tokens/s, "
        f"{report['parameters']:,} parameters"
    )
    print(f"  time       {seconds:.0f} s (training {report['training_seconds']:.0f} s)")


def command_train(args) -> None:
    start = time.time()
    config = config_lib.resolve(SentimentConfig, PRESETS, args.preset, args.overrides)
    with recipe_args.training_session(args) as session:
        splits, source = labelled_splits(
            args.data, args.dataset, DEFAULT_CORPUS, config.seed, args.skip_bad_rows
        )
        labels = sorted(set(splits["train"].labels))
        if len(labels) < 2:
            raise NlpLstmError(f"the training data has a single label {labels}; need two or more")
        reviews = read_reviews(config, labels, args.skip_bad_rows)
        if reviews is None and session.run.stage("pretraining", create=False).checkpointed:
            raise NlpLstmError(
                "this run directory holds a pretraining checkpoint of a run with "
                "other settings; rerun with them, or pass a new --run-dir",
                path=session.run.restore_from,
            )
        proto = session.run.reuse_or_write(
            TOKENIZER_FILE,
            lambda: train_sentencepiece(
                splits["train"].texts,
                config.vocabulary_size,
                source=args.data or source,
                lower_case=config.lower_case,
            ),
            f"a SentencePiece model ({config.vocabulary_size} pieces) on the training split",
        )
        session.run.write_json(
            "config.json",
            {
                "task": TASK,
                "config": dataclasses.asdict(config),
                "labels": labels,
                "corpus": source,
            },
        )
        result = train_and_export(splits, labels, proto, config, session, source, reviews=reviews)
        print_summary(result, session.run, time.time() - start)


def load_export(path: Path) -> tuple[Path, dict, keras.Model, bytes]:
    """An export's directory, metadata, Keras model and tokenizer bytes."""
    version, metadata, model, assets = export_lib.load_trainable(path, TASK, (TOKENIZER_FILE,))
    return version, metadata, model, assets[TOKENIZER_FILE]


def new_head(classifier: keras.Model, num_classes: int) -> keras.Model:
    """The same body with a freshly initialised output layer for ``num_classes``."""
    pooled = classifier.get_layer("head_dropout").output
    probabilities = keras.layers.Dense(
        num_classes, activation="softmax", dtype="float32", name="probabilities"
    )(pooled)
    return keras.Model(classifier.input, probabilities, name=classifier.name)


def command_finetune(args) -> None:
    start = time.time()
    with recipe_args.training_session(args) as session:
        version, metadata, classifier, proto = load_export(args.source_export)
        config = config_lib.resolve_finetuning(
            SentimentConfig, metadata["config"], FINETUNE, args.overrides
        )
        splits, source = labelled_splits(
            args.data, args.dataset, DEFAULT_CORPUS, config.seed, args.skip_bad_rows
        )
        old_labels = metadata["labels"]
        new_labels = sorted(set(splits["train"].labels))
        if set(new_labels) <= set(old_labels):
            labels = old_labels
            if new_labels != old_labels:
                print(
                    f"note: the new data has labels {new_labels}; keeping the export's {old_labels}"
                )
        elif args.new_head:
            print(
                f"note: labels differ (export {old_labels}, data {new_labels}); "
                "starting a new output layer (--new-head)"
            )
            labels = new_labels
            classifier = new_head(classifier, len(labels))
        else:
            raise NlpLstmError(
                f"the data's labels {new_labels} differ from the export's {old_labels}; "
                "rename them to match, or pass --new-head to train a new output layer"
            )
        print(f"fine-tuning {version} on {source}")
        result = train_and_export(
            splits,
            labels,
            proto,
            config,
            session,
            f"{source}; fine-tuned from {version}",
            classifier,
        )
        print_summary(result, session.run, time.time() - start)


def command_export(args) -> None:
    print(f"exported {export_run(RunDirectory(args.run_dir, create=False), args.export_dir)}")


def command_evaluate(args) -> None:
    version, metadata, classifier, proto = load_export(args.model)
    config = config_lib.from_dict(SentimentConfig, metadata["config"])
    splits, source = labelled_splits(
        args.data, args.dataset, DEFAULT_CORPUS, config.seed, args.skip_bad_rows
    )
    report = evaluate_splits(
        classifier,
        {args.split: splits[args.split]},
        metadata["labels"],
        make_tokenizer(proto, config),
        config,
    )[args.split]
    report.update(export=str(version), data=source, split=args.split)
    print(json.dumps(report, indent=2))


def main(argv: list[str] | None = None) -> int:
    parser, commands = recipe_args.build_parser(
        TASK,
        "Sentiment analysis with a stacked BiLSTM.",
        config_type=SentimentConfig,
        ranges=RANGES,
    )
    commands["finetune"].add_argument(
        "--new-head",
        action="store_true",
        help="train a new output layer when the labels differ from the export's",
    )
    return recipe_args.run(
        parser,
        argv,
        {
            "train": command_train,
            "finetune": command_finetune,
            "export": command_export,
            "evaluate": command_evaluate,
        },
    )
