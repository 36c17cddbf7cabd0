"""The hoisted LSTM and GRU compute what Keras's layers compute, forward and backward,
with masks, both directions and initial states; and they save and reload."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from nlp_lstm.layers import lstm_kernel, onednn
from nlp_lstm.layers.hoisted_gru import HoistedGRU
from nlp_lstm.layers.hoisted_lstm import HoistedLSTM
from nlp_lstm.precision import set_precision

X = np.random.default_rng(0).normal(size=(4, 7, 5)).astype("float32")
# Full, right-padded, one step, and left-padded rows.
MASK = np.array([[1] * 7, [1] * 4 + [0] * 3, [1] + [0] * 6, [0] * 2 + [1] * 5], bool)
SETTINGS = [
    {},
    {"go_backwards": True},
    {"zero_output_for_mask": True},
    {"return_sequences": False},
    {"activation": "relu"},
]


@pytest.fixture(autouse=True)
def tensorflow_loops(monkeypatch):
    """These tests pin the layers' own loops (the oneDNN op has tests of its own)."""
    monkeypatch.setattr(onednn, "available", lambda dtype="float32": False)


def outputs_and_gradients(layer, initial_state, known_length=True):
    """The layer's outputs and gradients in training; ``known_length=False`` traces it with a time
    length unknown until it runs (as length-bucketed batches are)."""

    def run(inputs, mask):
        with tf.GradientTape() as tape:
            tape.watch([inputs, *initial_state])
            # training=True: the loop with the hand-written gradient
            outputs = layer(inputs, mask=mask, initial_state=initial_state, training=True)
            values = outputs if isinstance(outputs, (list, tuple)) else [outputs]
            weights = [tf.range(1.0, v.shape[-1] + 1.0) for v in values]
            loss = tf.add_n([tf.reduce_sum(v * w) for v, w in zip(values, weights)])
        return values, tape.gradient(loss, [inputs, *initial_state, *layer.trainable_weights])

    if not known_length:
        run = tf.function(
            run, input_signature=[tf.TensorSpec([4, None, 5]), tf.TensorSpec([4, None], tf.bool)]
        )
    values, gradients = run(tf.constant(X), tf.constant(MASK))
    return [np.asarray(v) for v in values], [np.asarray(g) for g in gradients]


def assert_same_as_keras(ours, theirs, states, known_length=True):
    initial_state = [tf.random.stateless_normal([4, 6], [i, 1]) for i in range(states)]
    theirs(X, mask=MASK, initial_state=initial_state)
    ours(X, mask=MASK, initial_state=initial_state)
    ours.set_weights(theirs.get_weights())
    expected, expected_gradients = outputs_and_gradients(theirs, initial_state)
    actual, actual_gradients = outputs_and_gradients(ours, initial_state, known_length)
    for a, e in zip(actual + actual_gradients, expected + expected_gradients):
        np.testing.assert_allclose(a, e, atol=2e-5, rtol=1e-4)


@pytest.mark.parametrize("known_length", [True, False], ids=["xla-loops", "graph-loops"])
@pytest.mark.parametrize("settings", SETTINGS)
def test_hoisted_lstm_equals_keras_lstm(settings, known_length):
    """Both paths of the float32 time loops: XLA where the length is known at tracing,
    TensorFlow's own ops where it is not."""
    settings = {"return_sequences": True, "return_state": True, **settings}
    layers = HoistedLSTM(6, **settings), keras.layers.LSTM(6, **settings)
    assert_same_as_keras(*layers, 2, known_length)


def test_only_loops_of_a_known_length_are_compiled():
    layer = HoistedLSTM(3, return_sequences=True, return_state=True)  # a shape of its own
    state = [tf.zeros([4, 3]), tf.zeros([4, 3])]
    tracings = lstm_kernel._compiled_backward.experimental_get_tracing_count
    before = tracings()
    outputs_and_gradients(layer, state, known_length=False)
    assert tracings() == before
    outputs_and_gradients(layer, state, known_length=True)
    assert tracings() == before + 1


@pytest.mark.parametrize("settings", SETTINGS[:4])
def test_hoisted_gru_equals_keras_gru(settings):
    settings = {"return_sequences": True, "return_state": True, **settings}
    assert_same_as_keras(HoistedGRU(6, **settings), keras.layers.GRU(6, **settings), 1)


def test_bfloat16_stays_close_to_float32():
    reference = HoistedLSTM(32, return_sequences=True)
    expected = np.asarray(reference(X, mask=MASK))
    try:
        set_precision("bfloat16")
        mixed = HoistedLSTM(32, return_sequences=True)
        mixed(X, mask=MASK)
        mixed.set_weights(reference.get_weights())
        actual = mixed(X, mask=MASK)
    finally:
        set_precision("float32")
    assert actual.dtype == "bfloat16"
    np.testing.assert_allclose(np.asarray(tf.cast(actual, tf.float32)), expected, atol=3e-2)


def test_hoisted_layers_save_and_reload_in_safe_mode(tmp_path):
    inputs = keras.Input((None, 5))
    x = keras.layers.Bidirectional(HoistedLSTM(6, return_sequences=True))(inputs)
    model = keras.Model(inputs, HoistedGRU(3)(x))
    model.save(tmp_path / "model.keras")
    reloaded = keras.saving.load_model(tmp_path / "model.keras", safe_mode=True)
    np.testing.assert_allclose(reloaded(X), model(X), atol=1e-6)
    assert {type(layer) for layer in reloaded._flatten_layers()} >= {HoistedLSTM, HoistedGRU}


@pytest.mark.parametrize("mask", [None, MASK[:, :1]])
def test_one_step_equals_keras_lstm(mask):
    """The single-step path of generation, also with a masked row."""
    settings = {"return_sequences": True, "return_state": True}
    theirs, ours = keras.layers.LSTM(6, **settings), HoistedLSTM(6, **settings)
    state = [tf.random.stateless_normal([4, 6], [i, 2]) for i in range(2)]
    theirs(X[:, :1], mask=mask, initial_state=state)
    ours(X[:, :1], mask=mask, initial_state=state)
    ours.set_weights(theirs.get_weights())
    for a, e in zip(
        ours(X[:, :1], mask=mask, initial_state=state),
        theirs(X[:, :1], mask=mask, initial_state=state),
    ):
        np.testing.assert_allclose(a, e, atol=1e-6)
