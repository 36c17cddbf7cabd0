"""``keras.layers.GRU`` with its input projection hoisted out of the time loop off cuDNN."""

from __future__ import annotations

import keras
from keras import ops

from nlp_lstm.layers.hoisted_rnn import hoistable, input_projection, run_hoisted


@keras.saving.register_keras_serializable(package="nlp_lstm")
class HoistedGRU(keras.layers.GRU):
    """Computes what ``keras.layers.GRU`` computes, with the same weights and config.

    On a GPU it is that layer (cuDNN). Elsewhere, with ``reset_after=True`` (the
    default, as cuDNN has it) and biases, ``inputs @ kernel + input_bias`` is one
    product over all steps and each step only multiplies the state (see
    ``nlp_lstm.layers.hoisted_rnn``); other settings fall back to Keras's loop.
    """

    def inner_loop(self, sequences, initial_state, mask, training=False):
        cell = self.cell
        if not (hoistable(self) and cell.reset_after and cell.use_bias):
            return super().inner_loop(sequences, initial_state, mask, training)
        recurrent_kernel = ops.convert_to_tensor(cell.recurrent_kernel)
        bias = ops.convert_to_tensor(cell.bias)  # [2, 3 * units]: input and recurrent
        projected = input_projection(sequences, cell.kernel, bias[0])
        recurrent_bias = bias[1]

        def step(x, states):
            h_prev = states[0] if isinstance(states, (list, tuple)) else states
            x_z, x_r, x_h = ops.split(x, 3, axis=-1)
            r_z, r_r, r_h = ops.split(ops.matmul(h_prev, recurrent_kernel) + recurrent_bias, 3,
                                      axis=-1)
            z = cell.recurrent_activation(x_z + r_z)
            r = cell.recurrent_activation(x_r + r_r)
            h = z * h_prev + (1 - z) * cell.activation(x_h + r * r_h)
            return h, [h]

        return run_hoisted(self, projected, step, initial_state, mask)
