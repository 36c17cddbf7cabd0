#!/usr/bin/env python3
"""Trains two published translation architectures for a fixed time and scores them like ours.

Both peers train on a bundled translation corpus (``--dataset``: Tatoeba English-Spanish by
default, or Ding English-German; the translation recipe's train split) until a wall-clock
budget of time spent in ``fit`` is used up (checked at every batch; vocabulary building and
evaluation are not counted), then decode the test split greedily and are scored exactly as
the recipe scores itself: each distinct test source is translated once and scored against
all of its references (``nlp_lstm.metrics.translation_scores``), the sentences the recipe's
quick preset scores against (Ding's: the first reading of each ``/`` alternative). The peers
write lowercase text without punctuation (keras-io) or without accents (tutorial), so the
comparable figure is ``bleu_lowercase_nopunct``; cased BLEU and chrF are reported too.

The architectures, written here from their published descriptions:

* ``tf-tutorial``: TensorFlow's "Neural machine translation with attention" tutorial.
  Word vocabularies of 5,000 per side (``TextVectorization``; NFKD, lowercase, only
  ``a-z .?!,¿`` kept, spaces around punctuation, ``[START]``/``[END]`` added), encoder:
  embedding 256 + bidirectional GRU 256 (summed), decoder: embedding 256 + GRU 256 +
  one-head cross-attention (``MultiHeadAttention`` + Add + LayerNormalization) + Dense
  logits; masked cross-entropy, Adam, batch 64; greedy decoding up to 50 tokens.
* ``keras-io-transformer``: the keras-io example "English-to-Spanish translation with a
  sequence-to-sequence Transformer". Vocabularies of 15,000 per side, sequences of 20
  tokens, target side lowercased with punctuation (and ``¿``) stripped and wrapped in
  ``[start]``/``[end]``, source side with the default standardisation; token + learned
  position embeddings, one Transformer encoder and one decoder layer (256 wide,
  feed-forward 2048, 8 heads, causal self-attention), dropout 0.5 before the softmax;
  RMSprop, batch 64; greedy decoding up to 20 tokens.

Prints one JSON line per run, then a Markdown table with the mean ± half-range over seeds;
a few test translations per run go to stderr. Decoding speed covers the whole test split,
the one-off tracing of the decoding function included (as the recipe's own timing does).

    .venv/bin/python bench/translation_peers.py --minutes 5 --seeds 1 2
    .venv/bin/python bench/translation_peers.py --peers tf-tutorial --source es --target en
    .venv/bin/python bench/translation_peers.py --dataset ding_en_de --seeds 1 2
    .venv/bin/python bench/translation_peers.py --minutes 0.5 --seeds 1 --test-limit 300
"""

from __future__ import annotations

import argparse
import math
import re
import string
import sys
import time

import keras
import numpy as np
import tensorflow as tf
import tensorflow_text as tf_text
from keras import layers, ops
from timing import report

from nlp_lstm import corpora
from nlp_lstm.data import ParallelExamples
from nlp_lstm.metrics import translation_scores
from nlp_lstm.recipes.translation import config as translation_config
from nlp_lstm.recipes.translation.recipe import reference_pairs, references_by_source

DATASETS = ("tatoeba_en_es", "ding_en_de")
BATCH_SIZE = 64
DECODE_BATCH_SIZE = 256
ADAPT_BATCH_SIZE = 2048


def masked_loss(from_logits: bool):
    """Mean token cross-entropy over the non-padding targets (id 0 is padding).

    Args:
        from_logits: whether predictions are logits (else probabilities).

    Returns:
        A Keras loss function ``loss(y_true, y_pred)``.
    """

    def loss(y_true, y_pred):
        losses = keras.losses.sparse_categorical_crossentropy(
            y_true, y_pred, from_logits=from_logits
        )
        mask = ops.cast(ops.not_equal(y_true, 0), losses.dtype)
        return ops.sum(losses * mask) / ops.sum(mask)

    return loss


