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

import numpy as np
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
    inputs = tf.cast(projected, tf.float32) + tf.cast(bias, tf.float32)  # once, not per step
    recurrent_kernel = tf.identity(recurrent_kernel)  # a tensor, even when given a variable
    h0, c0 = tf.cast(h0, tf.float32), tf.cast(c0, tf.float32)
    keep = None if mask is None else tf.cast(mask, tf.bool)[..., None]
    if not training:
        h, c = tf.scan(
            lambda carry, step_inputs: _step(step_inputs, carry, recurrent_kernel)[:2],
            inputs if keep is None else (inputs, keep),
            initializer=(h0, c0),
        )
        return h, c[-1]
    # XLA fuses each step's gate arithmetic into a few kernels: worth it in float32, where
    # its products are as fast as TensorFlow's, and where the length is known when the
    # model is traced (one compilation; a length per batch would compile again and again).
    compiled = recurrent_kernel.dtype == tf.float32 and inputs.shape[0] is not None
    h, c_last = _lstm_with(keep, compiled)(inputs, recurrent_kernel, h0, c0)
    return h, c_last


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
    outputs: ``(dz, dc_prev)``.

    Written as a few ops over all four gates at once (a step's cost on a CPU is mostly
    one op after another): the activations' derivatives are ``gates * (A - gates) + B``,
    ``s (1 - s)`` for the sigmoid gates and ``1 - g^2`` for the tanh one.
    """
    i, f, g, o = tf.split(gates, 4, axis=-1)
    tanh_c = tf.tanh(c)
    dc = dc + dh * o * (1 - tanh_c * tanh_c)
    slope, offset = _activation_derivative(g.shape[-1])
    upstream = tf.concat([dc * g, dc * c_prev, dc * i, dh * tanh_c], -1)
    return upstream * (gates * (slope - gates) + offset), dc * f


def _activation_derivative(units: int):
    """``(A, B)`` of ``lstm_cell_gradient`` as constants: 1 and 0 on the sigmoid gates'
    columns, 0 and 1 on the tanh gate's."""
    tanh_gate = np.repeat(np.array([0, 0, 1, 0], np.float32), units)
    return tf.constant(1 - tanh_gate), tf.constant(tanh_gate)


def _step(step_inputs, carry, recurrent_kernel):
    """One LSTM step from ``step_inputs`` (``x @ W + b``, or that and where to step);
    where a row is not stepped its states carry over: ``(h, c, gates i|f|g|o)``."""
    z_x, keep = step_inputs if isinstance(step_inputs, tuple) else (step_inputs, None)
    h, c = carry[0], carry[1]
    h_new, c_new, gates = lstm_cell(z_x + product(h, recurrent_kernel), c)
    if keep is None:  # no mask: no per-step selection at all
        return h_new, c_new, gates
    return tf.where(keep, h_new, h), tf.where(keep, c_new, c), gates


def _lstm_with(keep, compiled: bool):
    """The loop with its gradient, for the mask ``keep`` (``bool[time, batch, 1]`` or
    None), which is not differentiated; ``compiled``: both loops through XLA."""

    def loop(function):
        return tf.function(function, jit_compile=True, autograph=False) if compiled else function

    @loop
    def forward(inputs, recurrent_kernel, h0, c0):
        return tf.scan(
            lambda carry, step_inputs: _step(step_inputs, carry, recurrent_kernel),
            inputs if keep is None else (inputs, keep),
            initializer=(h0, c0, tf.zeros_like(inputs[0])),
        )

    @loop
    def backward_loop(d_h, gates, c_prev, c, d_c_last, recurrent_kernel):
        def step(carry, step_inputs):
            d_h_t, gates_t, c_prev_t, c_t = step_inputs[:4]
            dh = carry[0] + d_h_t
            dz, dc_prev = lstm_cell_gradient(dh, carry[1], gates_t, c_prev_t, c_t)
            if keep is None:
                return product(dz, recurrent_kernel, transpose=True), dc_prev, dz
            # A step not taken passes its state gradients on unchanged.
            keep_t = step_inputs[4]
            dz = tf.where(keep_t, dz, tf.zeros_like(dz))
            dh_prev = tf.where(keep_t, product(dz, recurrent_kernel, transpose=True), dh)
            return dh_prev, tf.where(keep_t, dc_prev, carry[1]), dz

        step_inputs = (d_h, gates, c_prev, c)
        return tf.scan(
            step,
            step_inputs if keep is None else (*step_inputs, keep),
            initializer=(tf.zeros_like(c[0]), d_c_last, tf.zeros_like(gates[0])),
            reverse=True,
        )

    @tf.custom_gradient
    def lstm(inputs, recurrent_kernel, h0, c0):
        h, c, gates = forward(inputs, recurrent_kernel, h0, c0)
        h_prev = tf.concat([h0[None], h[:-1]], 0)
        c_prev = tf.concat([c0[None], c[:-1]], 0)

        def backward(d_h, d_c_last):
            dh_prev, dc_prev, dz = backward_loop(
                tf.cast(d_h, tf.float32),
                gates,
                c_prev,
                c,
                tf.cast(d_c_last, tf.float32),
                recurrent_kernel,
            )
            units = tf.shape(h0)[-1]
            dtype = recurrent_kernel.dtype
            d_kernel = tf.matmul(
                tf.cast(tf.reshape(h_prev, [-1, units]), dtype),
                tf.cast(tf.reshape(dz, [-1, 4 * units]), dtype),
                transpose_a=True,
            )
            return dz, d_kernel, dh_prev[0], dc_prev[0]

        return (h, c[-1]), backward

    return lstm
