"""Keras layers shared by the models."""

from nlp_lstm.config import CELLS
from nlp_lstm.layers.cells import recurrent_cell, recurrent_layer, state_count
from nlp_lstm.layers.hoisted_gru import HoistedGRU
from nlp_lstm.layers.hoisted_lstm import HoistedLSTM
from nlp_lstm.layers.masked_pooling import MaskedMaxMeanPooling
from nlp_lstm.layers.peephole_lstm import PeepholeLSTM
from nlp_lstm.layers.peephole_lstm_cell import PeepholeLSTMCell
from nlp_lstm.layers.recurrent_stack import recurrent_stack

__all__ = [
    "CELLS",
    "HoistedGRU",
    "HoistedLSTM",
    "MaskedMaxMeanPooling",
    "PeepholeLSTM",
    "PeepholeLSTMCell",
    "recurrent_cell",
    "recurrent_layer",
    "recurrent_stack",
    "state_count",
]
