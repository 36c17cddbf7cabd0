"""The peephole LSTM layer: ``PeepholeLSTMCell`` over time, its input product hoisted."""

from __future__ import annotations

import keras

from nlp_lstm.layers.hoisted_rnn import run_hoisted
from nlp_lstm.layers.peephole_lstm_cell import PeepholeLSTMCell


@keras.saving.register_keras_serializable(package="nlp_lstm")
class PeepholeLSTM(keras.layers.RNN):
    """A recurrent layer of ``PeepholeLSTMCell`` with the ``keras.layers.LSTM`` interface
    that the recipes use (``return_sequences``, ``return_state``, masks, initial states).

    Example:
        >>> layer = PeepholeLSTM(64, return_sequences=True)
        >>> outputs = layer(keras.ops.ones((2, 10, 8)))   # [2, 10, 64]
    """

    def __init__(
        self,
        units: int,
        return_sequences: bool = False,
        return_state: bool = False,
        cell: PeepholeLSTMCell | None = None,
        **kwargs,
    ):
        cell_options = {
            k: kwargs.pop(k)
            for k in list(kwargs)
            if k
            in (
                "activation",
                "recurrent_activation",
                "use_bias",
                "kernel_initializer",
                "recurrent_initializer",
                "bias_initializer",
                "unit_forget_bias",
            )
        }
        super().__init__(
            cell or PeepholeLSTMCell(units, **cell_options),
            return_sequences=return_sequences,
            return_state=return_state,
            **kwargs,
        )

    @property
    def units(self) -> int:
        return self.cell.units

    def inner_loop(self, sequences, initial_state, mask, training=False):
        """The input product runs once over all steps (see ``nlp_lstm.layers.hoisted_rnn``;
        there is no cuDNN kernel for peepholes, so also on a GPU)."""
        return run_hoisted(self, sequences, initial_state, mask)

    def get_config(self):
        config = super().get_config()
        config["units"] = self.units
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        cell = keras.saving.deserialize_keras_object(config.pop("cell"))
        return cls(cell=cell, **config)
