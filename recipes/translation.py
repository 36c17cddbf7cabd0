#!/usr/bin/env python3
"""Translation recipe: SentencePiece -> BiLSTM encoder -> attention LSTM decoder -> beam search.

python recipes/translation.py train --preset quick
python recipes/translation.py train --preset full --run-dir runs/translation-full
python recipes/translation.py train --source es --target en
python recipes/translation.py evaluate --model saved_models/translation
python recipes/translation.py finetune --from saved_models/translation --data my.tsv

The same as ``nlp-lstm train translation ...`` (``nlp_lstm.runner``).
"""

import sys

from nlp_lstm import runner

if __name__ == "__main__":
    sys.exit(runner.main("translation"))
