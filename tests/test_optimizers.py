"""FusedAdam and FusedAdamW train exactly as Keras's Adam and AdamW do, and save and
reload with a model."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from nlp_lstm.optimizers import FusedAdam, FusedAdamW

X = np.random.default_rng(0).integers(0, 50, (64, 6))
Y = np.random.default_rng(1).integers(0, 3, 64)


def model() -> keras.Model:
    keras.utils.set_random_seed(0)
    return keras.Sequential(
        [
            keras.Input((6,), dtype="int32"),
            keras.layers.Embedding(50, 8),
            keras.layers.LSTM(8),
            keras.layers.Dense(3),
        ]
    )


def trained_weights(optimizer) -> list[np.ndarray]:
    trained = model()
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    trained.compile(optimizer, loss)
    trained.fit(X, Y, epochs=3, batch_size=16, verbose=0)
    return trained.get_weights()


@pytest.mark.parametrize(
    "fused, keras_optimizer",
    [
        (FusedAdam(1e-2, clipnorm=1.0), keras.optimizers.Adam(1e-2, clipnorm=1.0)),
        (FusedAdamW(1e-2, weight_decay=0.05), keras.optimizers.AdamW(1e-2, weight_decay=0.05)),
    ],
    ids=["adam", "adamw"],
)
def test_fused_updates_equal_keras(fused, keras_optimizer):
    for actual, expected in zip(trained_weights(fused), trained_weights(keras_optimizer)):
        np.testing.assert_allclose(actual, expected, atol=1e-5)


def test_dense_updates_are_fused(monkeypatch):
    calls = []
    fused_update = tf.raw_ops.ResourceApplyAdam
    monkeypatch.setattr(
        tf.raw_ops, "ResourceApplyAdam", lambda **kw: calls.append(kw) or fused_update(**kw)
    )
    trained_weights(FusedAdam(1e-2))
    assert len(calls) >= 5  # the LSTM's 3 weights and the dense layer's 2, when traced


def test_saved_model_reloads_with_its_optimizer(tmp_path):
    trained = model()
    trained.compile(FusedAdamW(1e-2, weight_decay=0.05), "sparse_categorical_crossentropy")
    trained.fit(X, Y, epochs=1, batch_size=16, verbose=0)
    trained.save(tmp_path / "model.keras")
    reloaded = keras.saving.load_model(tmp_path / "model.keras")
    assert isinstance(reloaded.optimizer, FusedAdamW)
    assert reloaded.optimizer.weight_decay == 0.05
    np.testing.assert_allclose(
        reloaded.optimizer.variables[-1].numpy(), trained.optimizer.variables[-1].numpy()
    )