def adapted(vectorizer: layers.TextVectorization, texts: list[str]) -> layers.TextVectorization:
    """``vectorizer`` with its vocabulary built from ``texts`` (batched, so it is quick)."""
    vectorizer.adapt(tf.data.Dataset.from_tensor_slices(texts).batch(ADAPT_BATCH_SIZE))
    return vectorizer


class WallClockBudget(keras.callbacks.Callback):
    """Stops ``fit`` at the first batch boundary after ``seconds``; counts the steps."""

    def __init__(self, seconds: float):
        super().__init__()
        self.seconds, self.steps, self.start, self.loss = seconds, 0, 0.0, math.nan

    def on_train_begin(self, logs=None):
        self.start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        self.steps += 1
        self.loss = float((logs or {}).get("loss", math.nan))
        if time.perf_counter() - self.start >= self.seconds:
            self.model.stop_training = True


class Peer:
    """A peer architecture with its vocabularies: ``batches`` to train on, ``model`` to
    fit (compiled), ``decode`` (ids of a batch of source strings) and ``detokenize``."""

    name = ""
    model: keras.Model
    target_vocabulary: list[str]
    end_token = ""

    def batches(self, sources: list[str], targets: list[str]) -> tf.data.Dataset:
        raise NotImplementedError

    def decode(self, sources: tf.Tensor) -> tf.Tensor:
        """Greedy target ids ``[batch, steps]`` of a batch of source strings."""
        raise NotImplementedError

    def detokenize(self, words: list[str]) -> str:
        """Output words (special tokens already dropped) as one sentence."""
        return " ".join(words)

    def translate(self, sources: list[str]) -> list[str]:
        """Greedy translations of ``sources``, decoded in batches.

        Args:
            sources: source sentences.

        Returns:
            One detokenized translation per source.
        """
        translations = []
        for start in range(0, len(sources), DECODE_BATCH_SIZE):
            ids = self.decode(tf.constant(sources[start : start + DECODE_BATCH_SIZE])).numpy()
            for row in ids:
                words = []
                for token in (self.target_vocabulary[i] for i in row if i != 0):
                    if token == self.end_token:
                        break
                    words.append(token)
                translations.append(self.detokenize(words))
        return translations


def tutorial_standardize(text: tf.Tensor) -> tf.Tensor:
    """The tutorial's standardisation: accents split off (NFKD) and dropped with everything
    but ``a-z .?!,¿``, lowercase, punctuation as separate words, ``[START]``/``[END]``."""
    text = tf_text.normalize_utf8(text, "NFKD")
    text = tf.strings.lower(text)
    text = tf.strings.regex_replace(text, "[^ a-z.?!,¿]", "")
    text = tf.strings.regex_replace(text, "[.?!,¿]", r" \0 ")
    text = tf.strings.strip(text)
    return tf.strings.join(["[START]", text, "[END]"], separator=" ")


