"""``python -m nlp_lstm.layers.onednn``: builds the op (or finds it built) and prints the
library's path, or one line saying what is missing."""

from nlp_lstm.layers.onednn.build import BuildError, library

try:
    print(library())
except BuildError as error:
    raise SystemExit(f"error: {error}") from None
