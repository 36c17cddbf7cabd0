"""A whole LSTM layer as one oneDNN RNN primitive, for training on CPUs.

PyTorch trains its ``nn.LSTM`` on CPUs this way: all time steps, their products and
gate arithmetic, in one call of oneDNN's LSTM primitive (forward and backward), which
in bfloat16 uses the CPU's AMX or AVX-512 BF16 units. ``lstm_over_time`` instead runs
TensorFlow ops per step, whose dispatch costs more than each step's work.

The op is an optional compiled extension (``build.py``): ``available()`` says whether
it could be loaded here, and the layers fall back to their own loops where it cannot,
or where it does not apply (masks, serving). ``NLP_LSTM_ONEDNN=0`` turns it off.
"""

from __future__ import annotations

import functools
import logging
import os

import tensorflow as tf

from nlp_lstm.layers.onednn.build import BuildError, library

log = logging.getLogger(__name__)

# Large enough that sigmoid saturates to exactly 0 or 1 in float32 (and in bfloat16
# products, which round it to 9,984).
_SATURATED = 1e4
_ALIGN = 32


@functools.cache
def _ops():
    """The loaded op library, or None where it cannot be built or loaded here."""
    if os.environ.get("NLP_LSTM_ONEDNN", "1") == "0":
        return None
    # oneDNN's OpenMP threads spin a while between parallel regions, then sleep.
    # OpenMP's default spin made oneDNN's LSTM 2.3x slower inside TensorFlow than on
    # its own; spinning for ever takes a core from TensorFlow's ops between calls.
    # Read by OpenMP when the library loads, so set here, before.
    os.environ.setdefault("GOMP_SPINCOUNT", "100000")
    try:
        ops = tf.load_op_library(str(library()))
    except (BuildError, tf.errors.NotFoundError) as error:
        log.info("oneDNN LSTM unavailable, using the TensorFlow loop: %s", error)
        return None

    @tf.RegisterGradient("OnednnLstm")
    def _gradient(op, d_h, d_h_last, d_c_last, _):
        x, h0 = op.inputs[:2]
        # The op takes and gives every gradient in float32.
        d_h, d_h_last, d_c_last = (
            tf.zeros(tf.shape(like), tf.float32) if d is None else tf.cast(d, tf.float32)
            for d, like in zip((d_h, d_h_last, d_c_last), op.outputs[:3])
        )
        dx, dh0, *others = ops.onednn_lstm_grad(*op.inputs, *op.outputs, d_h, d_h_last, d_c_last)
        return [tf.cast(dx, x.dtype), tf.cast(dh0, h0.dtype), *others]

    return ops


@functools.cache
def available(dtype: str = "float32") -> bool:
    """Whether the oneDNN LSTM op is loaded (building it first if needed) and runs in
    ``dtype`` on this CPU (bfloat16 needs AVX-512 BF16 or AMX)."""
    ops = _ops()
    if ops is None:
        return False
    with tf.init_scope():  # a one-step probe, run at once even while tracing
        x = tf.zeros([1, 1, 1], dtype)
        state, weights = tf.zeros([1, 1]), tf.zeros([1, 4])
        try:
            ops.onednn_lstm(x, tf.cast(state, dtype), state, weights, weights, weights[0])
        except tf.errors.InternalError as error:
            log.info("oneDNN LSTM unavailable in %s: %s", dtype, error.message)
            return False
    return True


def onednn_lstm(x, kernel, recurrent_kernel, bias, h0, c0, lengths=None):
    """An LSTM (sigmoid gates, tanh activations, gate order i, f, c, o as in
    ``keras.layers.LSTM``) over every step of ``x``, as one oneDNN primitive.

    Args:
        x: ``[time, batch, input]``, float32 or bfloat16 (the products' precision).
        kernel: ``[input, 4 * units]``; ``recurrent_kernel``: ``[units, 4 * units]``;
            ``bias``: ``[4 * units]``; all read in float32.
        h0, c0: ``[batch, units]`` initial states.
        lengths: optional ``int32[batch]``, each row's number of steps (right padding):
            after them its states stay as they are, as in ``lstm_over_time`` with a mask.

    Returns:
        ``(h, h_last, c_last)``: the hidden state at every step (in ``x``'s dtype) and
        the last states (``c_last`` in float32). Differentiable.

    Raises:
        RuntimeError: where the op is not ``available()``.
    """
    ops = _ops()
    if ops is None:
        raise RuntimeError("the oneDNN LSTM op is not available here")
    kernel, recurrent_kernel, bias = (
        tf.cast(w, tf.float32) for w in (kernel, recurrent_kernel, bias)
    )
    if lengths is not None:
        # oneDNN has no masks. An extra input, 1 on padding steps, saturates the input
        # gate shut and the forget gate open there, so the cell state stays exactly as
        # it is; the hidden state is restored from the last real step below.
        padding = tf.range(tf.shape(x)[0])[:, None] >= lengths[None]
        # Zero columns after it round the width up to a multiple of 32, where oneDNN's
        # AMX kernels run at full speed (an odd width leaves AMX altogether).
        extra = _ALIGN - x.shape[-1] % _ALIGN
        flag = tf.cast(padding, x.dtype)[..., None]
        zeros = tf.zeros(tf.concat([tf.shape(x)[:2], [extra - 1]], 0), x.dtype)
        x = tf.concat([x, flag, zeros], -1)
        units = tf.shape(recurrent_kernel)[0]
        hold = tf.repeat(tf.constant([-_SATURATED, _SATURATED, 0.0, _SATURATED]), units)
        kernel = tf.concat([kernel, hold[None], tf.zeros([extra - 1, 4 * units])], 0)
    h, h_last, c_last, _ = ops.onednn_lstm(
        x, tf.cast(h0, x.dtype), tf.cast(c0, tf.float32), kernel, recurrent_kernel, bias
    )
    if lengths is not None:
        rows = tf.range(tf.shape(lengths)[0])
        h_last = tf.gather_nd(h, tf.stack([tf.maximum(lengths - 1, 0), rows], -1))
        h_last = tf.where((lengths > 0)[:, None], h_last, tf.cast(h0, h.dtype))
        h = tf.where(padding[..., None], h_last[None], h)
    return h, h_last, c_last
