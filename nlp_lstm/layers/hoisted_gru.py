"""``keras.layers.GRU`` with its input projection hoisted out of the time loop off cuDNN."""

from __future__ import annotations

import keras

from nlp_lstm.layers.hoisted_rnn import hoistable, run_hoisted


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
        return run_hoisted(self, sequences, initial_state, mask)
