"""Compiles the oneDNN LSTM op (``onednn_lstm.cc``) into a TensorFlow op library.

The op needs a C++ compiler and oneDNN from PyPI (``pip install 'nlp-lstm[onednn]'``,
which brings ``onednn-cpu-gomp`` and its headers). The library is built once per
source, TensorFlow version and compiler flags, into ``$NLP_LSTM_CACHE`` (by default
``~/.cache/nlp_lstm``), and reused from there.

    python -m nlp_lstm.layers.onednn     # builds (if needed), prints the path
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

SOURCE = Path(__file__).with_name("onednn_lstm.cc")


class BuildError(RuntimeError):
    """The op cannot be built here (no compiler, no oneDNN, or the build failed)."""


def cache_dir() -> Path:
    """Where built libraries are kept."""
    return Path(os.environ.get("NLP_LSTM_CACHE", Path.home() / ".cache" / "nlp_lstm"))


def _onednn_prefix() -> Path:
    """The installation prefix holding oneDNN's headers and library."""
    prefix = Path(sys.prefix)
    if (
        not (prefix / "include" / "oneapi" / "dnnl" / "dnnl.hpp").exists()
        or not (prefix / "lib" / "libdnnl.so.3").exists()
    ):
        raise BuildError(f"oneDNN is not installed in {prefix}: pip install 'nlp-lstm[onednn]'")
    return prefix


def _command(output: Path) -> list[str]:
    import tensorflow as tf

    compiler = os.environ.get("CXX", "g++")
    if shutil.which(compiler) is None:
        raise BuildError(f"no C++ compiler ({compiler}) on PATH")
    prefix = _onednn_prefix()
    return [
        compiler,
        "-shared",
        "-fPIC",
        "-O2",
        str(SOURCE),
        "-o",
        str(output),
        *tf.sysconfig.get_compile_flags(),
        f"-I{prefix / 'include'}",
        *tf.sysconfig.get_link_flags(),
        f"-L{prefix / 'lib'}",
        "-l:libdnnl.so.3",
        f"-Wl,-rpath,{prefix / 'lib'}",
    ]


def library() -> Path:
    """The op library's path, built first if it is not in the cache.

    Returns:
        The shared library to pass to ``tf.load_op_library``.

    Raises:
        BuildError: without a compiler or oneDNN, or when compiling fails.
    """
    import tensorflow as tf

    probe = _command(Path("lib.so"))
    key = hashlib.sha256(
        SOURCE.read_bytes() + " ".join(probe).encode() + tf.__version__.encode()
    ).hexdigest()[:16]
    target = cache_dir() / f"onednn_lstm-{key}.so"
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as scratch:
        built = Path(scratch) / target.name
        result = subprocess.run(_command(built), capture_output=True, text=True, check=False)
        if result.returncode:
            raise BuildError(f"compiling {SOURCE.name} failed:\n{result.stderr[-3000:]}")
        os.replace(built, target)  # atomic: a concurrent build never sees half a file
    return target
