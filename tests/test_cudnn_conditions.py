"""The recipes' recurrent layers meet the conditions for the fused cuDNN kernel on a GPU:
default activations, no recurrent dropout, no unrolling, biases on (and GRU's reset_after).
Right padding (the other condition) is what the tokenizers produce."""

import keras
import pytest

from nlp_lstm.models.generation import build_char_language_model
from nlp_lstm.models.sentiment import build_sentiment_classifier
from nlp_lstm.models.translation import Translator


def recurrent_layers(model):
    layers = []
    for layer in model._flatten_layers(include_self=False):
        if isinstance(layer, keras.layers.Bidirectional):
            layers += [layer.forward_layer, layer.backward_layer]
        elif isinstance(layer, (keras.layers.LSTM, keras.layers.GRU)):
            layers.append(layer)
    return layers


def models(cell):
    translator = Translator(50, 8, 8, 2, 16, cell=cell)
    translator.build()
    return [
        build_sentiment_classifier(50, 2, 8, 8, 2, cell=cell),
        build_char_language_model(50, 8, 8, 2, cell=cell),
        translator,
    ]


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_recurrent_layers_meet_the_cudnn_conditions(cell):
    for model in models(cell):
        layers = recurrent_layers(model)
        assert layers, model.name
        for layer in layers:
            config = layer.get_config()
            assert config["activation"] == "tanh" and config["recurrent_activation"] == "sigmoid"
            assert config["recurrent_dropout"] == 0 and not config["unroll"]
            assert config["use_bias"]
            if cell == "gru":
                assert config["reset_after"]
