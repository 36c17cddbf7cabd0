"""Stacks of recurrent layers that stay within the cuDNN kernel's conditions."""

from __future__ import annotations

import keras

from nlp_lstm.layers.cells import recurrent_layer


def recurrent_stack(
    sequences,
    units: int,
    layers: int,
    bidirectional: bool = False,
    dropout: float = 0.0,
    return_sequences: bool = True,
    name: str = "lstm",
    cell: str = "lstm",
):
    """Applies ``layers`` stacked recurrent layers (optionally bidirectional) to ``sequences``.

    Default activations, no recurrent dropout and right-padded masks keep every
    layer on the fused cuDNN kernel on a GPU; dropout is applied between layers.

    Args:
        sequences: ``[batch, time, features]`` symbolic tensor (with its mask).
        units: LSTM units per direction.
        layers: number of stacked layers.
        bidirectional: wrap each layer in ``keras.layers.Bidirectional`` (concat).
        dropout: dropout rate between layers.
        return_sequences: whether the last layer returns every step.
        name: prefix of the layer names.
        cell: ``lstm``, ``gru`` or ``peephole`` (see ``nlp_lstm.layers.cells``).

    Returns:
        The last layer's output.
    """
    x = sequences
    for index in range(layers):
        last = index == layers - 1
        lstm = recurrent_layer(
            cell, units, return_sequences=return_sequences or not last, name=f"{name}_{index + 1}"
        )
        if bidirectional:
            lstm = keras.layers.Bidirectional(lstm, name=f"bi{name}_{index + 1}")
        x = lstm(x)
        if dropout and not last:
            x = keras.layers.Dropout(dropout, name=f"{name}_{index + 1}_dropout")(x)
    return x
