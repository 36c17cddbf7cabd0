"""Batches of strings entering an exported signature."""

from __future__ import annotations

import tensorflow as tf


def at_least_one_row(strings: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """``strings`` with one empty string standing in for an empty batch, and the real
    batch size: a recurrent layer cannot scan the zero time steps that an empty batch
    pads to, so signatures run on the stand-in and slice their outputs back to size.

    Example:
        >>> strings, rows = at_least_one_row(tf.constant([], tf.string))
        >>> strings.numpy().tolist(), int(rows)
        ([b''], 0)
    """
    rows = tf.shape(strings)[0]
    return tf.cond(rows > 0, lambda: strings, lambda: tf.constant([""])), rows
