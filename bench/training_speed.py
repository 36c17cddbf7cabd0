#!/usr/bin/env python3
"""Training throughput of a recipe's model: tokens per second, one JSON line.

Trains the library's own model on random token ids at a given shape with Adam and the
recipe's loss, times each of ``--steps`` steps after ``--warmup`` untimed ones, and
reports the median step. The default shape is the one of the PyTorch peer
(``bench/torch_lstm_peer.py``): a character language model with a
vocabulary of 80, embedding 64, 2 x LSTM 512, sequences of 100, batch 64. Run both in
one sitting and compare ``tokens_per_s`` (a machine's speed drifts; a ratio holds):

    .venv/bin/python bench/training_speed.py                        # precision auto
    .venv/bin/python bench/training_speed.py --precision float32
    .venv/bin/python bench/torch_lstm_peer.py --precision float32   # make bench-peer

``--model sentiment`` and ``--model translation`` time those recipes' models
(``--units`` per direction in the encoder; translation decodes ``--seq`` target
tokens from ``--seq`` source tokens, and counts both). ``peak_memory_mb`` is the
process's peak resident memory (TensorFlow itself takes about 0.7 GB of it). The
translation full preset's model, whose steps take about as long at 24 tokens a side
(0.38 to 0.40 s, float32) as the recipe's bucketed batches (0.35 to 0.46 s):

    .venv/bin/python bench/training_speed.py --model translation --vocab 4000 --embed 256 \
        --units 256 --layers 1 --decoder-units 256 --tied-embeddings --seq 24
"""

import argparse
import resource
import statistics
import time

import keras
import numpy as np
import tensorflow as tf
from timing import add_shape_arguments, report

from nlp_lstm.config import CELLS
from nlp_lstm.losses import MaskedSequenceCrossEntropy
from nlp_lstm.models.generation import build_char_language_model
from nlp_lstm.models.sentiment import build_sentiment_classifier
from nlp_lstm.models.translation import Translator
from nlp_lstm.precision import PRECISIONS, set_precision


def build(args) -> tuple[keras.Model, keras.losses.Loss]:
    if args.model == "lm":
        model = build_char_language_model(
            args.vocab, args.embed, args.units, args.layers, dropout=0.0, cell=args.cell
        )
        return model, keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    if args.model == "sentiment":
        model = build_sentiment_classifier(
            args.vocab, 2, args.embed, args.units, args.layers, cell=args.cell
        )
        return model, keras.losses.SparseCategoricalCrossentropy()
    model = Translator(
        args.vocab,
        args.embed,
        args.units,
        args.layers,
        args.decoder_units or 2 * args.units,
        cell=args.cell,
        tied_embeddings=args.tied_embeddings,
        input_feeding=not args.no_input_feeding,
    )
    return model, MaskedSequenceCrossEntropy(0.1)


def batches(args, count: int):
    """``count`` batches of random ids, cycled; with ``args.padded``, each side of each
    row has a random length from half of ``--seq`` to all of it, then padding (0)."""
    rng = np.random.default_rng(0)

    def ids():
        values = rng.integers(1, args.vocab, (count * args.batch, args.seq)).astype("int32")
        if args.padded:
            lengths = rng.integers(args.seq // 2, args.seq + 1, (count * args.batch, 1))
            values[np.arange(args.seq)[None] >= lengths] = 0
        return values

    if args.model == "lm":
        inputs, targets = ids(), ids()
    elif args.model == "sentiment":
        inputs, targets = ids(), rng.integers(0, 2, count * args.batch).astype("int32")
    else:
        targets = ids()
        start = np.full_like(targets[:, :1], 1)  # target inputs: a start id, then targets
        inputs = (ids(), np.concatenate([start, targets[:, :-1]], 1) * (targets > 0))
    return tf.data.Dataset.from_tensor_slices((inputs, targets)).batch(args.batch).repeat()


def real_tokens_per_batch(args, data: tf.data.Dataset, count: int) -> float:
    """Tokens that are not padding in a batch, on average over the ``count`` batches
    (source and target sides for translation)."""
    inputs = [batch[0] for batch in data.take(count)]
    if args.model == "translation":
        inputs = [source for source, _ in inputs]
        targets = [batch[1] for batch in data.take(count)]
        return float(np.count_nonzero(inputs) + np.count_nonzero(targets)) / count
    return float(np.count_nonzero(inputs)) / count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=("lm", "sentiment", "translation"), default="lm")
    parser.add_argument("--cell", choices=CELLS, default="lstm")
    parser.add_argument("--precision", choices=PRECISIONS, default="auto")
    add_shape_arguments(parser)
    parser.add_argument(
        "--decoder-units", type=int, help="translation: the decoder's width (default 2 x --units)"
    )
    parser.add_argument(
        "--tied-embeddings",
        action="store_true",
        help="translation: score with the embedding matrix (needs "
        "--decoder-units equal to --embed)",
    )
    parser.add_argument(
        "--padded",
        action="store_true",
        help="rows of random lengths (half of --seq to all of it) and padding, as in the "
        "sentiment and translation recipes' batches; tokens/s counts real tokens only",
    )
    parser.add_argument(
        "--no-input-feeding",
        action="store_true",
        help="translation: the decoder does not read its previous attentional vector",
    )
    args = parser.parse_args()

    policy = set_precision(args.precision)
    keras.utils.set_random_seed(0)
    model, loss = build(args)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=loss)
    ends = []
    record = keras.callbacks.LambdaCallback(
        on_train_batch_end=lambda batch, logs: ends.append(time.perf_counter())
    )
    data = batches(args, 8)
    model.fit(
        data,
        steps_per_epoch=args.warmup + args.steps,
        epochs=1,
        verbose=0,
        callbacks=[record],
    )
    step_seconds = np.diff(ends[args.warmup - 1 :])
    tokens = real_tokens_per_batch(args, data, 8)
    report(
        "training_speed",
        model=args.model,
        cell=args.cell,
        policy=policy,
        tokens_per_s=round(tokens / statistics.median(step_seconds), 1),
        seconds_per_step={
            "median": round(statistics.median(step_seconds), 4),
            "min": round(min(step_seconds), 4),
            "max": round(max(step_seconds), 4),
        },
        steps=len(step_seconds),
        peak_memory_mb=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        shape={
            k: getattr(args, k)
            for k in (
                "vocab",
                "embed",
                "units",
                "layers",
                "seq",
                "batch",
                "decoder_units",
                "tied_embeddings",
                "padded",
            )
        },
    )


if __name__ == "__main__":
    main()
