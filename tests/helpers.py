"""Helpers shared by the tests: user files in the recipes' formats, training through the
runner, and tiny real exports of the three recipes."""

import threading
from pathlib import Path

from nlp_lstm import corpora, runner

_build_lock = threading.Lock()


def write_labelled(path: Path, texts, labels) -> Path:
    """A labelled TSV (``text``, ``label``), as the sentiment recipe reads it."""
    path.write_text("text\tlabel\n" + "".join(f"{t}\t{label}\n" for t, label in zip(texts, labels)))
    return path


def write_pairs(path: Path, sources, targets, languages=("en", "de")) -> Path:
    """A TSV of sentence pairs with a header of language codes, as translation reads it."""
    rows = "".join(f"{s}\t{t}\n" for s, t in zip(sources, targets))
    path.write_text("\t".join(languages) + "\n" + rows)
    return path


def train(recipe: str, *flags: str) -> int:
    """``nlp-lstm train RECIPE FLAGS``, in this process; returns the exit status."""
    return runner.main(recipe, ["train", *flags], script=False)


def tiny_exports(root: Path) -> Path:
    """Trains tiny sentiment, generation and translation models through the runner and
    returns ``root/models`` holding their ``<recipe>/1`` exports (about 40 s on 2 cores;
    built once per pytest process, see ``conftest.tiny_exports``)."""
    models = root / "models"
    with _build_lock:
        if (root / "built").exists():
            return models
        root.mkdir(parents=True, exist_ok=True)
        texts, labels = corpora.load("rotten_tomatoes", "train")
        reviews = write_labelled(root / "reviews.tsv", texts[:400], labels[:400])
        (root / "plays.txt").write_text(corpora.load("shakespeare", "train")[:40_000])
        english, german = corpora.load("ding_en_de", "train")
        pairs = write_pairs(root / "pairs.tsv", english[:300], german[:300])
        flags = {
            "sentiment": f"--data {reviews} --vocabulary-size 200 --embedding-dim 8 "
            "--lstm-units 8 --sequence-length 32 --epochs 1 --batch-size 64",
            "generation": f"--data {root / 'plays.txt'} --embedding-dim 8 --lstm-units 16 "
            "--sequence-length 32 --batch-size 32 --epochs 1 --steps-per-epoch 5",
            "translation": f"--data {pairs} --target de --vocabulary-size 200 --embedding-dim 16 "
            "--encoder-units 16 --decoder-units 16 --epochs 1 --batch-size 64 --beam-size 2",
        }
        for recipe, recipe_flags in flags.items():
            run = ["--run-dir", str(root / "runs" / recipe), "--export-dir", str(models / recipe)]
            assert train(recipe, *recipe_flags.split(), *run) == 0
        (root / "built").touch()
    return models
