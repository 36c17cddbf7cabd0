#!/usr/bin/env python3
"""How training time and memory grow: prints the README's scaling tables (markdown).

* Corpus size: seconds per epoch of the quick sentiment recipe on 25 %, 50 % and
  100 % of the bundled training split (from the runs' ``training_seconds``).
* Sequence length: seconds per step of the character language model (2 x LSTM 512,
  batch 64) at 50, 100 and 200 steps.
* Batch and hidden size: peak resident memory and tokens/s of the same model.

Every measurement runs in a fresh process (``bench/training_speed.py`` or the recipe),
so peak memory is that setting's alone.

    .venv/bin/python bench/scaling.py [--precision auto]
"""

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from nlp_lstm import corpora

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent


def training_speed(precision: str, **shape) -> dict:
    flags = [f"--{name}={value}" for name, value in shape.items()]
    out = subprocess.run(
        [
            sys.executable,
            str(BENCH / "training_speed.py"),
            "--steps",
            "10",
            f"--precision={precision}",
            *flags,
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def sentiment_epoch_seconds(precision: str, fraction: float, folder: Path) -> tuple[int, float]:
    """``(training examples, seconds per epoch)`` of the quick sentiment recipe on the
    first ``fraction`` of the corpus's training split (which it splits 80/10/10 again).

    An epoch's seconds are the difference between a 3-epoch and a 1-epoch run, halved:
    the one-off tracing of the first epoch cancels out.
    """
    texts, labels = corpora.load("rotten_tomatoes", "train")
    count = int(len(texts) * fraction)
    data = folder / f"reviews-{count}.tsv"
    data.write_text(
        "text\tlabel\n"
        + "".join(f"{t}\t{label}\n" for t, label in zip(texts[:count], labels[:count]))
    )
    seconds = {}
    for epochs in (1, 3):
        run = folder / f"run-{count}-{epochs}"
        subprocess.run(
            [
                sys.executable,
                str(ROOT / "recipes/sentiment.py"),
                "train",
                "--data",
                str(data),
                "--epochs",
                str(epochs),
                f"--precision={precision}",
                "--run-dir",
                str(run),
                "--export-dir",
                str(folder / "exports"),
            ],
            check=True,
            capture_output=True,
        )
        metrics = json.loads((run / "metrics.json").read_text())
        seconds[epochs] = metrics["training_seconds"]
    return metrics["train"]["examples"], (seconds[3] - seconds[1]) / 2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--precision", default="auto")
    args = parser.parse_args()
    print("| training examples | one epoch, sentiment quick |\n|---|---|")
    with tempfile.TemporaryDirectory() as folder:
        for fraction in (0.25, 0.5, 1.0):
            count, seconds = sentiment_epoch_seconds(args.precision, fraction, Path(folder))
            print(f"| {count:,} | {seconds:.1f} s |", flush=True)
    print("\n| sequence length | seconds per step | tokens/s |\n|---|---|---|")
    for seq in (50, 100, 200):
        result = training_speed(args.precision, seq=seq)
        print(
            f"| {seq} | {result['seconds_per_step']['median']:.3f} | "
            f"{result['tokens_per_s']:,.0f} |",
            flush=True,
        )
    print("\n| batch | hidden units | peak memory | tokens/s |\n|---|---|---|---|")
    for batch, units in ((16, 512), (64, 512), (256, 512), (64, 128), (64, 256), (64, 1024)):
        result = training_speed(args.precision, batch=batch, units=units)
        print(
            f"| {batch} | {units} | {result['peak_memory_mb']:,} MB | "
            f"{result['tokens_per_s']:,.0f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
