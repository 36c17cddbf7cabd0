#!/usr/bin/env python3
"""Trains every recipe with every recurrent cell and prints the comparison table.

    .venv/bin/python bench/cell_comparison.py --preset quick
    .venv/bin/python bench/cell_comparison.py --preset full --recipes sentiment --cells gru peephole

Each (recipe, cell) trains with ``recipes/<recipe>.py train --preset P --cell C`` into
``runs/cells-<preset>/<recipe>-<cell>/`` (exports go to the same folder). A run whose
``metrics.json`` exists is not trained again, so the table can be filled over several
sittings. Prints one JSON line per run, then the Markdown table of all finished runs,
with the precision each was trained in (runs from before ``--precision`` existed were
float32). Compare tokens/s only between rows of one precision.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from nlp_lstm.config import CELLS, PRECISIONS
from nlp_lstm.recipes import NAMES as RECIPES

ROOT = Path(__file__).resolve().parents[1]


def quality(recipe: str, metrics: dict) -> str:
    if recipe == "sentiment":
        return f"accuracy {metrics['test']['accuracy']:.3f}"
    if recipe == "generation":
        return f"{metrics['test']['bits_per_char']:.3f} bits/char"
    test = metrics["test"]
    return f"BLEU {test['greedy']['bleu']:.2f} / {test['beam']['bleu']:.2f} (greedy / beam)"


def precision(metrics: dict) -> str:
    return metrics.get("precision", "float32").removeprefix("mixed_")


def train(recipe: str, cell: str, preset: str, folder: Path, precision_name: str) -> dict:
    metrics_file = folder / "run" / "metrics.json"
    if not metrics_file.exists():
        command = [
            sys.executable,
            str(ROOT / "recipes" / f"{recipe}.py"),
            "train",
            "--preset",
            preset,
            "--cell",
            cell,
            "--run-dir",
            str(folder / "run"),
            "--export-dir",
            str(folder / "exports"),
            "--precision",
            precision_name,
        ]
        print("$", " ".join(command), file=sys.stderr, flush=True)
        subprocess.run(command, check=True, stdout=sys.stderr)
    return json.loads(metrics_file.read_text())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", choices=("quick", "full"), default="quick")
    parser.add_argument("--recipes", nargs="+", choices=list(RECIPES), default=list(RECIPES))
    parser.add_argument("--cells", nargs="+", choices=CELLS, default=list(CELLS))
    parser.add_argument(
        "--precision",
        choices=PRECISIONS,
        default="auto",
        help="for the runs trained now (finished runs keep theirs)",
    )
    parser.add_argument("--runs", type=Path, default=ROOT / "runs")
    args = parser.parse_args(argv)
    base = args.runs / f"cells-{args.preset}"
    for recipe in args.recipes:
        for cell in args.cells:
            metrics = train(recipe, cell, args.preset, base / f"{recipe}-{cell}", args.precision)
            print(
                json.dumps(
                    {
                        "recipe": recipe,
                        "cell": cell,
                        "preset": args.preset,
                        "quality": quality(recipe, metrics),
                        "precision": precision(metrics),
                        "parameters": metrics["parameters"],
                        "tokens_per_second": round(metrics["tokens_per_second"]),
                        "training_seconds": round(metrics["training_seconds"]),
                    }
                ),
                flush=True,
            )
    print(
        f"\n| recipe ({args.preset}) | cell | test quality | parameters | precision "
        "| training tokens/s | training time |\n|---|---|---|---|---|---|---|"
    )
    for recipe in RECIPES:
        for cell in CELLS:
            metrics_file = base / f"{recipe}-{cell}" / "run" / "metrics.json"
            if metrics_file.exists():
                m = json.loads(metrics_file.read_text())
                print(
                    f"| {recipe} | {cell} | {quality(recipe, m)} | {m['parameters']:,} | "
                    f"{precision(m)} | "
                    f"{m['tokens_per_second']:,.0f} | {m['training_seconds'] / 60:.1f} min |"
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
