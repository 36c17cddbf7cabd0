#!/usr/bin/env python3
"""Translation recipe: SentencePiece -> BiLSTM encoder -> attention LSTM decoder -> beam search.

python recipes/translation.py train --preset quick
python recipes/translation.py train --preset full --run-dir runs/translation-full
python recipes/translation.py evaluate --model saved_models/translation
python recipes/translation.py finetune --from saved_models/translation --data my.tsv
"""

import sys

from nlp_lstm import import_tensorflow

import_tensorflow(verbose="--verbose" in sys.argv[1:])  # before the task imports it, quietly

from nlp_lstm.tasks.translation import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
