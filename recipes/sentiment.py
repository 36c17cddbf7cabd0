#!/usr/bin/env python3
"""Sentiment analysis recipe: SentencePiece -> embedding -> stacked BiLSTM -> softmax.

python recipes/sentiment.py train --preset quick
python recipes/sentiment.py train --preset full --run-dir runs/sentiment-full
python recipes/sentiment.py evaluate --model saved_models/sentiment
python recipes/sentiment.py finetune --from saved_models/sentiment --data my.tsv

The same as ``nlp-lstm train sentiment ...`` (``nlp_lstm.runner``).
"""

import sys

from nlp_lstm import runner

if __name__ == "__main__":
    sys.exit(runner.main("sentiment"))
