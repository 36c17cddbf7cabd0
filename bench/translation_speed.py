#!/usr/bin/env python3
"""Translation speed of a translation export: sentences per second.

Translates English test sentences of the bundled Tatoeba corpus, spread evenly over its
test file (read straight from the gzip file, so only tensorflow and tensorflow_text are
imported), at batch 1 and batch 64,
with greedy search and beam search; warm-up excluded, median of several repeats.
Prints one JSON line per setting.

    .venv/bin/python bench/translation_speed.py --model saved_models/translation
"""

import argparse
import gzip
from pathlib import Path

import tensorflow as tf
import tensorflow_text  # noqa: F401  (SentencePiece ops, as any consumer would load)
from timing import median, newest_version, report, seconds_per_call

TEST_PAIRS = Path(__file__).resolve().parents[1] / "nlp_lstm/corpora/tatoeba_en_es/test.tsv.gz"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="saved_models/translation")
    parser.add_argument("--sentences", type=int, default=256, help="sentences per measurement")
    parser.add_argument("--beam-size", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    path = newest_version(args.model)
    translate = tf.saved_model.load(path).signatures["translate"]
    with gzip.open(TEST_PAIRS, "rt", encoding="utf-8") as f:
        english = [line.split("\t")[0] for line in f.read().splitlines()[1:]]
    sources = english[:: max(1, len(english) // args.sentences)][: args.sentences]
    for batch in (1, 64):
        for search, beam in (("greedy", 1), ("beam", args.beam_size)):
            count = min(len(sources), 32 if batch == 1 else len(sources))
            batches = [sources[i : i + batch] for i in range(0, count, batch)]

            def run():
                for chunk in batches:
                    translate(
                        source=tf.constant(chunk),
                        beam_size=tf.constant(beam),
                        max_length=tf.constant(0),
                    )["translation"].numpy()

            seconds = median(seconds_per_call(run, args.repeats))
            report(
                "translation_speed",
                export=path,
                batch=batch,
                search=search,
                beam_size=beam,
                sentences=count,
                seconds_median=round(seconds, 3),
                sentences_per_second=round(count / seconds, 1),
                ms_per_batch=round(1000 * seconds / len(batches), 1),
            )


if __name__ == "__main__":
    main()