class TutorialTranslator(keras.Model):
    """Bidirectional-GRU encoder, GRU decoder with one-head cross-attention."""

    def __init__(self, source_vocabulary: int, target_vocabulary: int, units: int):
        super().__init__()
        self.source_embedding = layers.Embedding(source_vocabulary, units)
        self.encoder_rnn = layers.Bidirectional(
            layers.GRU(units, return_sequences=True, recurrent_initializer="glorot_uniform"),
            merge_mode="sum",
        )
        self.target_embedding = layers.Embedding(target_vocabulary, units)
        self.decoder_rnn = layers.GRU(
            units, return_sequences=True, return_state=True, recurrent_initializer="glorot_uniform"
        )
        self.attention = layers.MultiHeadAttention(num_heads=1, key_dim=units)
        self.add = layers.Add()
        self.norm = layers.LayerNormalization()
        self.logits = layers.Dense(target_vocabulary)

    def encode(self, source_ids: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """``(context, context mask)`` of padded source ids."""
        mask = ops.not_equal(source_ids, 0)
        return self.encoder_rnn(self.source_embedding(source_ids), mask=mask), mask

    def decode_steps(self, context, context_mask, target_ids, state=None):
        """``(logits, GRU state)`` for target ids, continuing from ``state``."""
        mask = ops.not_equal(target_ids, 0)
        x, state = self.decoder_rnn(
            self.target_embedding(target_ids), mask=mask, initial_state=state
        )
        attended = self.attention(query=x, value=context, value_mask=context_mask)
        return self.logits(self.norm(self.add([x, attended]))), state

    def call(self, inputs):
        source_ids, target_ids = inputs
        context, context_mask = self.encode(source_ids)
        return self.decode_steps(context, context_mask, target_ids)[0]


class TutorialPeer(Peer):
    """TensorFlow's "Neural machine translation with attention" tutorial."""

    name = "tf-tutorial"
    end_token = "[END]"
    max_tokens, units, max_length = 5000, 256, 50

    def __init__(self, sources: list[str], targets: list[str]):
        self.source_vectorizer, self.target_vectorizer = (
            adapted(
                layers.TextVectorization(
                    max_tokens=self.max_tokens, ragged=True, standardize=tutorial_standardize
                ),
                texts,
            )
            for texts in (sources, targets)
        )
        self.target_vocabulary = self.target_vectorizer.get_vocabulary()
        self.start_id, self.end_id = (
            self.target_vocabulary.index(token) for token in ("[START]", self.end_token)
        )
        self.model = TutorialTranslator(
            self.source_vectorizer.vocabulary_size(), len(self.target_vocabulary), self.units
        )
        self.model.compile(optimizer="adam", loss=masked_loss(from_logits=True), jit_compile=False)

    def batches(self, sources: list[str], targets: list[str]) -> tf.data.Dataset:
        """Shuffled batches of 64 ``((source, target input), target output)`` ids, padded
        to the longest sentence of the batch (the ids are computed once, here)."""
        source = self.source_vectorizer(tf.constant(sources))
        target = self.target_vectorizer(tf.constant(targets))

        def padded(inputs, outputs):
            return tuple(ids.to_tensor() for ids in inputs), outputs.to_tensor()

        return (
            tf.data.Dataset.from_tensor_slices(((source, target[:, :-1]), target[:, 1:]))
            .shuffle(len(sources))
            .ragged_batch(BATCH_SIZE)
            .map(padded, num_parallel_calls=tf.data.AUTOTUNE)
            .prefetch(tf.data.AUTOTUNE)
        )

    @tf.function(reduce_retracing=True)
    def decode(self, sources: tf.Tensor) -> tf.Tensor:
        """Greedy target ids ``[batch, steps]`` (0 after ``[END]``) of source strings."""
        context, context_mask = self.model.encode(self.source_vectorizer(sources).to_tensor())
        batch = tf.shape(sources)[0]
        token = tf.fill([batch, 1], tf.constant(self.start_id, tf.int64))
        state = tf.zeros([batch, self.units])
        done = tf.zeros([batch, 1], tf.bool)
        outputs = tf.TensorArray(tf.int64, size=self.max_length)
        for step in tf.range(self.max_length):
            logits, state = self.model.decode_steps(context, context_mask, token, state)
            token = tf.where(done, tf.constant(0, tf.int64), tf.argmax(logits, axis=-1))
            done |= token == self.end_id
            outputs = outputs.write(step, token[:, 0])
            if tf.reduce_all(done):
                break
        return tf.transpose(outputs.stack())

    def detokenize(self, words: list[str]) -> str:
        """Words joined by spaces, ``. ? ! ,`` attached to the word before, ``¿`` to the
        word after."""
        return re.sub(r"¿ ", "¿", re.sub(r" ([.?!,])", r"\1", " ".join(words)))


def keras_io_standardize(text: tf.Tensor) -> tf.Tensor:
    """The keras-io target standardisation: lowercase, ASCII punctuation and ``¿`` removed
    (square brackets kept for ``[start]``/``[end]``)."""
    strip = (string.punctuation + "¿").replace("[", "").replace("]", "")
    return tf.strings.regex_replace(tf.strings.lower(text), f"[{re.escape(strip)}]", "")


class PositionalEmbedding(layers.Layer):
    """Token embeddings plus learned position embeddings."""

    def __init__(self, length: int, vocabulary: int, dim: int, **kwargs):
        super().__init__(**kwargs)
        self.tokens = layers.Embedding(vocabulary, dim)
        self.positions = layers.Embedding(length, dim)

    def call(self, ids):
        return self.tokens(ids) + self.positions(ops.arange(ops.shape(ids)[-1]))


class TransformerEncoder(layers.Layer):
    """Self-attention and a feed-forward block, each followed by Add + LayerNormalization."""

    def __init__(self, dim: int, feed_forward: int, heads: int, **kwargs):
        super().__init__(**kwargs)
        self.attention = layers.MultiHeadAttention(num_heads=heads, key_dim=dim)
        self.feed_forward = keras.Sequential(
            [layers.Dense(feed_forward, activation="relu"), layers.Dense(dim)]
        )
        self.norm_1, self.norm_2 = layers.LayerNormalization(), layers.LayerNormalization()

    def call(self, x, padding_mask):
        x = self.norm_1(x + self.attention(query=x, value=x, key=x, value_mask=padding_mask))
        return self.norm_2(x + self.feed_forward(x))


class TransformerDecoder(layers.Layer):
    """Causal self-attention, cross-attention and a feed-forward block, each followed by
    Add + LayerNormalization."""

    def __init__(self, dim: int, feed_forward: int, heads: int, **kwargs):
        super().__init__(**kwargs)
        self.self_attention = layers.MultiHeadAttention(num_heads=heads, key_dim=dim)
        self.cross_attention = layers.MultiHeadAttention(num_heads=heads, key_dim=dim)
        self.feed_forward = keras.Sequential(
            [layers.Dense(feed_forward, activation="relu"), layers.Dense(dim)]
        )
        self.norm_1, self.norm_2, self.norm_3 = (layers.LayerNormalization() for _ in range(3))

    def call(self, x, context, context_mask):
        x = self.norm_1(x + self.self_attention(query=x, value=x, key=x, use_causal_mask=True))
        x = self.norm_2(
            x + self.cross_attention(query=x, value=context, key=context, value_mask=context_mask)
        )
        return self.norm_3(x + self.feed_forward(x))


class KerasIoTranslator(keras.Model):
    """One Transformer encoder and one decoder layer, dropout, softmax."""

    def __init__(
        self,
        length: int,
        source_vocabulary: int,
        target_vocabulary: int,
        dim: int = 256,
        feed_forward: int = 2048,
        heads: int = 8,
    ):
        super().__init__()
        self.source_embedding = PositionalEmbedding(length, source_vocabulary, dim)
        self.encoder = TransformerEncoder(dim, feed_forward, heads)
        self.target_embedding = PositionalEmbedding(length, target_vocabulary, dim)
        self.decoder = TransformerDecoder(dim, feed_forward, heads)
        self.dropout = layers.Dropout(0.5)
        self.probabilities = layers.Dense(target_vocabulary, activation="softmax")

    def encode(self, source_ids):
        """``(context, context mask)`` of padded source ids."""
        mask = ops.not_equal(source_ids, 0)
        return self.encoder(self.source_embedding(source_ids), mask), mask

    def decode_steps(self, context, context_mask, target_ids, training=None):
        """Next-token probabilities at every target position."""
        x = self.decoder(self.target_embedding(target_ids), context, context_mask)
        return self.probabilities(self.dropout(x, training=training))

    def call(self, inputs, training=None):
        source_ids, target_ids = inputs
        return self.decode_steps(*self.encode(source_ids), target_ids, training=training)


class KerasIoPeer(Peer):
    """The keras-io sequence-to-sequence Transformer example."""

    name = "keras-io-transformer"
    end_token = "[end]"
    max_tokens, length = 15000, 20

    def __init__(self, sources: list[str], targets: list[str]):
        self.source_vectorizer = adapted(
            layers.TextVectorization(
                max_tokens=self.max_tokens, output_sequence_length=self.length
            ),
            sources,
        )
        self.target_vectorizer = adapted(
            layers.TextVectorization(
                max_tokens=self.max_tokens,
                output_sequence_length=self.length + 1,
                standardize=keras_io_standardize,
            ),
            self.wrapped(targets),
        )
        self.target_vocabulary = self.target_vectorizer.get_vocabulary()
        self.start_id, self.end_id = (
            self.target_vocabulary.index(token) for token in ("[start]", self.end_token)
        )
        self.model = KerasIoTranslator(
            self.length, self.source_vectorizer.vocabulary_size(), len(self.target_vocabulary)
        )
        self.model.compile(optimizer="rmsprop", loss=masked_loss(from_logits=False))

    @staticmethod
    def wrapped(targets: list[str]) -> list[str]:
        """Target sentences between ``[start]`` and ``[end]``."""
        return [f"[start] {target} [end]" for target in targets]

    def batches(self, sources: list[str], targets: list[str]) -> tf.data.Dataset:
        """Shuffled batches of 64 ``((source, target input), target output)`` ids, 20
        tokens each (the ids are computed once, here)."""
        source = self.source_vectorizer(tf.constant(sources))
        target = self.target_vectorizer(tf.constant(self.wrapped(targets)))
        return (
            tf.data.Dataset.from_tensor_slices(((source, target[:, :-1]), target[:, 1:]))
            .shuffle(len(sources))
            .batch(BATCH_SIZE)
            .prefetch(tf.data.AUTOTUNE)
        )

    @tf.function(reduce_retracing=True)
    def decode(self, sources: tf.Tensor) -> tf.Tensor:
        """Greedy target ids ``[batch, 20]`` (after ``[start]``) of source strings."""
        context, context_mask = self.model.encode(self.source_vectorizer(sources))
        batch = tf.shape(sources)[0]
        positions = tf.range(self.length, dtype=tf.int64)[tf.newaxis]
        tokens = tf.concat(
            [
                tf.fill([batch, 1], tf.constant(self.start_id, tf.int64)),
                tf.zeros([batch, self.length - 1], tf.int64),
            ],
            axis=1,
        )
        outputs = tf.TensorArray(tf.int64, size=self.length)
        done = tf.zeros([batch], tf.bool)
        for step in tf.range(self.length):
            probabilities = self.model.decode_steps(context, context_mask, tokens)
            token = tf.argmax(probabilities[:, step], axis=-1)
            tokens = tf.where(
                positions == tf.cast(step, tf.int64) + 1, token[:, tf.newaxis], tokens
            )
            outputs = outputs.write(step, token)
            done |= token == self.end_id
            if tf.reduce_all(done):
                break
        return tf.transpose(outputs.stack())


PEERS = {peer.name: peer for peer in (TutorialPeer, KerasIoPeer)}


def run(peer_class: type[Peer], seed: int, minutes: float, splits: dict, samples: int) -> dict:
    """Trains one peer for ``minutes`` of ``fit`` time and scores it on the test split.

    Args:
        peer_class: the peer to build.
        seed: for ``keras.utils.set_random_seed``.
        minutes: training budget.
        splits: ``{"train": (sources, targets), "test": (sources, references)}``.
        samples: how many test translations to print to stderr.

    Returns:
        The run's figures (one JSON line's fields).
    """
    keras.utils.set_random_seed(seed)
    train_sources, train_targets = splits["train"]
    peer = peer_class(train_sources, train_targets)
    batches = peer.batches(train_sources, train_targets)
    budget = WallClockBudget(60 * minutes)
    start = time.perf_counter()
    peer.model.fit(batches, epochs=10**6, shuffle=False, verbose=0, callbacks=[budget])
    training_seconds = time.perf_counter() - start
    test_sources, references = splits["test"]
    start = time.perf_counter()
    hypotheses = peer.translate(test_sources)
    decode_seconds = time.perf_counter() - start
    for source, hypothesis, refs in list(zip(test_sources, hypotheses, references))[:samples]:
        print(f"[{peer.name}] {source} -> {hypothesis}  (reference: {refs[0]})", file=sys.stderr)
    scores = translation_scores(hypotheses, references)
    steps_per_epoch = math.ceil(len(train_sources) / BATCH_SIZE)
    return {
        "peer": peer.name,
        "seed": seed,
        "minutes": minutes,
        "training_seconds": round(training_seconds, 1),
        "steps": budget.steps,
        "epochs": round(budget.steps / steps_per_epoch, 2),
        "final_loss": round(budget.loss, 4),
        "parameters": peer.model.count_params(),
        "bleu_lowercase_nopunct": round(scores["bleu_lowercase_nopunct"], 2),
        "bleu": round(scores["bleu"], 2),
        "chrf": round(scores["chrf"], 2),
        "sentences": scores["sentences"],
        "sentences_per_second": round(len(hypotheses) / decode_seconds, 1),
    }


def load_splits(dataset: str, source: str, target: str, test_limit: int | None) -> dict:
    """Training pairs and distinct test sources with their references, ``source`` ->
    ``target``.

    Args:
        dataset: a bundled translation corpus.
        source: source language code.
        target: target language code.
        test_limit: score only the first this many distinct test sources (all if None).

    Returns:
        ``{"train": (sources, targets), "test": (sources, references)}``.
    """
    languages = corpora.get(dataset).languages

    def pairs(split: str) -> tuple[list[str], list[str]]:
        columns = dict(zip(languages, corpora.load(dataset, split)))
        return columns[source], columns[target]

    quick = translation_config.PRESETS[dataset]["quick"]
    alternatives = quick.get("alternatives", translation_config.CONFIG.alternatives)
    test = reference_pairs(ParallelExamples(*pairs("test")), alternatives)
    test_sources, references = references_by_source(test)
    return {"train": pairs("train"), "test": (test_sources[:test_limit], references[:test_limit])}


def mean_and_spread(values: list[float], digits: int) -> str:
    """``mean ± half the range`` of ``values``."""
    return f"{np.mean(values):.{digits}f} ± {(max(values) - min(values)) / 2:.{digits}f}"


def print_table(results: list[dict]) -> None:
    """The runs as a Markdown table, with mean ± half-range over seeds per peer."""
    columns = (
        ("steps", 0),
        ("bleu_lowercase_nopunct", 2),
        ("bleu", 2),
        ("chrf", 2),
        ("sentences_per_second", 0),
    )
    print(
        "\n| peer | seed | budget (min) | steps | test BLEU (lowercase, no punct.) | cased BLEU "
        "| chrF | decode sent/s |\n|---|---|---|---|---|---|---|---|"
    )
    for name in dict.fromkeys(r["peer"] for r in results):
        runs = [r for r in results if r["peer"] == name]
        for r in runs:
            print(
                f"| {name} | {r['seed']} | {r['minutes']:g} | "
                + " | ".join(f"{r[key]:.{digits}f}" for key, digits in columns)
                + " |"
            )
        if len(runs) > 1:
            print(
                f"| {name} | mean ± half-range | {runs[0]['minutes']:g} | "
                + " | ".join(
                    mean_and_spread([r[key] for r in runs], digits) for key, digits in columns
                )
                + " |"
            )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--peers", nargs="+", choices=list(PEERS), default=list(PEERS))
    parser.add_argument(
        "--minutes", type=float, default=5.0, help="training budget per run (time spent in fit)"
    )
    parser.add_argument("--seeds", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--dataset", choices=DATASETS, default=DATASETS[0])
    parser.add_argument("--source", help="source language code (default: the corpus's first)")
    parser.add_argument("--target", help="target language code (default: the corpus's other)")
    parser.add_argument(
        "--test-limit", type=int, default=None, help="score only the first N distinct test sources"
    )
    parser.add_argument(
        "--samples", type=int, default=3, help="test translations per run to print to stderr"
    )
    args = parser.parse_args(argv)
    languages = corpora.get(args.dataset).languages
    source = args.source or next(code for code in languages if code != args.target)
    target = args.target or next(code for code in languages if code != source)
    if {source, target} != set(languages):
        parser.error(f"--source and --target: {args.dataset} translates between {languages}")
    splits = load_splits(args.dataset, source, target, args.test_limit)
    results = []
    for name in args.peers:
        for seed in args.seeds:
            result = run(PEERS[name], seed, args.minutes, splits, args.samples)
            report(
                "translation_peers", dataset=args.dataset, source=source, target=target, **result
            )
            results.append(result)
    print_table(results)


if __name__ == "__main__":
    main()
