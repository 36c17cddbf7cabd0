"""nlp-lstm: Keras 3 / TensorFlow LSTM recipes with shared tokenization and embedding."""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

__version__ = "0.1.0"
