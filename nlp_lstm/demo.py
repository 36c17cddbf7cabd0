"""``make demo``: the toolkit end to end on the bundled corpora.

Lists the corpora, trains the quick sentiment model, exports it, and reads
predictions back from the SavedModel.
"""

from __future__ import annotations

import sys
import time

from nlp_lstm import cli, serving
from nlp_lstm.tasks import sentiment

SENTENCES = [
    "A warm, funny and beautifully acted film.",
    "Tedious, overlong and badly written.",
    "The plot is thin, but the performances carry it.",
    "",
]


def main() -> int:
    start = time.time()
    print("== Bundled corpora")
    cli.main(["corpora"])

    print("\n== Sentiment: quick preset on Rotten Tomatoes")
    if sentiment.main(["train", "--preset", "quick", "--run-dir", "runs/demo-sentiment",
                       "--export-dir", "saved_models/sentiment"]) != 0:
        return 1
    model = serving.load("saved_models/sentiment", "sentiment")
    outputs = serving.run_batched(model.signature, {"text": SENTENCES}, batch_size=64)
    print(f"\n== Predictions read back from {model.path}")
    for text, label, probabilities in zip(SENTENCES, outputs["label"], outputs["probabilities"]):
        print(f"  {label.decode():<9} p={probabilities.max():.2f}  {text!r}")
    print(f"\ndemo finished in {time.time() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
