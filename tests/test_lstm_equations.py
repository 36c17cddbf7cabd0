"""The seeds' LSTM equations, in NumPy, reproduce keras.layers.LSTM for the same weights."""

import keras
import numpy as np


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def numpy_lstm(x, W, U, b):
    """f, i, o = sigmoid(W [h, x] + b); c~ = tanh(...); c = f*c + i*c~; h = o*tanh(c).

    Keras stores the gates in the order input, forget, candidate, output, with the
    input kernel ``W`` and recurrent kernel ``U`` kept apart ([h, x] split in two).
    """
    units = U.shape[0]
    W_i, W_f, W_c, W_o = np.split(W, 4, axis=1)
    U_i, U_f, U_c, U_o = np.split(U, 4, axis=1)
    b_i, b_f, b_c, b_o = np.split(b, 4)
    h = np.zeros((x.shape[0], units))
    c = np.zeros((x.shape[0], units))
    outputs = []
    for t in range(x.shape[1]):
        x_t = x[:, t]
        f = sigmoid(x_t @ W_f + h @ U_f + b_f)
        i = sigmoid(x_t @ W_i + h @ U_i + b_i)
        o = sigmoid(x_t @ W_o + h @ U_o + b_o)
        c_tilde = np.tanh(x_t @ W_c + h @ U_c + b_c)
        c = f * c + i * c_tilde
        h = o * np.tanh(c)
        outputs.append(h)
    return np.stack(outputs, axis=1), h, c


def test_numpy_equations_reproduce_keras_lstm():
    rng = np.random.default_rng(7)
    batch, steps, features, units = 3, 6, 5, 4
    x = rng.normal(size=(batch, steps, features)).astype("float32")
    W = rng.normal(scale=0.5, size=(features, 4 * units)).astype("float32")
    U = rng.normal(scale=0.5, size=(units, 4 * units)).astype("float32")
    b = rng.normal(scale=0.5, size=(4 * units,)).astype("float32")

    layer = keras.layers.LSTM(units, return_sequences=True, return_state=True)
    layer.build((batch, steps, features))
    layer.set_weights([W, U, b])
    sequences, h, c = (keras.ops.convert_to_numpy(t) for t in layer(x))

    expected_sequences, expected_h, expected_c = numpy_lstm(x, W, U, b)
    np.testing.assert_allclose(sequences, expected_sequences, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(h, expected_h, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(c, expected_c, rtol=1e-5, atol=1e-5)


def test_swapping_two_gates_breaks_the_match():
    """Guards the test above: the gate order matters, so a wrong reading would fail."""
    rng = np.random.default_rng(8)
    x = rng.normal(size=(2, 4, 3)).astype("float32")
    W = rng.normal(size=(3, 8)).astype("float32")
    U = rng.normal(size=(2, 8)).astype("float32")
    b = rng.normal(size=(8,)).astype("float32")
    layer = keras.layers.LSTM(2, return_sequences=True)
    layer.build(x.shape)
    layer.set_weights([W, U, b])
    swap = lambda m: np.concatenate([np.split(m, 4, axis=-1)[k] for k in (1, 0, 2, 3)], axis=-1)
    wrong, _, _ = numpy_lstm(x, swap(W), swap(U), swap(b))
    assert not np.allclose(keras.ops.convert_to_numpy(layer(x)), wrong, atol=1e-3)
