"""Running a recurrent layer with its input projection hoisted out of the time loop.

An LSTM or GRU step multiplies both its input and its previous state by a kernel. The
input product does not depend on the previous step, so off cuDNN it is cheaper to
compute it for all steps at once, as one large matrix product (which the CPU runs
near its peak, in bfloat16 too), and to leave only the recurrent product in the loop.
The weights read once outside the loop are also cast once under mixed precision,
instead of once per step.
"""

from __future__ import annotations

from collections.abc import Callable

import keras
import tensorflow as tf
from keras import ops
from keras.src.backend import rnn  # Keras's own time loop (masks, direction), not public

from nlp_lstm.layers.peephole_lstm_cell import PeepholeLSTMCell

Step = Callable[[tf.Tensor, list], tuple[tf.Tensor, list]]


def hoistable(layer: keras.layers.RNN) -> bool:
    """Whether ``layer`` should run its hoisted loop: no GPU (where cuDNN fuses the whole
    layer) and no dropout inside the cell (which varies the input per gate)."""
    return (
        not tf.config.list_logical_devices("GPU")
        and not getattr(layer, "dropout", 0)
        and not getattr(layer, "recurrent_dropout", 0)
    )


def projected_step(cell: keras.layers.Layer) -> tuple[tf.Tensor | None, Step]:
    """How a cell finishes its step once the input product is known.

    Args:
        cell: a built ``keras.layers.LSTMCell``, ``PeepholeLSTMCell`` or
            ``keras.layers.GRUCell`` (with ``reset_after`` and biases, as cuDNN has it).

    Returns:
        ``(input_bias, step)``: ``step(z, states) -> (output, new_states)``, where
        ``z = x @ cell.kernel + input_bias`` (``input_bias`` is None without biases).
        The recurrent weights are read once, here, not once per step.

    Raises:
        ValueError: for a GRU cell without ``reset_after`` or biases.
    """
    recurrent_kernel = ops.convert_to_tensor(cell.recurrent_kernel)
    if isinstance(cell, keras.layers.GRUCell):
        if not (cell.reset_after and cell.use_bias):
            raise ValueError("only GRU cells with reset_after=True and biases can be hoisted")
        input_bias, recurrent_bias = ops.unstack(ops.convert_to_tensor(cell.bias))

        def gru_step(z, states):
            h_prev = states[0] if isinstance(states, (list, tuple)) else states
            z_z, z_r, z_h = ops.split(z, 3, axis=-1)
            r_z, r_r, r_h = ops.split(
                ops.matmul(h_prev, recurrent_kernel) + recurrent_bias, 3, axis=-1
            )
            update = cell.recurrent_activation(z_z + r_z)
            reset = cell.recurrent_activation(z_r + r_r)
            h = update * h_prev + (1 - update) * cell.activation(z_h + reset * r_h)
            return h, [h]

        return input_bias, gru_step
    bias = ops.convert_to_tensor(cell.bias) if cell.use_bias else None
    if isinstance(cell, PeepholeLSTMCell):
        peepholes = ops.convert_to_tensor(cell.peepholes)

        def peephole_step(z, states):
            return cell.update(z + ops.matmul(states[0], recurrent_kernel), states[1], peepholes)

        return bias, peephole_step

    def lstm_step(z, states):
        h, c = states
        c, o = cell._compute_carry_and_output_fused(
            ops.split(z + ops.matmul(h, recurrent_kernel), 4, axis=-1), c
        )
        h = o * cell.activation(c)
        return h, [h, c]

    return bias, lstm_step


def run_hoisted(layer: keras.layers.RNN, sequences, initial_state, mask):
    """Runs ``layer``'s cell over ``sequences`` with the input product computed for all
    steps at once, with ``layer``'s settings (direction, mask, which outputs to return);
    returns what ``keras.layers.RNN.inner_loop`` returns."""
    bias, step = projected_step(layer.cell)
    projected = input_projection(sequences, layer.cell.kernel, bias)
    return rnn(
        step,
        projected,
        list(initial_state),
        go_backwards=layer.go_backwards,
        mask=first_mask(mask),
        unroll=layer.unroll,
        input_length=projected.shape[1],
        zero_output_for_mask=layer.zero_output_for_mask,
        return_all_outputs=layer.return_sequences,
    )


def first_mask(mask):
    """The mask of the sequences (Keras may pass one per input)."""
    return mask[0] if isinstance(mask, (list, tuple)) else mask


def input_projection(sequences, kernel, bias=None):
    """``sequences @ kernel (+ bias)`` for every step at once: ``[batch, ..., k]``."""
    projected = ops.matmul(sequences, kernel)
    return projected if bias is None else projected + bias
