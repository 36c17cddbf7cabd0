"""What every benchmark shares: finding an export, timing calls, printing a JSON line."""

import json
import statistics
import time
from collections.abc import Callable

import tensorflow as tf


def newest_version(model_dir: str) -> str:
    """``model_dir`` itself if it is a SavedModel, else its highest integer version."""
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
