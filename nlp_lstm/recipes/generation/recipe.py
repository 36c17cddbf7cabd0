"""The generation recipe: plain text, the character LSTM language model, bits per character."""

from __future__ import annotations

import json
import math
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from nlp_lstm import plots
from nlp_lstm.data import language_model_windows
from nlp_lstm.data.sources import text_splits
from nlp_lstm.models.generation import (
    build_char_language_model,
    export_generator,
    state_shapes,
    step_model,
)
from nlp_lstm.recipes.base import Recipe, RecipeData
from nlp_lstm.recipes.generation import config as config_module
from nlp_lstm.recipes.generation.config import DEFAULT_CORPUS, GenerationConfig
from nlp_lstm.tokenization import BOS_ID, UNK_ID, CharacterTokenizer, build_character_vocabulary
from nlp_lstm.training import training_record

VOCABULARY_FILE = "vocabulary.json"
SAMPLE_PROMPT_CHARS = 24  # of each line drawn from the test split as a sample prompt


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


def sample_prompts(text: str, count: int = 2) -> list[str]:
    """The prompts of the summary's samples: the empty prompt, and the beginnings of
    ``count`` non-blank lines of ``text`` (the run's test split), evenly spaced."""
    lines = [line for line in text.splitlines() if line.strip()]
    picked = sorted({i * len(lines) // count for i in range(count)}) if lines else []
    return ["", *(lines[i][:SAMPLE_PROMPT_CHARS] for i in picked)]


def samples_from_export(version: Path, prompts: list[str]) -> dict:
    """Each prompt's continuation by the export (200 characters, temperature 0.8, seed 1)."""
    from nlp_lstm import serving

    model = serving.load(version, config_module.NAME)
    out = model.signature(
        prompt=tf.constant(prompts),
        max_new_chars=tf.constant(200),
        temperature=tf.constant(0.8),
        top_k=tf.constant(0),
        top_p=tf.constant(1.0),
        seed=tf.constant(1, tf.int64),
    )
    return {p: t.decode("utf-8", "replace") for p, t in zip(prompts, out["text"].numpy())}


def make_tokenizer(asset: bytes) -> CharacterTokenizer:
    """The tokenizer of a run's or an export's vocabulary (JSON list of characters)."""
    return CharacterTokenizer(json.loads(asset), name="tokenizer")


class GenerationRecipe(Recipe):
    asset = VOCABULARY_FILE
    unit = "characters"

    def read_data(self, args, config) -> RecipeData:
        return RecipeData(*text_splits(args.data, args.dataset, DEFAULT_CORPUS))

    def make_asset(self, args, config: GenerationConfig, data) -> bytes:
        characters = build_character_vocabulary(
            data.splits["train"], max_size=config.max_vocabulary
        )
        return json.dumps(characters, ensure_ascii=False).encode()

    def describe_asset(self, config) -> str:
        return "a character vocabulary on the training split"

    def start_finetuning(self, args, session, export, config, data):
        tokenizer = make_tokenizer(export.asset)
        share = unknown_share(tokenizer, data.splits["train"])
        print(
            f"{share:.2%} of the new text's characters are unknown to the export's "
            "vocabulary (kept as is)"
        )
        before = bits_per_char(export.model, tokenizer, data.splits["validation"])
        report = {"validation_bits_per_char_before": before, "unknown_character_share": share}
        return export.model, data, report

    def train(self, session, config: GenerationConfig, data, asset, model):
        run, splits = session.run, data.splits
        tokenizer = make_tokenizer(asset)
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
                vocabulary_size=tokenizer.vocabulary_size(),
                embedding_dim=config.embedding_dim,
                units=config.lstm_units,
                layers=config.lstm_layers,
                dropout=config.dropout,
                cell=config.cell,
            )
        compile_model(model, config, config.epochs * config.steps_per_epoch)
        print(
            f"training on {len(splits['train']):,} characters, vocabulary "
            f"{tokenizer.vocabulary_size()}; {model.count_params():,} parameters"
        )
        history = self.fit(
            session,
            model,
            make_batches,
            validation,
            config,
            config.steps_per_epoch,
            splits["train"],
        )
        report = {
            split: {
                "bits_per_char": bits_per_char(model, tokenizer, splits[split]),
                "characters": len(splits[split]),
            }
            for split in ("validation", "test")
        }
        tokens_per_epoch = config.steps_per_epoch * config.batch_size * config.sequence_length
        report.update(training_record(model, history, config.steps_per_epoch, tokens_per_epoch))
        curves = {
            "bits_per_char": [bits(v) for v in history["loss"]],
            "val_bits_per_char": [bits(v) for v in history["val_loss"]],
        }
        plots.training_curves(
            curves,
            ["bits_per_char"],
            run.plots / "training_curves.png",
            title=f"character LM: {data.source}",
        )
        return model, report

    def write_export(self, model, config, asset, saved, directory: Path) -> dict:
        export_generator(model, make_tokenizer(asset), directory)
        return {"vocabulary": json.loads(asset)}

    def evaluate(self, export, config, data, split: str) -> dict:
        tokenizer = make_tokenizer(export.asset)
        return {
            "bits_per_char": bits_per_char(export.model, tokenizer, data.splits[split]),
            "unknown_character_share": unknown_share(tokenizer, data.splits[split]),
        }

    def summary(self, report: dict) -> list[str]:
        lines = [
            f"{split:<10} {report[split]['bits_per_char']:.3f} bits/char "
            f"({report[split]['characters']:,} characters)"
            for split in ("validation", "test")
        ]
        if "validation_bits_per_char_before" in report:
            lines.append(
                f"fine-tuning moved validation bits/char from "
                f"{report['validation_bits_per_char_before']:.3f} to "
                f"{report['validation']['bits_per_char']:.3f}"
            )
        return lines

    def samples(self, version: Path, data) -> str:
        return "\n\n".join(
            f"-- sample (prompt {prompt!r}, temperature 0.8, seed 1)\n{text}"
            for prompt, text in samples_from_export(
                version, sample_prompts(data.splits["test"])
            ).items()
        )


RECIPE = GenerationRecipe(config_module)
