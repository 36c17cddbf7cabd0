"""nlp-lstm: Keras 3 / TensorFlow LSTM recipes with shared tokenization and embedding."""

import os
import sys
import tempfile

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

__version__ = "0.1.0"


def import_tensorflow(verbose: bool = False) -> None:
    """Imports TensorFlow (with tensorflow_text) and finds its devices; without ``verbose``,
    silently.

    TensorFlow's C++ libraries log through absl before absl is initialised, which ignores
    ``TF_CPP_MIN_LOG_LEVEL``: every process would print half a dozen ``I0000`` / ``E0000``
    lines (oneDNN, missing CUDA drivers, a failed ``cuInit``). So the import and the device
    discovery run with file descriptor 2 pointed at a temporary file, which is shown only
    if they fail; later C++ messages below errors are dropped (``TF_CPP_MIN_LOG_LEVEL=3``).
    Calling it again is cheap.

    Args:
        verbose: leave TensorFlow's logging as it is (all lines shown).
    """
    if verbose or "tensorflow" in sys.modules:
        import tensorflow  # noqa: F401

        return
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        failed = True
        try:
            import tensorflow as tf
            import tensorflow_text  # noqa: F401  (loads a second copy of absl: logs again)

            tf.config.list_physical_devices()  # cuInit logs here on a machine without a GPU
            failed = False
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            if failed:
                captured.seek(0)
                os.write(2, captured.read())
    import absl.logging

    absl.logging.set_verbosity(absl.logging.ERROR)
    tf.get_logger().setLevel("ERROR")
