"""Keras layers shared by the models."""

from nlp_lstm.layers.masked_pooling import MaskedMaxMeanPooling
from nlp_lstm.layers.recurrent_stack import recurrent_stack

__all__ = ["MaskedMaxMeanPooling", "recurrent_stack"]
