"""The attention decoder's time loop with a hand-written gradient (one LSTM cell).

As in ``lstm_kernel``: autodiff through the loop would keep a stack of every
intermediate and multiply, at every step, small matrices whose inner dimension is the
batch to accumulate each weight's gradient. Here the forward loop keeps the states,
gates and attention weights; the backward loop carries only the gradients of
``(h, c, a)``; every weight's gradient is one large product over all steps afterwards.
Gate and softmax arithmetic is float32; the matrix products run in the kernels' dtype.
"""

from __future__ import annotations

import tensorflow as tf

from nlp_lstm.layers.lstm_kernel import lstm_cell, lstm_cell_gradient, product


def luong_lstm_over_time(
    projected, feed_scale, kernel, state_kernel, keys, values, score_bias, h0, c0, a0
):
    """Teacher-forced Luong decoding with input feeding, for one LSTM cell::

        z_t = projected_t + [a_{t-1} * feed_scale_t, h_{t-1}] @ kernel
        h_t, c_t = LSTM gates of z_t (sigmoid, tanh; order i, f, c, o)
        w_t = softmax(keys . h_t + score_bias)
        a_t = tanh(w_t . values + h_t @ state_kernel)

    Args:
        projected: ``[time, batch, 4 * units]``, the target vectors' share of the input
            product plus the bias.
        feed_scale: ``[time, batch, units]``, the dropout mask of the fed-back ``a``
            (ones without dropout); it gets no gradient.
        kernel: ``[2 * units, 4 * units]``, the attentional vector's rows of the cell
            kernel over its recurrent kernel; its dtype is the products' dtype.
        state_kernel: ``[units, units]``, the ``h_t`` rows of the attentional layer.
        keys: ``[batch, source, units]``, the memory through the score weights.
        values: ``[batch, source, units]``, the memory through the context weights.
        score_bias: ``[batch, source]``, 0 at real source tokens, a large negative
            number at padding; it gets no gradient.
        h0: ``[batch, units]`` initial hidden state.
        c0: ``[batch, units]`` initial cell state.
        a0: ``[batch, units]`` initial attentional vector.

    Returns:
        ``a``: the attentional vectors ``[time, batch, units]``, float32.
    """
    kernel, state_kernel = tf.identity(kernel), tf.identity(state_kernel)  # tensors
    return _decode(
        projected,
        tf.cast(feed_scale, tf.float32),
        kernel,
        state_kernel,
        keys,
        values,
        tf.cast(score_bias, tf.float32),
        *(tf.cast(x, tf.float32) for x in (h0, c0, a0)),
    )


@tf.custom_gradient
def _decode(projected, feed_scale, kernel, state_kernel, keys, values, score_bias, h0, c0, a0):
    keys32, values32 = tf.cast(keys, tf.float32), tf.cast(values, tf.float32)

    def forward(carry, inputs):
        h, c, a = carry[:3]
        projected_t, scale_t = inputs
        z = tf.cast(projected_t, tf.float32) + product(tf.concat([a * scale_t, h], -1), kernel)
        h, c, gates = lstm_cell(z, c)
        weights = tf.nn.softmax(tf.einsum("bsu,bu->bs", keys32, h) + score_bias)
        a = tf.tanh(tf.einsum("bs,bsu->bu", weights, values32) + product(h, state_kernel))
        return h, c, a, gates, weights

    start = (h0, c0, a0, tf.zeros_like(projected[0], tf.float32), tf.zeros_like(score_bias))
    h, c, a, gates, weights = tf.scan(forward, (projected, feed_scale), initializer=start)
    fed = tf.concat([a0[None], a[:-1]], 0) * feed_scale
    h_prev, c_prev = tf.concat([h0[None], h[:-1]], 0), tf.concat([c0[None], c[:-1]], 0)

    def backward(d_a):
        def step(carry, inputs):
            dh, dc, da = carry[:3]
            d_a_t, gates_t, c_prev_t, c_t, a_t, weights_t, scale_t = inputs
            d_pre = (d_a_t + da) * (1 - a_t * a_t)  # through a = tanh(pre)
            d_weights = tf.einsum("bu,bsu->bs", d_pre, values32)
            d_scores = weights_t * (
                d_weights - tf.reduce_sum(weights_t * d_weights, -1, keepdims=True)
            )
            dh = (
                dh
                + product(d_pre, state_kernel, transpose=True)
                + tf.einsum("bs,bsu->bu", d_scores, keys32)
            )
            dz, dc_prev = lstm_cell_gradient(dh, dc, gates_t, c_prev_t, c_t)
            d_fed, dh_prev = tf.split(product(dz, kernel, transpose=True), 2, axis=-1)
            return dh_prev, dc_prev, d_fed * scale_t, dz, d_pre, d_scores

        zeros = tf.zeros_like(h0)
        dh0, dc0, da0, dz, d_pre, d_scores = tf.scan(
            step,
            (tf.cast(d_a, tf.float32), gates, c_prev, c, a, weights, feed_scale),
            initializer=(zeros, zeros, zeros, gates[0], zeros, weights[0]),
            reverse=True,
        )
        units = tf.shape(h0)[-1]
        flat = lambda x, width: tf.cast(tf.reshape(x, [-1, width]), kernel.dtype)
        d_kernel = tf.matmul(
            flat(tf.concat([fed, h_prev], -1), 2 * units), flat(dz, 4 * units), transpose_a=True
        )
        d_state_kernel = tf.matmul(flat(h, units), flat(d_pre, units), transpose_a=True)
        d_values = tf.einsum("tbs,tbu->bsu", weights, d_pre)
        d_keys = tf.einsum("tbs,tbu->bsu", d_scores, h)
        return (
            tf.cast(dz, projected.dtype),
            None,
            tf.cast(d_kernel, kernel.dtype),
            tf.cast(d_state_kernel, state_kernel.dtype),
            tf.cast(d_keys, keys.dtype),
            tf.cast(d_values, values.dtype),
            None,
            dh0[0],
            dc0[0],
            da0[0],
        )

    return a, backward
