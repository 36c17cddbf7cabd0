"""The recurrent cell variants every recipe can use: LSTM, GRU and peephole LSTM.

``lstm`` and ``gru`` are Keras's own layers with default activations and no
recurrent dropout (so a GPU runs them on cuDNN), with their input projection
hoisted out of the time loop elsewhere (``HoistedLSTM``, ``HoistedGRU``);
``peephole`` is ``PeepholeLSTM``, whose extra terms have no cuDNN kernel.
"""

from __future__ import annotations

import keras

from nlp_lstm.config import check_cell
from nlp_lstm.layers.hoisted_gru import HoistedGRU
from nlp_lstm.layers.hoisted_lstm import HoistedLSTM
from nlp_lstm.layers.peephole_lstm import PeepholeLSTM
from nlp_lstm.layers.peephole_lstm_cell import PeepholeLSTMCell

_LAYERS = {"lstm": HoistedLSTM, "gru": HoistedGRU, "peephole": PeepholeLSTM}
_CELLS = {"lstm": keras.layers.LSTMCell, "gru": keras.layers.GRUCell, "peephole": PeepholeLSTMCell}


def recurrent_layer(cell: str, units: int, **kwargs) -> keras.layers.RNN:
    """A recurrent layer of the ``cell`` variant (``return_sequences`` etc. as kwargs)."""
    return _LAYERS[check_cell(cell)](units, **kwargs)


def recurrent_cell(cell: str, units: int, **kwargs) -> keras.layers.Layer:
    """One cell of the ``cell`` variant, for decoders that step by hand."""
    return _CELLS[check_cell(cell)](units, **kwargs)


def state_count(cell_or_layer) -> int:
    """States a cell carries: 2 (h, c) for the LSTMs, 1 (h) for the GRU."""
    cell = getattr(cell_or_layer, "cell", cell_or_layer)
    return len(cell.state_size) if isinstance(cell.state_size, (list, tuple)) else 1
