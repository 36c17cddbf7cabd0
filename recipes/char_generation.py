#!/usr/bin/env python3
"""Character-level generation recipe: characters -> embedding -> stacked LSTM -> sampler.

python recipes/char_generation.py train --preset quick
python recipes/char_generation.py train --preset full --run-dir runs/generation-full
python recipes/char_generation.py evaluate --model saved_models/generation
python recipes/char_generation.py finetune --from saved_models/generation --data my_author.txt
"""

import sys

from nlp_lstm import import_tensorflow

import_tensorflow(verbose="--verbose" in sys.argv[1:])  # before the task imports it, quietly

from nlp_lstm.tasks.generation import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
