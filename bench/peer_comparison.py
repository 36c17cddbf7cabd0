#!/usr/bin/env python3
"""Training speed against the PyTorch peer, both precisions, alternating: a ratio table.

Runs ``bench/training_speed.py`` (ours) and ``bench/torch_lstm_peer.py`` (PyTorch
``nn.LSTM``) at the same shape (the language model: vocabulary 80, embedding 64,
2 x LSTM 512, sequences of 100, batch 64, Adam), in float32 and in bfloat16 (ours
``--precision bfloat16``, PyTorch autocast), alternating ours and the peer's so that a
drift of the machine's speed touches both, ``--rounds`` times each. Prints every run's
JSON line, then a Markdown table of training tokens/s with the ratio of the means.
Needs PyTorch (the ``bench`` extra); ``make bench-peer`` runs it.

    .venv/bin/python bench/peer_comparison.py --rounds 2
"""

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent
SCRIPTS = {"ours": "training_speed.py", "PyTorch": "torch_lstm_peer.py"}


def tokens_per_s(script: str, precision: str) -> float:
    """Runs one benchmark script in its own process and returns its ``tokens_per_s``."""
    result = subprocess.run(
        [sys.executable, str(BENCH / script), "--precision", precision],
        capture_output=True,
        text=True,
        check=False,
    )
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    if result.returncode or not lines:
        raise SystemExit(f"{script} --precision {precision} failed:\n{result.stderr[-2000:]}")
    print(lines[-1], flush=True)
    return json.loads(lines[-1])["tokens_per_s"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2, help="runs of each, alternating")
    parser.add_argument(
        "--precisions", nargs="+", choices=("float32", "bfloat16"), default=["float32", "bfloat16"]
    )
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")

    speeds = {(who, p): [] for who in SCRIPTS for p in args.precisions}
    for _ in range(args.rounds):
        for precision in args.precisions:
            for who, script in SCRIPTS.items():
                speeds[who, precision].append(tokens_per_s(script, precision))

    print("\n| precision | ours, tokens/s | PyTorch, tokens/s | ratio |")
    print("|---|---|---|---|")
    for precision in args.precisions:
        ours, peer = speeds["ours", precision], speeds["PyTorch", precision]
        ratio = statistics.mean(ours) / statistics.mean(peer)
        listed = [" / ".join(f"{value:,.0f}" for value in values) for values in (ours, peer)]
        print(f"| {precision} | {listed[0]} | {listed[1]} | **{ratio:.2f}** |")


if __name__ == "__main__":
    main()
