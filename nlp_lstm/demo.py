"""``make demo``: the toolkit end to end on the bundled corpora.

Lists the corpora, then for each recipe trains the quick preset, exports it, and
reads results back from the SavedModel.
"""

from __future__ import annotations

import random
import sys
import time

from nlp_lstm import import_tensorflow

import_tensorflow()  # before anything imports it, quietly

import tensorflow as tf  # noqa: E402

from nlp_lstm import cli, corpora, runner, serving  # noqa: E402
from nlp_lstm.data import ParallelExamples  # noqa: E402
from nlp_lstm.recipes.translation.config import DEFAULT_CORPUS  # noqa: E402
from nlp_lstm.recipes.translation.recipe import references_by_source  # noqa: E402

SENTENCES = [
    "A warm, funny and beautifully acted film.",
    "Tedious, overlong and badly written.",
    "The plot is thin, but the performances carry it.",
    "",
]
PROMPTS = ["ROMEO:\n", "KING HENRY:\nWhat"]
# Everyday sentences that occur nowhere in the corpus (a test pins that).
ENGLISH = [
    "I would like a cup of coffee, please.",
    "My sister lives in a small town near the sea.",
    "We are going to the beach tomorrow.",
    "The children are playing in the garden.",
    "The weather is nice today.",
    "He works in a big company.",
]
TEST_SENTENCES = 5


def train(recipe: str) -> None:
    """Trains the recipe's quick preset into ``saved_models/<recipe>``; exits on failure."""
    flags = ["--run-dir", f"runs/demo-{recipe}", "--export-dir", f"saved_models/{recipe}"]
    if runner.main(recipe, ["train", "--preset", "quick", *flags], script=False) != 0:
        raise SystemExit(1)


def demo_sentiment() -> None:
    print("\n== Sentiment: quick preset on Rotten Tomatoes")
    train("sentiment")
    model = serving.load("saved_models/sentiment", "sentiment")
    outputs = serving.run_batched(model.signature, {"text": SENTENCES}, batch_size=64)
    print(f"\n== Predictions read back from {model.path}")
    for text, label, probabilities in zip(SENTENCES, outputs["label"], outputs["probabilities"]):
        print(f"  {label.decode():<9} p={probabilities.max():.2f}  {text!r}")


def demo_generation() -> None:
    print("\n== Character-level generation: quick preset on Shakespeare")
    train("generation")
    model = serving.load("saved_models/generation", "generation")
    out = model.signature(
        prompt=tf.constant(PROMPTS),
        max_new_chars=tf.constant(250),
        temperature=tf.constant(0.7),
        top_k=tf.constant(0),
        top_p=tf.constant(0.95),
        seed=tf.constant(7, tf.int64),
    )
    print(f"\n== Samples read back from {model.path} (temperature 0.7, top-p 0.95, seed 7)")
    for text in out["text"].numpy():
        print(text.decode("utf-8", "replace") + "\n" + "-" * 40)


def demo_translation() -> None:
    print("\n== Translation: quick preset on Tatoeba English-Spanish")
    train("translation")
    model = serving.load("saved_models/translation", "translation")
    out = model.signature(source=tf.constant(ENGLISH))
    print(f"\n== New sentences translated by {model.path} (beam search)")
    for source, target in zip(ENGLISH, out["translation"].numpy()):
        print(f"  {source}\n    -> {target.decode()}")
    english, spanish = corpora.load(DEFAULT_CORPUS, "test")
    sources, references = references_by_source(ParallelExamples(english, spanish))
    picked = random.Random(7).sample(range(len(sources)), TEST_SENTENCES)
    out = model.signature(source=tf.constant([sources[i] for i in picked]))
    print("\n== Test sentences, never seen in training, beside their references")
    for i, target in zip(picked, out["translation"].numpy()):
        print(
            f"  {sources[i]}\n    -> {target.decode()}\n       reference: "
            + " | ".join(references[i])
        )


def main() -> int:
    start = time.time()
    print("== Bundled corpora")
    cli.main(["corpora"])
    demo_sentiment()
    demo_generation()
    demo_translation()
    print(f"\ndemo finished in {time.time() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
