"""Running a recurrent layer with its input projection hoisted out of the time loop.

An LSTM or GRU step multiplies both its input and its previous state by a kernel. The
input product does not depend on the previous step, so off cuDNN it is cheaper to
compute it for all steps at once, as one large matrix product (which the CPU runs
near its peak, in bfloat16 too), and to leave only the recurrent product in the loop.
The weights read once outside the loop are also cast once under mixed precision,
instead of once per step.
"""

from __future__ import annotations

from typing import Callable

import keras
import tensorflow as tf
from keras import ops
from keras.src.backend import rnn  # Keras's own time loop (masks, direction), not public


def hoistable(layer: keras.layers.RNN) -> bool:
    """Whether ``layer`` should run its hoisted loop: no GPU (where cuDNN fuses the whole
    layer) and no dropout inside the cell (which varies the input per gate)."""
    return (not tf.config.list_logical_devices("GPU")
            and not getattr(layer, "dropout", 0) and not getattr(layer, "recurrent_dropout", 0))


def run_hoisted(layer: keras.layers.RNN, projected, step: Callable, initial_state, mask):
    """Runs ``step(projected_t, states) -> (output, states)`` over time with ``layer``'s
    settings (direction, mask, which outputs to return); returns what
    ``keras.layers.RNN.inner_loop`` returns."""
    return rnn(step, projected, list(initial_state), go_backwards=layer.go_backwards,
               mask=first_mask(mask), unroll=layer.unroll, input_length=projected.shape[1],
               zero_output_for_mask=layer.zero_output_for_mask,
               return_all_outputs=layer.return_sequences)


def first_mask(mask):
    """The mask of the sequences (Keras may pass one per input)."""
    return mask[0] if isinstance(mask, (list, tuple)) else mask


def input_projection(sequences, kernel, bias=None):
    """``sequences @ kernel (+ bias)`` for every step at once: ``[batch, time, k]``."""
    projected = ops.matmul(sequences, kernel)
    return projected if bias is None else projected + bias
