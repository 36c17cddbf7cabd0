#!/usr/bin/env python3
"""Tokenizer and input-pipeline throughput, on their own (no model), one JSON line each.

Tokenization: the in-graph tokenizers of the exports (SentencePiece for sentiment and
translation, characters for generation) over the bundled training texts, in batches
of 256 inside a ``tf.function``: texts, tokens and characters per second.
Input pipelines: one full pass of each recipe's training ``tf.data`` pipeline (quick
preset), as ``fit`` reads it: examples and batches per second. Median of repeats,
after a warm-up pass.

    .venv/bin/python bench/data_speed.py
"""

import argparse
import dataclasses

import tensorflow as tf
from timing import median, newest_version, report, seconds_per_call

from nlp_lstm import export as export_lib
from nlp_lstm.data import language_model_windows
from nlp_lstm.data.sources import labelled_splits, parallel_splits, text_splits
from nlp_lstm.recipes.generation import recipe as generation
from nlp_lstm.recipes.sentiment import recipe as sentiment
from nlp_lstm.recipes.translation import recipe as translation
from nlp_lstm.tokenization import BOS_ID, CharacterTokenizer, SentencePieceTokenizer


def sentencepiece(model_dir: str) -> SentencePieceTokenizer:
    version = newest_version(model_dir)
    return SentencePieceTokenizer(
        tf.io.gfile.GFile(f"{version}/assets/sentencepiece.model", "rb").read()
    )


def tokenizer_speed(name: str, tokenizer, texts: list[str], repeats: int) -> None:
    batches = [tf.constant(texts[i : i + 256]) for i in range(0, len(texts), 256)]
    count = tf.function(lambda batch: tf.size(tokenizer.tokenize(batch).flat_values))
    tokens = sum(int(count(batch)) for batch in batches)
    seconds = median(seconds_per_call(lambda: [count(b).numpy() for b in batches], repeats))
    characters = sum(len(text) for text in texts)
    report(
        "tokenizer_speed",
        tokenizer=name,
        texts=len(texts),
        tokens=tokens,
        texts_per_second=round(len(texts) / seconds, 1),
        tokens_per_second=round(tokens / seconds, 1),
        characters_per_second=round(characters / seconds, 1),
    )


def pipeline_speed(name: str, dataset: tf.data.Dataset, repeats: int) -> None:
    def one_pass():
        examples = batches = 0
        for features, _ in dataset:
            examples += int(tf.shape(tf.nest.flatten(features)[0])[0])
            batches += 1
        return examples, batches

    examples, batches = one_pass()
    seconds = median(seconds_per_call(one_pass, repeats))
    report(
        "input_pipeline_speed",
        recipe=name,
        examples=examples,
        batches=batches,
        examples_per_second=round(examples / seconds, 1),
        batches_per_second=round(batches / seconds, 1),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exports", default="saved_models", help="folder of the task exports")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    config = sentiment.SentimentConfig()
    splits, _ = labelled_splits(None, None, sentiment.DEFAULT_CORPUS, config.seed)
    tokenizer = sentencepiece(f"{args.exports}/sentiment")
    tokenizer_speed("sentiment sentencepiece", tokenizer, splits["train"].texts, args.repeats)
    labels = sorted(set(splits["train"].labels))
    pipeline_speed(
        "sentiment",
        sentiment.make_dataset(splits["train"], labels, tokenizer, config, True, "training data"),
        args.repeats,
    )
    pipeline_speed(
        "sentiment (subword sampling, as the full preset)",
        sentiment.make_dataset(
            splits["train"],
            labels,
            tokenizer,
            dataclasses.replace(config, subword_alpha=0.1),
            True,
            "training data",
        ),
        args.repeats,
    )

    texts, _ = text_splits(None, None, generation.DEFAULT_CORPUS)
    _, metadata = export_lib.resolve(f"{args.exports}/generation", "generation")
    characters = CharacterTokenizer(metadata["vocabulary"])
    lines = texts["train"].splitlines(keepends=True)
    tokenizer_speed("generation characters", characters, lines, args.repeats)
    config = generation.GenerationConfig()
    pipeline_speed(
        "generation",
        language_model_windows(
            generation.encode(characters, texts["train"]),
            config.sequence_length,
            config.batch_size,
            BOS_ID,
            seed=config.seed,
        ),
        args.repeats,
    )

    config = translation.TranslationConfig()
    pairs, _ = parallel_splits(None, None, translation.DEFAULT_CORPUS, config.seed)
    tokenizer = sentencepiece(f"{args.exports}/translation")
    tokenizer_speed(
        "translation sentencepiece", tokenizer, list(pairs["train"].sources), args.repeats
    )
    train = translation.training_pairs(pairs["train"], config.alternatives)
    pipeline_speed(
        "translation", translation.make_dataset(train, tokenizer, config, True), args.repeats
    )


if __name__ == "__main__":
    main()
