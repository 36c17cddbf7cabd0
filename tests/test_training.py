"""The shared fit loop: divergence stops with a clear message and keeps the good weights."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from nlp_lstm.errors import NlpLstmError
from nlp_lstm.training import RunDirectory, best_logged, fit


def regression(poison_from_batch: int | None, batches: int = 6):
    """``batches`` batches of 8 examples; from batch ``poison_from_batch`` on, inputs are NaN."""
    x = np.random.default_rng(0).normal(size=(8 * batches, 3)).astype("float32")
    if poison_from_batch is not None:
        x[8 * (poison_from_batch - 1):] = np.nan
    y = x.sum(axis=1, keepdims=True)
    return tf.data.Dataset.from_tensor_slices((x, y)).batch(8)


def small_model():
    keras.utils.set_random_seed(1)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    return model


def test_a_nan_loss_stops_training_naming_epoch_and_step(tmp_path):
    """Epoch 1 (batches 1-6) is clean, epoch 2 meets NaN inputs at its 4th step."""
    run = RunDirectory(tmp_path / "run")
    weights_after_epoch_1 = []

    class Remember(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 0:
                weights_after_epoch_1.extend(w.copy() for w in self.model.get_weights())

    model = small_model()
    train = regression(poison_from_batch=10, batches=18)
    original_fit = model.fit
    model.fit = lambda *a, callbacks=(), **k: original_fit(*a, callbacks=[*callbacks, Remember()],
                                                             **k)
    with pytest.raises(NlpLstmError) as raised:
        fit(model, train, regression(None), run, epochs=3, steps_per_epoch=6)
    message = str(raised.value)
    assert "loss became nan at epoch 2, step 4" in message
    assert f"best weights so far are kept in {run.best_weights}" in message
    kept = small_model()
    kept.load_weights(run.best_weights)
    for actual, expected in zip(kept.get_weights(), weights_after_epoch_1):
        np.testing.assert_allclose(actual, expected)


def test_a_clean_run_returns_its_history(tmp_path):
    data = regression(None)
    history = fit(small_model(), data, data, RunDirectory(tmp_path / "run"), epochs=2)
    assert len(history["loss"]) == 2 and history["seconds"] > 0


def test_best_logged_reads_the_history_of_a_resumed_run(tmp_path):
    history = tmp_path / "history.csv"
    assert best_logged(history, "val_loss", "min") == float("inf")
    history.write_text("epoch,loss,val_loss,val_accuracy\n0,3,2.5,0.6\n1,2,1.5,0.7\n2,nan,nan,0.5\n")
    assert best_logged(history, "val_loss", "min") == 1.5
    assert best_logged(history, "val_accuracy", "max") == 0.7
