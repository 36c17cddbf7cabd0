"""What every benchmark shares: finding an export, timing calls, printing a JSON line."""

import argparse
import json
import statistics
import time
from collections.abc import Callable


def newest_version(model_dir: str) -> str:
    """``model_dir`` itself if it is a SavedModel, else its highest integer version."""
    import tensorflow as tf  # here: the PyTorch peer shares this module without TensorFlow

    if tf.io.gfile.exists(f"{model_dir}/saved_model.pb"):
        return model_dir
    numbered = [int(v.strip("/")) for v in tf.io.gfile.listdir(model_dir) if v.strip("/").isdigit()]
    if not numbered:
        raise SystemExit(f"{model_dir}: no export here; run `make demo` (or a recipe) first")
    return f"{model_dir}/{max(numbered)}"


def seconds_per_call(call: Callable[[], object], repeats: int) -> list[float]:
    """Wall times of ``repeats`` calls of ``call`` after one untimed warm-up call."""
    call()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return times


def median(values: list[float]) -> float:
    return statistics.median(values)


def report(benchmark: str, **fields) -> None:
    """Prints one JSON line: ``{"benchmark": benchmark, **fields}``."""
    print(json.dumps({"benchmark": benchmark, **fields}), flush=True)


def add_shape_arguments(parser: argparse.ArgumentParser, steps: int = 20) -> None:
    """The model's shape and the timing flags, with the PyTorch comparison's language
    model as default: vocabulary 80, embedding 64, 2 x LSTM 512, 64 sequences of 100."""
    parser.add_argument("--vocab", type=int, default=80)
    parser.add_argument("--embed", type=int, default=64)
    parser.add_argument("--units", type=int, default=512)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--seq", type=int, default=100)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=steps, help="timed steps")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps before them")
