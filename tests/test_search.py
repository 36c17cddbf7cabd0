"""Greedy and beam search: beam 1 equals greedy, beams find what greedy misses, limits hold."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from nlp_lstm.decoding.search import beam_search, greedy_search
from nlp_lstm.models.translation import Translator
from nlp_lstm.tokenization import BOS_ID, EOS_ID

A, B = 4, 5


def markov_step(table):
    """A step function whose next-token distribution depends only on the previous token."""
    log_table = tf.math.log(tf.constant(table, tf.float32) + 1e-12)

    def step(tokens, state):
        return tf.gather(log_table, tokens), state, tf.zeros([tf.shape(tokens)[0], 3])

    return step


def trap_table():
    """From bos, ``a`` (0.6) beats ``b`` (0.4); but after ``a`` nothing beats 0.5,
    while after ``b`` eos is certain: the best sentence is ``b eos`` (0.4 > 0.3)."""
    table = np.zeros((6, 6))
    table[BOS_ID, A], table[BOS_ID, B] = 0.6, 0.4
    table[A, EOS_ID], table[A, A] = 0.5, 0.5
    table[B, EOS_ID] = 1.0
    table[EOS_ID, EOS_ID] = 1.0
    return table


def test_beam_search_finds_the_sentence_greedy_misses():
    step = markov_step(trap_table())
    limits = tf.constant([5])
    greedy_ids, greedy_score, _ = greedy_search(step, [tf.zeros([1])], limits, 3, BOS_ID, EOS_ID)
    beam_ids, beam_score, _ = beam_search(
        step, [tf.zeros([2])], limits, 3, 2, BOS_ID, EOS_ID, alpha=0.0
    )
    assert greedy_ids.numpy()[0].tolist()[:2] == [A, EOS_ID]
    assert beam_ids.numpy()[0].tolist()[:2] == [B, EOS_ID]
    assert beam_score.numpy()[0] == pytest.approx(np.log(0.4), abs=1e-4)
    assert greedy_score.numpy()[0] == pytest.approx(np.log(0.3), abs=1e-4)


def test_length_limit_per_row_and_padding_after_eos():
    table = np.zeros((6, 6))
    table[:, A] = 1.0  # never ends by itself
    step = markov_step(table)
    ids, _, alignments = greedy_search(
        step, [tf.zeros([2])], tf.constant([2, 4]), 3, BOS_ID, EOS_ID
    )
    assert ids.numpy().tolist() == [[A, A, 0, 0], [A, A, A, A]]
    assert alignments.shape == (2, 4, 3)
    ids, _, _ = beam_search(step, [tf.zeros([6])], tf.constant([2, 4]), 3, 3, BOS_ID, EOS_ID)
    assert ids.numpy().tolist() == [[A, A, 0, 0], [A, A, A, A]]


@pytest.fixture(scope="module")
def tiny_translator():
    keras.utils.set_random_seed(3)
    model = Translator(40, 8, 8, 1, 16, 1, name="translator")
    model.build()
    return model


def test_beam_of_one_equals_greedy_on_a_real_decoder(tiny_translator):
    model = tiny_translator
    source = tf.constant(np.random.default_rng(0).integers(4, 40, size=(5, 7)), tf.int32)
    source = tf.concat([source, tf.fill([5, 1], EOS_ID)], axis=1)
    memory, mask = model.encode(source, training=False)
    attended = model.decoder.attend(memory, mask)
    state = model.decoder.initial_state(memory, mask)
    limits = tf.constant([3, 6, 9, 12, 15])
    step = model.step_function(attended)
    greedy = greedy_search(step, state, limits, 8, BOS_ID, EOS_ID, alpha=0.6)
    beam = beam_search(step, state, limits, 8, 1, BOS_ID, EOS_ID, alpha=0.6)
    np.testing.assert_array_equal(greedy[0].numpy(), beam[0].numpy())
    np.testing.assert_allclose(greedy[1].numpy(), beam[1].numpy(), rtol=1e-5)
    np.testing.assert_allclose(greedy[2].numpy(), beam[2].numpy(), atol=1e-6)
