"""Character-level generation runner: train, evaluate, export and fine-tune the LSTM LM."""

from __future__ import annotations

import dataclasses
import json
import math
import time
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from nlp_lstm import config as config_lib
from nlp_lstm import export as export_lib
from nlp_lstm import plots, recipe_args
from nlp_lstm.data import language_model_windows
from nlp_lstm.data.sources import text_splits
from nlp_lstm.layers.cells import check_cell
from nlp_lstm.models.char_language_model import (
    build_char_language_model,
    export_generator,
    state_shapes,
    step_model,
)
from nlp_lstm.tokenization import BOS_ID, UNK_ID, CharacterTokenizer, build_character_vocabulary
from nlp_lstm.training import RunDirectory, TrainingSession, fit, run_key, training_record

TASK = "generation"
DEFAULT_CORPUS = "shakespeare"
VOCABULARY_FILE = "vocabulary.json"
SAMPLE_PROMPT_CHARS = 24  # of each line drawn from the test split as a sample prompt


@dataclasses.dataclass
class GenerationConfig:
    """Everything that shapes a generation run (saved with the run and the export)."""

    cell: str = "lstm"
    max_vocabulary: int = 120
    sequence_length: int = 100
    embedding_dim: int = 48
    lstm_units: int = 256
    lstm_layers: int = 1
    dropout: float = 0.1
    batch_size: int = 64
    epochs: int = 3
    steps_per_epoch: int = 170
    learning_rate: float = 5e-3
    clipnorm: float = 1.0
    patience: int = 2
    seed: int = 1

    def __post_init__(self):
        check_cell(self.cell)  # at once, before a tokenizer is trained
        config_lib.check_ranges(self, RANGES)


RANGES = {
    "max_vocabulary": config_lib.POSITIVE,
    "sequence_length": config_lib.POSITIVE,
    "embedding_dim": config_lib.POSITIVE,
    "lstm_units": config_lib.POSITIVE,
    "lstm_layers": config_lib.POSITIVE,
    "dropout": config_lib.RATE,
    "batch_size": config_lib.POSITIVE,
    "epochs": config_lib.POSITIVE,
    "steps_per_epoch": config_lib.POSITIVE,
    "learning_rate": config_lib.SCALE,
    "clipnorm": config_lib.SCALE,
    "patience": config_lib.NON_NEGATIVE,
    "seed": config_lib.SEED,
}
PRESETS = {
    "quick": {},
    # Sized for about an hour on 2 CPU cores (~6,400 characters/s).
    "full": {
        "embedding_dim": 64,
        "lstm_units": 384,
        "lstm_layers": 2,
        "dropout": 0.1,
        "epochs": 8,
        "steps_per_epoch": 400,
        "learning_rate": 3e-3,
        "patience": 3,
    },
}
FINETUNE = {"epochs": 3, "steps_per_epoch": 50, "learning_rate": 1e-3}


def bits(nats: float) -> float:
    return nats / math.log(2)


def encode(tokenizer: CharacterTokenizer, text: str) -> np.ndarray:
    return tokenizer.tokenize(tf.constant([text]))[0].numpy()


def compile_model(model: keras.Model, config: GenerationConfig, total_steps: int) -> None:
    """Adam with gradient clipping and a cosine-decayed learning rate."""
    schedule = keras.optimizers.schedules.CosineDecay(config.learning_rate, total_steps, alpha=0.1)
    model.compile(
        optimizer=keras.optimizers.Adam(schedule, clipnorm=config.clipnorm),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )


