#!/usr/bin/env python3
"""Sentiment export speed: latency at batch 1 and sentences per second at batch 1 and 64.

Classifies test sentences of the bundled Rotten Tomatoes corpus (read from its gzip
file, so only tensorflow and tensorflow_text are imported, as any consumer would);
warm-up excluded. Batch 1 reports the median (p50) and p90 latency over
``--sentences`` calls; batch 64, the median of ``--repeats`` passes. One JSON line each.

    .venv/bin/python bench/sentiment_speed.py --model saved_models/sentiment
"""

import argparse
import gzip
from pathlib import Path

import numpy as np
import tensorflow as tf
import tensorflow_text  # noqa: F401  (SentencePiece ops)
from timing import median, newest_version, report, seconds_per_call

TEST = Path(__file__).resolve().parents[1] / "nlp_lstm/corpora/rotten_tomatoes/test.tsv.gz"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="saved_models/sentiment")
    parser.add_argument("--sentences", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    path = newest_version(args.model)
    classify = tf.saved_model.load(path).signatures["serving_default"]
    with gzip.open(TEST, "rt", encoding="utf-8") as f:
        texts = [line.split("\t")[0] for line in f.read().splitlines()[1:]][: args.sentences]

    latencies = []
    for text in texts[:200]:
        latencies += seconds_per_call(
            lambda: classify(text=tf.constant([text]))["label"].numpy(), 1
        )
    report(
        "sentiment_speed",
        export=path,
        batch=1,
        calls=len(latencies),
        p50_ms=round(1000 * float(np.percentile(latencies, 50)), 2),
        p90_ms=round(1000 * float(np.percentile(latencies, 90)), 2),
        sentences_per_second=round(1 / median(latencies), 1),
    )

    batches = [tf.constant(texts[i : i + 64]) for i in range(0, len(texts), 64)]
    seconds = median(
        seconds_per_call(
            lambda: [classify(text=batch)["label"].numpy() for batch in batches], args.repeats
        )
    )
    report(
        "sentiment_speed",
        export=path,
        batch=64,
        sentences=len(texts),
        ms_per_batch=round(1000 * seconds / len(batches), 1),
        sentences_per_second=round(len(texts) / seconds, 1),
    )


if __name__ == "__main__":
    main()
