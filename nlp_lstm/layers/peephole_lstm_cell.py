"""The peephole LSTM cell (Gers & Schmidhuber, 2000): gates that also look at the cell state."""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="nlp_lstm")
class PeepholeLSTMCell(keras.layers.LSTMCell):
    """An LSTM cell whose input and forget gates see the previous cell state and whose
    output gate sees the new one::

        i = sigmoid(W_i x + U_i h + p_i * c_prev + b_i)
        f = sigmoid(W_f x + U_f h + p_f * c_prev + b_f)
        c = f * c_prev + i * tanh(W_c x + U_c h + b_c)
        o = sigmoid(W_o x + U_o h + p_o * c + b_o)
        h = o * tanh(c)

    Kernels, biases and their gate order (i, f, c, o) are those of
    ``keras.layers.LSTMCell``; the peephole vectors ``p_i, p_f, p_o`` start at zero,
    so an untrained peephole cell computes exactly what an LSTM cell does. Dropout
    belongs between layers (the cell takes none).

    Args:
        units: cell size.
        **kwargs: ``keras.layers.LSTMCell`` arguments other than dropout.
    """

    def __init__(self, units: int, **kwargs):
        if kwargs.get("dropout") or kwargs.get("recurrent_dropout"):
            raise ValueError("PeepholeLSTMCell takes no dropout; apply it between layers")
        super().__init__(units, **kwargs)

    def build(self, input_shape):
        super().build(input_shape)
        self.peepholes = self.add_weight(
            shape=(3, self.units), initializer="zeros", name="peepholes"
        )

    def call(self, inputs, states, training=False):
        h_prev, c_prev = states
        z = ops.matmul(inputs, self.kernel) + ops.matmul(h_prev, self.recurrent_kernel)
        if self.use_bias:
            z = z + self.bias
        return self.update(z, c_prev, self.peepholes)

    def update(self, z, c_prev, peepholes):
        """The gates from their summed inputs ``z`` (input and recurrent products and
        bias): ``(h, [h, c])``."""
        z_i, z_f, z_c, z_o = ops.split(z, 4, axis=-1)
        p_i, p_f, p_o = peepholes[0], peepholes[1], peepholes[2]
        i = self.recurrent_activation(z_i + p_i * c_prev)
        f = self.recurrent_activation(z_f + p_f * c_prev)
        c = f * c_prev + i * self.activation(z_c)
        o = self.recurrent_activation(z_o + p_o * c)
        h = o * self.activation(c)
        return h, [h, c]
