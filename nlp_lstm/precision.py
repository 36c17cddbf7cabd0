"""Training precision: float32, or mixed bfloat16 / float16 where the hardware runs it fast.

Mixed precision keeps the variables in float32 and computes in 16 bits; the models'
logits layers stay float32, so losses and softmaxes are exact. Precision belongs to
training: ``training.fit`` hands back its model computing in float32, so what is
evaluated and exported is float32 and serves anywhere; fine-tuning switches a loaded
export to the precision chosen for it (``set_model_policy``).
"""

from __future__ import annotations

from pathlib import Path

import keras
import tensorflow as tf

from nlp_lstm.config import PRECISIONS
from nlp_lstm.errors import NlpLstmError

# The models' output layers (by name), kept in float32 under mixed precision so that
# softmaxes, sampling and losses are exact.
FLOAT32_OUTPUTS = ("logits", "probabilities")
_POLICIES = {"float32": "float32", "bfloat16": "mixed_bfloat16", "float16": "mixed_float16"}


def cpu_has_bfloat16(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    """Whether the CPU multiplies bfloat16 natively (AVX-512 BF16 or AMX; Linux only)."""
    try:
        flags = set(cpuinfo.read_text().split())
    except OSError:
        return False
    return bool(flags & {"avx512_bf16", "amx_bf16"})


def best_precision() -> str:
    """``bfloat16`` on a GPU of compute capability 8 or more and on a CPU with bfloat16
    instructions, ``float16`` on older GPUs with tensor cores (7.x), else ``float32``."""
    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        capability = tf.config.experimental.get_device_details(gpus[0]).get(
            "compute_capability", (0, 0)
        )
        return (
            "bfloat16" if capability >= (8, 0) else "float16" if capability >= (7, 0) else "float32"
        )
    return "bfloat16" if cpu_has_bfloat16() else "float32"


def set_precision(precision: str = "auto") -> str:
    """Sets Keras's global dtype policy for the models built next; returns its name.

    Args:
        precision: one of ``PRECISIONS``; ``auto`` is ``best_precision()``.

    Raises:
        NlpLstmError: for an unknown precision.

    Example:
        >>> set_precision("bfloat16")
        'mixed_bfloat16'
    """
    if precision not in PRECISIONS:
        raise NlpLstmError(
            f"unknown precision {precision!r}; choose one of {', '.join(PRECISIONS)}"
        )
    policy = _POLICIES[best_precision() if precision == "auto" else precision]
    keras.mixed_precision.set_global_policy(policy)
    return policy


def set_model_policy(model: keras.Model, policy: str) -> keras.Model:
    """Makes every layer of ``model`` compute in ``policy`` (a Keras dtype policy name;
    the variables stay float32 under all of them), except the output layers named in
    ``FLOAT32_OUTPUTS``, which always compute in float32; returns ``model``."""
    for layer in [model, *model._flatten_layers(include_self=False)]:
        wanted = "float32" if layer.name in FLOAT32_OUTPUTS else policy
        if layer.dtype_policy.name != wanted:
            layer.dtype_policy = wanted
    return model
