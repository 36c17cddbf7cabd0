#!/usr/bin/env python3
"""Translation recipe: joint SentencePiece -> BiLSTM encoder -> attention LSTM decoder -> beam search.

    python recipes/translation.py train --preset quick
    python recipes/translation.py train --preset full --run-dir runs/translation-full
    python recipes/translation.py evaluate --model saved_models/translation
    python recipes/translation.py finetune --from saved_models/translation --data my.tsv
"""

import sys

from nlp_lstm.tasks.translation import main

if __name__ == "__main__":
    sys.exit(main())
