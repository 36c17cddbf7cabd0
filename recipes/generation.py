#!/usr/bin/env python3
"""Character-level generation recipe: characters -> embedding -> stacked LSTM -> sampler.

python recipes/generation.py train --preset quick
python recipes/generation.py train --preset full --run-dir runs/generation-full
python recipes/generation.py evaluate --model saved_models/generation
python recipes/generation.py finetune --from saved_models/generation --data my_author.txt

The same as ``nlp-lstm train generation ...`` (``nlp_lstm.runner``).
"""

import sys

from nlp_lstm import runner

if __name__ == "__main__":
    sys.exit(runner.main("generation"))
