"""Losses shared by the sequence models."""

from __future__ import annotations

import keras
from keras import ops

from nlp_lstm.tokenization.special_ids import PAD_ID


@keras.saving.register_keras_serializable(package="nlp_lstm")
class MaskedSequenceCrossEntropy(keras.losses.Loss):
    """Token-level cross-entropy from logits with label smoothing, ignoring padding.

    The loss of a batch is the mean over its real (non-padding) target tokens.
    With smoothing ``e`` the target distribution is ``1 - e`` on the true token
    plus ``e`` spread uniformly over the vocabulary (Szegedy et al., 2016).

    Args:
        label_smoothing: ``e`` in ``[0, 1)``.

    Example:
        >>> model.compile(optimizer="adam", loss=MaskedSequenceCrossEntropy(0.1))
    """

    def __init__(self, label_smoothing: float = 0.0, name: str = "masked_cross_entropy", **kwargs):
        kwargs["reduction"] = "sum"
        super().__init__(name=name, **kwargs)
        self.label_smoothing = label_smoothing

    def call(self, y_true, y_pred):
        y_true = ops.cast(y_true, "int32")
        logits = ops.cast(y_pred, "float32")
        # One-hot targets, so that the smoothed loss runs as one fused softmax
        # cross-entropy kernel whose gradient comes with its forward pass.
        loss = keras.losses.categorical_crossentropy(
            ops.one_hot(y_true, ops.shape(logits)[-1]),
            logits,
            from_logits=True,
            label_smoothing=self.label_smoothing,
        )
        weights = ops.cast(ops.not_equal(y_true, PAD_ID), "float32")
        return loss * weights / ops.maximum(ops.sum(weights), 1.0)

    def get_config(self):
        config = super().get_config()
        config.pop("reduction", None)
        config.update(label_smoothing=self.label_smoothing)
        return config
