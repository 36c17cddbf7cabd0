"""The oneDNN LSTM op computes what Keras's LSTM computes, forward and backward, with
right-padded masks, both directions and initial states; other masks fail clearly; and
without the extension (or outside training) the layers keep their own loops."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from nlp_lstm.layers import onednn
from nlp_lstm.layers.hoisted_lstm import HoistedLSTM
from nlp_lstm.layers.onednn import build
from nlp_lstm.precision import set_precision

pytestmark = pytest.mark.skipif(
    not onednn.available(), reason="the oneDNN LSTM extension is not installed"
)

X = np.random.default_rng(1).normal(size=(4, 7, 5)).astype("float32")
# Full, right-padded, one step and empty rows: every kind of right padding.
MASK = np.array([[1] * 7, [1] * 4 + [0] * 3, [1] + [0] * 6, [0] * 7], bool)
SETTINGS = [{}, {"go_backwards": True}, {"zero_output_for_mask": True}]


def run(layer, mask, initial_state):
    """Outputs and gradients (inputs, states, weights) of one training step."""
    with tf.GradientTape() as tape:
        tape.watch(initial_state)
        inputs = tf.constant(X)
        tape.watch(inputs)
        values = layer(inputs, mask=mask, initial_state=initial_state, training=True)
        weights = [tf.range(1.0, v.shape[-1] + 1.0) for v in values]
        loss = tf.add_n(
            [tf.reduce_sum(tf.cast(v, tf.float32) * w) for v, w in zip(values, weights)]
        )
    gradients = tape.gradient(loss, [inputs, *initial_state, *layer.trainable_weights])
    return [np.asarray(tf.cast(t, tf.float32)) for t in [*values, *gradients]]


def graph_ops(function, *args) -> set[str]:
    graph = tf.function(function).get_concrete_function(*args).graph
    ops = {op.type for op in graph.get_operations()}
    for f in graph.as_graph_def().library.function:
        ops |= {node.op for node in f.node_def}
    return ops


@pytest.mark.parametrize("settings", SETTINGS)
@pytest.mark.parametrize(
    "mask",
    # A mask without padding takes the op's unmasked path (a branch at run time).
    [MASK, np.ones_like(MASK), None],
    ids=["mask", "mask-without-padding", "no-mask"],
)
def test_onednn_lstm_equals_keras_lstm(settings, mask):
    settings = {"return_sequences": True, "return_state": True, **settings}
    ours, theirs = HoistedLSTM(6, **settings), keras.layers.LSTM(6, **settings)
    initial_state = [tf.random.stateless_normal([4, 6], [i, 2]) for i in range(2)]
    mask = None if mask is None else tf.constant(mask)
    theirs(X, mask=mask, initial_state=initial_state)
    ours(X, mask=mask, initial_state=initial_state)
    ours.set_weights(theirs.get_weights())
    assert "OnednnLstm" in graph_ops(
        lambda x: ours(x, mask=mask, initial_state=initial_state, training=True), X
    )
    for actual, expected in zip(run(ours, mask, initial_state), run(theirs, mask, initial_state)):
        np.testing.assert_allclose(actual, expected, atol=2e-5, rtol=1e-4)


def test_bfloat16_matches_float32_within_its_precision():
    reference = keras.layers.LSTM(32, return_sequences=True, return_state=True)
    state = [tf.zeros([4, 32])] * 2
    expected = run(reference, tf.constant(MASK), state)
    try:
        set_precision("bfloat16")
        mixed = HoistedLSTM(32, return_sequences=True, return_state=True)
        mixed(X, mask=MASK)
        mixed.set_weights(reference.get_weights())
        actual = run(mixed, tf.constant(MASK), state)
    finally:
        set_precision("float32")
    for a, e in zip(actual, expected):
        np.testing.assert_allclose(a, e, atol=5e-2 * max(1.0, np.abs(e).max()))


def test_a_mask_that_is_not_right_padded_fails_naming_the_layer_and_the_way_out():
    layer = HoistedLSTM(6, name="encoder")
    left_padded = tf.constant([[False, True, True]] * 2)
    with pytest.raises(tf.errors.InvalidArgumentError, match="encoder.*NLP_LSTM_ONEDNN=0"):
        layer(tf.ones([2, 3, 5]), mask=left_padded, training=True)


def test_serving_and_evaluation_keep_the_tensorflow_loop():
    """Exports never hold the extension's op: they load where it is not installed."""
    layer = HoistedLSTM(6, return_sequences=True)
    ops = graph_ops(lambda x: layer(x, training=False), X)
    assert "OnednnLstm" not in ops


def test_without_a_compiler_the_build_fails_cleanly(monkeypatch, tmp_path):
    monkeypatch.setenv("CXX", "no-such-compiler")
    monkeypatch.setenv("NLP_LSTM_CACHE", str(tmp_path))
    with pytest.raises(build.BuildError, match="no C\\+\\+ compiler"):
        build.library()
