"""Pooling over time that ignores padded steps."""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="nlp_lstm")
class MaskedMaxMeanPooling(keras.layers.Layer):
    """Concatenates the max and the mean over the unmasked time steps.

    ``[batch, time, features]`` -> ``[batch, 2 * features]``. Padded steps take no
    part in either statistic; a row with no unmasked step pools to zeros.
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, sequences, mask=None):
        if mask is None:
            return ops.concatenate(
                [ops.max(sequences, axis=1), ops.mean(sequences, axis=1)], axis=-1
            )
        weights = ops.cast(mask, sequences.dtype)[:, :, None]
        count = ops.sum(weights, axis=1)
        mean = ops.sum(sequences * weights, axis=1) / ops.maximum(count, 1.0)
        lowest = ops.convert_to_tensor(-1e4, dtype=sequences.dtype)
        maximum = ops.max(ops.where(weights > 0, sequences, lowest), axis=1)
        maximum = ops.where(count > 0, maximum, ops.zeros_like(maximum))
        return ops.concatenate([maximum, mean], axis=-1)

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        return (input_shape[0], 2 * input_shape[-1])
