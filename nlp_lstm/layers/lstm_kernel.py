"""An LSTM's time loop with a hand-written gradient, for CPUs (GPUs use cuDNN).

Autodiff through a time loop multiplies, at every step, the step's state by its
gradient to accumulate the recurrent kernel's gradient: a product whose inner
dimension is the batch, which runs far from the CPU's peak, plus a stack of every
intermediate. Here the backward loop only carries the state gradients and records
the gate gradients; the kernel's gradient is then one large product over all steps
(``H_prev^T @ dZ``). Gate arithmetic is done in float32 (also under mixed precision,
where only the matrix products run in 16 bits).
"""

from __future__ import annotations

import tensorflow as tf


def lstm_over_time(projected, bias, recurrent_kernel, h0, c0, mask=None, training=True):
    """Runs an LSTM (sigmoid gates, tanh activations, gate order i, f, c, o as in
    ``keras.layers.LSTM``) over time-major inputs already multiplied by the kernel.

    Where ``mask`` is false, the states carry over unchanged.

    Args:
        projected: ``[time, batch, 4 * units]``, ``inputs @ kernel``.
        bias: ``[4 * units]`` (zeros for none).
        recurrent_kernel: ``[units, 4 * units]``; its dtype is the products' dtype.
        h0: ``[batch, units]`` initial hidden state.
        c0: ``[batch, units]`` initial cell state.
        mask: optional ``bool[time, batch]``.
        training: whether a gradient will be asked for; without, the loop keeps no
            gates for it (serving reads long prompts with a fraction of the memory).

    Returns:
        ``(h, c_last)``: the hidden state after every step ``[time, batch, units]`` and
        the last cell state, in float32.
    """
    step_mask = (
        tf.ones(tf.shape(projected)[:2], tf.float32) if mask is None else tf.cast(mask, tf.float32)
    )[..., None]
    recurrent_kernel = tf.identity(recurrent_kernel)  # a tensor, even when given a variable
    bias, h0, c0 = (tf.cast(x, tf.float32) for x in (bias, h0, c0))
    if not training:
        h, c = tf.scan(
            lambda carry, inputs: _step(
                inputs[0], inputs[1], carry[0], carry[1], bias, recurrent_kernel
            )[:2],
            (projected, step_mask),
            initializer=(h0, c0),
        )
        return h, c[-1]
    return _lstm(projected, bias, recurrent_kernel, h0, c0, step_mask)


def product(x, kernel, transpose=False):
    """``x @ kernel`` (or ``kernel^T``) in the kernel's dtype, returned in float32."""
    return tf.cast(tf.matmul(tf.cast(x, kernel.dtype), kernel, transpose_b=transpose), tf.float32)


def lstm_cell(z, c):
    """One LSTM cell update from its summed inputs ``z`` (float32, gate order i, f, c, o):
    ``(h, c_new, gates i|f|g|o)``."""
    z_i, z_f, z_c, z_o = tf.split(z, 4, axis=-1)
    i, f, g, o = tf.sigmoid(z_i), tf.sigmoid(z_f), tf.tanh(z_c), tf.sigmoid(z_o)
    c_new = f * c + i * g
    return o * tf.tanh(c_new), c_new, tf.concat([i, f, g, o], -1)


def lstm_cell_gradient(dh, dc, gates, c_prev, c):
    """Backward through ``lstm_cell`` given the gradients ``dh``, ``dc`` reaching its
    outputs: ``(dz, dc_prev)``."""
    i, f, g, o = tf.split(gates, 4, axis=-1)
    tanh_c = tf.tanh(c)
    dc = dc + dh * o * (1 - tanh_c * tanh_c)
    dz = tf.concat(
        [
            dc * g * i * (1 - i),
            dc * c_prev * f * (1 - f),
            dc * i * (1 - g * g),
            dh * tanh_c * o * (1 - o),
        ],
        -1,
    )
    return dz, dc * f


def _step(z_x, m, h, c, bias, recurrent_kernel):
    """One LSTM step where ``m`` is 1, none where it is 0: ``(h, c, gates i|f|g|o)``."""
    h_new, c_new, gates = lstm_cell(
        tf.cast(z_x, tf.float32) + bias + product(h, recurrent_kernel), c
    )
    return m * h_new + (1 - m) * h, m * c_new + (1 - m) * c, gates


def _forward(projected, step_mask, bias, recurrent_kernel, h0, c0):
    """The forward loop: ``(h, c, gates)`` at every step."""

    def step(carry, inputs):
        return _step(inputs[0], inputs[1], carry[0], carry[1], bias, recurrent_kernel)

    gates_shape = tf.zeros_like(projected[0], tf.float32)
    return tf.scan(step, (projected, step_mask), initializer=(h0, c0, gates_shape))


def _backward(d_h, d_c_last, gates, c_prev, c, step_mask, recurrent_kernel):
    """The backward loop, carrying only the state gradients:
    ``(dh_prev, dc_prev, dz)`` at every step."""

    def step(carry, inputs):
        dh, dc = carry[0], carry[1]
        d_h_t, gates_t, c_prev_t, c_t, m = inputs
        dz, dc_prev = lstm_cell_gradient(m * (dh + d_h_t), m * dc, gates_t, c_prev_t, c_t)
        dh_prev = (1 - m) * (dh + d_h_t) + product(dz, recurrent_kernel, transpose=True)
        return dh_prev, (1 - m) * dc + dc_prev, dz

    start = (tf.zeros_like(c[0]), d_c_last, tf.zeros_like(gates[0]))
    return tf.scan(step, (d_h, gates, c_prev, c, step_mask), initializer=start, reverse=True)


# XLA fuses a step's gate arithmetic into a few kernels, which pays in float32 (its
# products there are as fast as TensorFlow's; in bfloat16 they are slower than oneDNN's).
# Only for a length known when the model is traced: a length per batch would compile
# again for every bucket.
_compiled_forward = tf.function(_forward, jit_compile=True, autograph=False)
_compiled_backward = tf.function(_backward, jit_compile=True, autograph=False)


@tf.custom_gradient
def _lstm(projected, bias, recurrent_kernel, h0, c0, step_mask):
    compiled = recurrent_kernel.dtype == tf.float32 and projected.shape[0] is not None
    forward, backward_loop = (
        (_compiled_forward, _compiled_backward) if compiled else (_forward, _backward)
    )
    # The loops' own ops are never differentiated (``backward`` is their gradient); a
    # tape that saw them would ask XLA for a differentiable function.
    h, c, gates = forward(
        *(tf.stop_gradient(x) for x in (projected, step_mask, bias, recurrent_kernel, h0, c0))
    )
    h_prev = tf.concat([h0[None], h[:-1]], 0)
    c_prev = tf.concat([c0[None], c[:-1]], 0)

    def backward(d_h, d_c_last):
        dh_prev, dc_prev, dz = backward_loop(
            tf.cast(d_h, tf.float32),
            tf.cast(d_c_last, tf.float32),
            gates,
            c_prev,
            c,
            step_mask,
            recurrent_kernel,
        )
        units = tf.shape(h0)[-1]
        dz_flat = tf.reshape(dz, [-1, 4 * units])
        dtype = recurrent_kernel.dtype
        d_kernel = tf.matmul(
            tf.cast(tf.reshape(h_prev, [-1, units]), dtype),
            tf.cast(dz_flat, dtype),
            transpose_a=True,
        )
        return (
            tf.cast(dz, projected.dtype),
            tf.reduce_sum(dz_flat, 0),
            d_kernel,
            dh_prev[0],
            dc_prev[0],
            None,
        )

    return (h, c[-1]), backward
