"""The peephole LSTM: pinned to its equations in NumPy, equal to an LSTM without peepholes."""

import keras
import numpy as np
import tensorflow as tf
from test_lstm_equations import sigmoid

from nlp_lstm.layers.peephole_lstm import PeepholeLSTM


def numpy_peephole_lstm(x, W, U, b, P):
    """i, f see c_prev and o sees the new c through the peephole vectors P = [p_i, p_f, p_o]."""
    units = U.shape[0]
    W_i, W_f, W_c, W_o = np.split(W, 4, axis=1)
    U_i, U_f, U_c, U_o = np.split(U, 4, axis=1)
    b_i, b_f, b_c, b_o = np.split(b, 4)
    p_i, p_f, p_o = P
    h = np.zeros((x.shape[0], units))
    c = np.zeros((x.shape[0], units))
    outputs = []
    for t in range(x.shape[1]):
        x_t = x[:, t]
        f = sigmoid(x_t @ W_f + h @ U_f + p_f * c + b_f)
        i = sigmoid(x_t @ W_i + h @ U_i + p_i * c + b_i)
        c = f * c + i * np.tanh(x_t @ W_c + h @ U_c + b_c)
        o = sigmoid(x_t @ W_o + h @ U_o + p_o * c + b_o)
        h = o * np.tanh(c)
        outputs.append(h)
    return np.stack(outputs, axis=1), h, c


def random_weights(seed, features, units):
    rng = np.random.default_rng(seed)
    return (
        rng.normal(scale=0.5, size=(features, 4 * units)).astype("float32"),
        rng.normal(scale=0.5, size=(units, 4 * units)).astype("float32"),
        rng.normal(scale=0.5, size=(4 * units,)).astype("float32"),
        rng.normal(scale=0.8, size=(3, units)).astype("float32"),
    )


def test_peephole_layer_follows_the_equations():
    x = np.random.default_rng(1).normal(size=(3, 6, 5)).astype("float32")
    W, U, b, P = random_weights(2, 5, 4)
    layer = PeepholeLSTM(4, return_sequences=True, return_state=True)
    layer.build(x.shape)
    layer.set_weights([W, U, b, P])
    got = [keras.ops.convert_to_numpy(t) for t in layer(x)]
    for actual, expected in zip(got, numpy_peephole_lstm(x, W, U, b, P)):
        np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-5)
    # the peepholes matter: without them the equations give something else
    plain = numpy_peephole_lstm(x, W, U, b, np.zeros_like(P))[0]
    assert np.abs(plain - got[0]).max() > 1e-2


def test_zero_peepholes_equal_keras_lstm():
    x = np.random.default_rng(3).normal(size=(2, 7, 5)).astype("float32")
    W, U, b, _ = random_weights(4, 5, 6)
    peephole = PeepholeLSTM(6, return_sequences=True)
    lstm = keras.layers.LSTM(6, return_sequences=True)
    peephole.build(x.shape)
    lstm.build(x.shape)
    lstm.set_weights([W, U, b])
    peephole.set_weights([W, U, b, np.zeros((3, 6), "float32")])  # also the initial value
    np.testing.assert_allclose(peephole(x), lstm(x), rtol=1e-5, atol=1e-5)


def test_peephole_layer_round_trips_through_a_keras_file(tmp_path):
    inputs = keras.Input((None, 3))
    outputs = keras.layers.Bidirectional(PeepholeLSTM(4, return_sequences=True))(inputs)
    model = keras.Model(inputs, outputs)
    model.layers[1].set_weights([w + 0.1 for w in model.layers[1].get_weights()])
    model.save(tmp_path / "peephole.keras")
    loaded = keras.saving.load_model(tmp_path / "peephole.keras", safe_mode=True)
    x = np.ones((2, 5, 3), "float32")
    np.testing.assert_allclose(loaded(x), model(x), rtol=1e-6)


def test_zero_peepholes_equal_keras_lstm_with_masks_and_gradients():
    """The hoisted loop of the layer against Keras's LSTM: masked rows, reversed
    direction, and the gradients of the inputs and weights."""
    x = tf.constant(np.random.default_rng(5).normal(size=(3, 6, 5)).astype("float32"))
    mask = np.array([[1] * 6, [1] * 3 + [0] * 3, [0] + [1] * 5], bool)
    W, U, b, _ = random_weights(6, 5, 4)
    results = []
    for layer in (
        PeepholeLSTM(4, return_sequences=True, go_backwards=True),
        keras.layers.LSTM(4, return_sequences=True, go_backwards=True),
    ):
        layer.build(x.shape)
        layer.set_weights([W, U, b] + [np.zeros((3, 4), "float32")] * (len(layer.weights) - 3))
        with tf.GradientTape() as tape:
            tape.watch(x)
            outputs = layer(x, mask=mask)
            loss = tf.reduce_sum(outputs * tf.range(1.0, 5.0))
        results.append([outputs, *tape.gradient(loss, [x, *layer.weights[:3]])])
    for actual, expected in zip(*results):
        np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-5)
