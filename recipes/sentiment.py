#!/usr/bin/env python3
"""Sentiment analysis recipe: SentencePiece -> embedding -> stacked BiLSTM -> softmax.

python recipes/sentiment.py train --preset quick
python recipes/sentiment.py train --preset full --run-dir runs/sentiment-full
python recipes/sentiment.py evaluate --model saved_models/sentiment
python recipes/sentiment.py finetune --from saved_models/sentiment --data my.tsv
"""

import sys

from nlp_lstm import import_tensorflow

import_tensorflow(verbose="--verbose" in sys.argv[1:])  # before the task imports it, quietly

from nlp_lstm.tasks.sentiment import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