def bits_per_char(
    model: keras.Model, tokenizer, text: str, streams: int = 16, window: int = 1000
) -> float:
    """Mean bits per character of ``text``, read as a continuous stream.

    The text is cut into ``streams`` contiguous pieces read in parallel, each from
    the beginning-of-text state, ``window`` characters at a time with the LSTM
    states carried across windows: every character is predicted from all of its
    piece before it, as when the model generates.
    """
    ids = encode(tokenizer, text)
    streams = max(1, min(streams, len(ids) // window))
    length = len(ids) // streams
    targets = ids[: streams * length].reshape(streams, length)
    inputs = np.concatenate([np.full((streams, 1), BOS_ID, np.int32), targets[:, :-1]], axis=1)
    step = step_model(model)
    run = tf.function(lambda x, states: step([x, *states], training=False), reduce_retracing=True)
    states = [tf.zeros([streams, units]) for units in state_shapes(model)]
    total_nats = 0.0
    for start in range(0, length, window):
        logits, *states = run(tf.constant(inputs[:, start : start + window]), states)
        total_nats += float(
            tf.reduce_sum(
                tf.nn.sparse_softmax_cross_entropy_with_logits(
                    targets[:, start : start + window], logits
                )
            )
        )
    return bits(total_nats / targets.size)


def unknown_share(tokenizer: CharacterTokenizer, text: str) -> float:
    ids = encode(tokenizer, text)
    return float(np.mean(ids == UNK_ID)) if len(ids) else 0.0


def train_and_export(
    splits: dict[str, str],
    tokenizer: CharacterTokenizer,
    config,
    session: TrainingSession,
    source: str,
    model: keras.Model | None = None,
    extra_report: dict | None = None,
) -> dict:
    """The common tail of train and finetune: fit, evaluate, plot, save, export.

    ``extra_report`` entries join the metrics (run directory and export metadata).
    """
    keras.utils.set_random_seed(config.seed)
    run = session.run
    train_ids = encode(tokenizer, splits["train"])

    def make_batches(batch_size: int) -> tf.data.Dataset:
        return language_model_windows(
            train_ids,
            config.sequence_length,
            batch_size,
            BOS_ID,
            seed=config.seed,
            source="training text",
        )

    make_batches(config.batch_size)  # fails early on a text shorter than one batch
    validation = language_model_windows(
        encode(tokenizer, splits["validation"]),
        config.sequence_length,
        max(1, min(config.batch_size, len(splits["validation"]) // config.sequence_length)),
        BOS_ID,
        source="validation text",
    )
    if model is None:
        model = build_char_language_model(
            tokenizer.vocabulary_size(),
            config.embedding_dim,
            config.lstm_units,
            config.lstm_layers,
            config.dropout,
            config.cell,
        )
    compile_model(model, config, config.epochs * config.steps_per_epoch)
    print(
        f"training on {len(splits['train']):,} characters, vocabulary "
        f"{tokenizer.vocabulary_size()}; {model.count_params():,} parameters"
    )
    history = fit(
        model,
        make_batches,
        validation,
        run,
        batch_size=config.batch_size,
        epochs=config.epochs,
        steps_per_epoch=config.steps_per_epoch,
        patience=config.patience,
        key=run_key(config, splits["train"]),
        strategy=session.strategy,
        checkpoint_every=session.checkpoint_every,
    )
    report = {
        split: {
            "bits_per_char": bits_per_char(model, tokenizer, splits[split]),
            "characters": len(splits[split]),
        }
        for split in ("validation", "test")
    }
    report.update(
        training_record(
            model,
            history,
            config.steps_per_epoch,
            config.steps_per_epoch * config.batch_size * config.sequence_length,
        )
    )
    report.update(extra_report or {})
    run.write_json("metrics.json", report)
    curves = {
        "bits_per_char": [bits(v) for v in history["loss"]],
        "val_bits_per_char": [bits(v) for v in history["val_loss"]],
    }
    plots.training_curves(
        curves,
        ["bits_per_char"],
        run.plots / "training_curves.png",
        title=f"character LM: {source}",
    )
    model.save(run.keras_model)
    (run.path / VOCABULARY_FILE).write_text(json.dumps(tokenizer.vocabulary, ensure_ascii=False))
    run.write_json(
        "config.json", {"task": TASK, "config": dataclasses.asdict(config), "corpus": source}
    )
    return {"report": report, "export": export_run(run, session.export_dir, report)}


def export_run(run: RunDirectory, export_dir: Path, report: dict | None = None) -> Path:
    """Exports a finished run as the next version under ``export_dir``."""
    saved, model, saved_report = run.load_finished(TASK)
    vocabulary = json.loads(run.read_bytes(VOCABULARY_FILE))
    report = report or saved_report
    tokenizer = CharacterTokenizer(vocabulary, name="tokenizer")

    def write(directory: Path):
        export_generator(model, tokenizer, directory)
        (directory / "assets").mkdir(exist_ok=True)
        (directory / "assets" / VOCABULARY_FILE).write_text(
            json.dumps(vocabulary, ensure_ascii=False)
        )
        export_lib.add_keras_model(directory, run.keras_model)
        export_lib.write_metadata(
            directory,
            TASK,
            config=saved["config"],
            vocabulary=vocabulary,
            corpus=saved["corpus"],
            metrics=report,
            run_dir=str(run.path),
        )

    return export_lib.write_version(export_dir, write)


def load_export(path: Path) -> tuple[Path, dict, keras.Model, CharacterTokenizer]:
    version, metadata, model, _ = export_lib.load_trainable(path, TASK)
    return version, metadata, model, CharacterTokenizer(metadata["vocabulary"], name="tokenizer")


def print_summary(result: dict, run: RunDirectory, seconds: float, samples: dict) -> None:
    report = result["report"]
    print("\n== generation summary")
    for split in ("validation", "test"):
        print(
            f"  {split:<10} {report[split]['bits_per_char']:.3f} bits/char "
            f"({report[split]['characters']:,} characters)"
        )
    print(f"  speed      {report['tokens_per_second']:,.0f} training characters/s")
    print(f"  run dir    {run.path}  (metrics.json, plots/, logs/, checkpoints/)")
    print(f"  export     {result['export']}")
    print(f"  weights    sha256 {report['weights_sha256']}")
    print(f"  time       {seconds:.0f} s (training {report['training_seconds']:.0f} s)")
    for prompt, text in samples.items():
        print(f"\n-- sample (prompt {prompt!r}, temperature 0.8, seed 1)\n{text}")


def sample_prompts(text: str, count: int = 2) -> list[str]:
    """The prompts of the summary's samples: the empty prompt, and the beginnings of
    ``count`` non-blank lines of ``text`` (the run's test split), evenly spaced."""
    lines = [line for line in text.splitlines() if line.strip()]
    picked = sorted({i * len(lines) // count for i in range(count)}) if lines else []
    return ["", *(lines[i][:SAMPLE_PROMPT_CHARS] for i in picked)]


def samples_from_export(version: Path, prompts: list[str]) -> dict:
    """Each prompt's continuation by the export (200 characters, temperature 0.8, seed 1)."""
    from nlp_lstm import serving

    model = serving.load(version, TASK)
    out = model.signature(
        prompt=tf.constant(prompts),
        max_new_chars=tf.constant(200),
        temperature=tf.constant(0.8),
        top_k=tf.constant(0),
        top_p=tf.constant(1.0),
        seed=tf.constant(1, tf.int64),
    )
    return {p: t.decode("utf-8", "replace") for p, t in zip(prompts, out["text"].numpy())}


def command_train(args) -> None:
    start = time.time()
    config = config_lib.resolve(GenerationConfig, PRESETS, args.preset, args.overrides)
    with recipe_args.training_session(args) as session:
        splits, source = text_splits(args.data, args.dataset, DEFAULT_CORPUS)
        vocabulary = session.run.reuse_or_write(
            VOCABULARY_FILE,
            lambda: json.dumps(
                build_character_vocabulary(splits["train"], max_size=config.max_vocabulary),
                ensure_ascii=False,
            ).encode(),
            "a character vocabulary on the training split",
        )
        tokenizer = CharacterTokenizer(json.loads(vocabulary), name="tokenizer")
        result = train_and_export(splits, tokenizer, config, session, source)
        print_summary(
            result,
            session.run,
            time.time() - start,
            samples_from_export(result["export"], sample_prompts(splits["test"])),
        )


def command_finetune(args) -> None:
    start = time.time()
    with recipe_args.training_session(args) as session:
        version, metadata, model, tokenizer = load_export(args.source_export)
        config = config_lib.resolve_finetuning(
            GenerationConfig, metadata["config"], FINETUNE, args.overrides
        )
        splits, source = text_splits(args.data, args.dataset, DEFAULT_CORPUS)
        share = unknown_share(tokenizer, splits["train"])
        print(
            f"fine-tuning {version} on {source}; {share:.2%} of its characters are unknown to "
            "the export's vocabulary (kept as is)"
        )
        before = bits_per_char(model, tokenizer, splits["validation"])
        result = train_and_export(
            splits,
            tokenizer,
            config,
            session,
            f"{source}; fine-tuned from {version}",
            model,
            {"validation_bits_per_char_before": before, "unknown_character_share": share},
        )
        print(
            f"validation bits/char: {before:.3f} before, "
            f"{result['report']['validation']['bits_per_char']:.3f} after fine-tuning"
        )
        print_summary(
            result,
            session.run,
            time.time() - start,
            samples_from_export(result["export"], sample_prompts(splits["test"])),
        )


def command_export(args) -> None:
    print(f"exported {export_run(RunDirectory(args.run_dir, create=False), args.export_dir)}")


def command_evaluate(args) -> None:
    version, metadata, model, tokenizer = load_export(args.model)
    splits, source = text_splits(args.data, args.dataset, DEFAULT_CORPUS)
    print(
        json.dumps(
            {
                "export": str(version),
                "data": source,
                "split": args.split,
                "bits_per_char": bits_per_char(model, tokenizer, splits[args.split]),
                "unknown_character_share": unknown_share(tokenizer, splits[args.split]),
            },
            indent=2,
        )
    )


def main(argv: list[str] | None = None) -> int:
    parser, _ = recipe_args.build_parser(
        TASK,
        "Character-level text generation with a stacked LSTM.",
        script="char_generation.py",
        rows=False,
        config_type=GenerationConfig,
        ranges=RANGES,
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
