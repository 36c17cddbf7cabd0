"""The attention decoder computes Luong attention, with and without input feeding, step by
step as written in its docstring, forward and backward, for every cell and stacked cells."""

import numpy as np
import pytest
import tensorflow as tf
from keras import ops

from nlp_lstm.layers.attention_decoder import AttentionDecoder
from nlp_lstm.precision import set_precision

RNG = np.random.default_rng(0)
TARGET = RNG.normal(size=(3, 5, 4)).astype("float32")
MEMORY = RNG.normal(size=(3, 6, 8)).astype("float32")
MEMORY_MASK = np.array([[1] * 6, [1] * 3 + [0] * 3, [1] + [0] * 5], bool)


def textbook_decoding(decoder, target, memory, memory_mask):
    """The docstring's equations with the decoder's own weights: each cell called on
    ``[y_t; a_{t-1}]`` (``y_t`` without input feeding), the context projected by the
    ``attentional`` layer."""
    state = decoder.initial_state(memory, memory_mask)
    keys = decoder.memory_keys(memory) / (decoder.units**0.5 if decoder.scaled_scores else 1)
    count, outputs, weights_over_time = decoder.states_per_cell, [], []
    for t in range(target.shape[1]):
        x, new_state = target[:, t], []
        if decoder.input_feeding:
            x = ops.concatenate([x, state[-1]], axis=-1)
        for index, cell in enumerate(decoder.cells):
            x, states = cell(x, state[count * index : count * (index + 1)])
            new_state += list(states)
        scores = ops.where(memory_mask, ops.einsum("bsu,bu->bs", keys, x), -1e9)
        weights = ops.softmax(scores, axis=-1)
        context = ops.einsum("bs,bsd->bd", weights, memory)
        attentional = decoder.attentional(ops.concatenate([context, x], axis=-1))
        state = [*new_state, attentional] if decoder.input_feeding else new_state
        outputs.append(attentional)
        weights_over_time.append(weights)
    return ops.stack(outputs, axis=1), ops.stack(weights_over_time, axis=1)


def outputs_and_gradients(decoder, decode):
    target, memory = tf.constant(TARGET), tf.constant(MEMORY)
    with tf.GradientTape() as tape:
        tape.watch([target, memory])
        outputs = tf.cast(decode(target, memory), tf.float32)
        loss = tf.reduce_sum(outputs * tf.range(1.0, outputs.shape[-1] + 1.0))
    gradients = tape.gradient(loss, [target, memory, *decoder.trainable_weights])
    return [np.asarray(outputs)] + [np.asarray(g) for g in gradients]


@pytest.mark.parametrize(
    "cell, layers, scaled, feeding",
    [
        ("lstm", 1, True, True),
        ("lstm", 1, False, True),
        ("lstm", 2, True, True),
        ("gru", 2, True, True),
        ("peephole", 1, True, True),
        ("lstm", 1, True, False),
        ("lstm", 2, True, False),
        ("gru", 1, True, False),
    ],
)
def test_decoder_follows_luong_equations(cell, layers, scaled, feeding):
    decoder = AttentionDecoder(
        6, layers=layers, cell=cell, scaled_scores=scaled, input_feeding=feeding
    )
    decoder.build(TARGET.shape, MEMORY.shape)
    decoder.set_weights([RNG.normal(scale=0.5, size=w.shape) for w in decoder.get_weights()])

    expected = outputs_and_gradients(
        decoder, lambda y, m: textbook_decoding(decoder, y, m, MEMORY_MASK)[0]
    )
    # training=True (no dropout here): the training path, oneDNN's LSTM where it is built
    actual = outputs_and_gradients(decoder, lambda y, m: decoder(y, m, MEMORY_MASK, training=True))
    for a, e in zip(actual, expected):
        np.testing.assert_allclose(a, e, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("feeding", [True, False])
def test_one_step_matches_teacher_forcing(feeding):
    decoder = AttentionDecoder(6, layers=2, input_feeding=feeding)
    full = np.asarray(decoder(TARGET, MEMORY, MEMORY_MASK))
    step = decoder.step_function(decoder.attend(MEMORY, MEMORY_MASK))
    state = decoder.initial_state(MEMORY, MEMORY_MASK)
    _, expected_weights = textbook_decoding(decoder, TARGET, MEMORY, MEMORY_MASK)
    for t in range(TARGET.shape[1]):
        attentional, state, weights = step(TARGET[:, t], state)
        np.testing.assert_allclose(attentional, full[:, t], atol=1e-5)
        np.testing.assert_allclose(weights, expected_weights[:, t], atol=1e-6)
        assert not np.asarray(weights)[~MEMORY_MASK].any()  # padding gets no attention


def test_bfloat16_stays_close_to_float32():
    reference = AttentionDecoder(16)
    reference.build(TARGET.shape, MEMORY.shape)
    expected = outputs_and_gradients(reference, lambda y, m: reference(y, m, MEMORY_MASK))
    try:
        set_precision("bfloat16")
        mixed = AttentionDecoder(16)
        mixed.build(TARGET.shape, MEMORY.shape)
        mixed.set_weights(reference.get_weights())
        actual = outputs_and_gradients(mixed, lambda y, m: mixed(y, m, MEMORY_MASK))
    finally:
        set_precision("float32")
    assert mixed.compute_dtype == "bfloat16"
    for a, e in zip(actual, expected):  # bfloat16 keeps about 3 significant digits
        assert np.linalg.norm(np.float32(a) - e) <= 0.03 * np.linalg.norm(e)
