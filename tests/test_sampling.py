import numpy as np
import tensorflow as tf

from nlp_lstm.decoding import sample_next

LOGITS = tf.math.log(tf.constant([[0.5, 0.3, 0.15, 0.05]] * 4000))


def draw(temperature=1.0, top_k=0, top_p=1.0, seed=(1, 2), logits=LOGITS):
    return sample_next(
        logits,
        tf.constant(temperature),
        tf.constant(top_k),
        tf.constant(top_p),
        tf.constant(seed, tf.int64),
    ).numpy()


def test_temperature_zero_is_greedy():
    assert set(draw(temperature=0.0)) == {0}


def test_sampling_follows_the_distribution():
    counts = np.bincount(draw(), minlength=4) / 4000
    np.testing.assert_allclose(counts, [0.5, 0.3, 0.15, 0.05], atol=0.03)


def test_low_temperature_sharpens():
    counts = np.bincount(draw(temperature=0.3), minlength=4) / 4000
    assert counts[0] > 0.8


def test_top_k_and_top_p_cut_the_tail():
    assert set(draw(top_k=2)) == {0, 1}
    assert set(draw(top_p=0.7)) == {0, 1}  # 0.5 + 0.3 reaches 0.7
    assert set(draw(top_p=0.01)) == {0}  # the top token is always kept
    assert set(draw(top_k=1)) == {0}


def test_same_seed_same_tokens_other_seed_other_tokens():
    np.testing.assert_array_equal(draw(seed=(7, 0)), draw(seed=(7, 0)))
    assert not np.array_equal(draw(seed=(7, 0)), draw(seed=(8, 0)))
