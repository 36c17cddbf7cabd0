"""Greedy and beam search over a step function, inside the graph and batched.

A step function maps the previous tokens and a decoder state to next-token
log-probabilities, the new state and an alignment (attention weights over the
source):

    step(tokens: int32[rows], state: list[Tensor[rows, ...]])
        -> (log_probs: float32[rows, vocabulary], state, alignment: float32[rows, source])

Both searches return right-padded token ids (eos included), one score per row
(the sum of the chosen tokens' log-probabilities divided by the GNMT length
penalty) and the alignment of every output token. Beam search with one beam
makes the same choices as greedy search; a test pins that.
"""

from __future__ import annotations

from collections.abc import Callable

import tensorflow as tf

from nlp_lstm.tokenization.special_ids import PAD_ID

NEG_INF = -1e9
StepFunction = Callable[[tf.Tensor, list], tuple[tf.Tensor, list, tf.Tensor]]


def length_penalty(lengths: tf.Tensor, alpha: float | tf.Tensor) -> tf.Tensor:
    """GNMT's ``((5 + length) / 6) ** alpha`` (Wu et al., 2016); 1 when ``alpha`` is 0."""
    return tf.pow((5.0 + tf.cast(lengths, tf.float32)) / 6.0, tf.cast(alpha, tf.float32))


def greedy_search(
    step: StepFunction,
    state: list,
    max_lengths: tf.Tensor,
    source_length: tf.Tensor,
    bos_id: int,
    eos_id: int,
    alpha: float | tf.Tensor = 0.0,
):
    """Picks the most likely token at every step until eos or the row's length limit.

    Args:
        step: the step function (see the module docstring).
        state: initial decoder state, a list of ``[batch, ...]`` tensors.
        max_lengths: ``int32[batch]``, the most tokens each row may produce (eos included).
        source_length: scalar, the width of the alignments.
        bos_id: the start token.
        eos_id: the end token.
        alpha: length penalty exponent used for the reported score.

    Returns:
        ``(ids int32[batch, steps], scores float32[batch],
        alignments float32[batch, steps, source])``.
    """
    batch = tf.shape(max_lengths)[0]
    limit = tf.reduce_max(max_lengths)

    def body(t, tokens, state, finished, lengths, log_prob, ids, alignments):
        log_probs, state, alignment = step(tokens, state)
        chosen = tf.argmax(log_probs, axis=-1, output_type=tf.int32)
        token = tf.where(finished, PAD_ID, chosen)
        gain = tf.gather(log_probs, chosen, batch_dims=1)
        log_prob += tf.where(finished, 0.0, gain)
        lengths += tf.cast(~finished, tf.int32)
        finished |= (token == eos_id) | (t + 1 >= max_lengths)
        return (
            t + 1,
            token,
            state,
            finished,
            lengths,
            log_prob,
            ids.write(t, token),
            alignments.write(t, alignment),
        )

    _, _, _, _, lengths, log_prob, ids, alignments = tf.while_loop(
        lambda t, tokens, state, finished, *_: (t < limit) & ~tf.reduce_all(finished),
        body,
        (
            tf.constant(0),
            tf.fill([batch], bos_id),
            state,
            max_lengths <= 0,
            tf.zeros([batch], tf.int32),
            tf.zeros([batch]),
            tf.TensorArray(tf.int32, size=0, dynamic_size=True, element_shape=[None]),
            tf.TensorArray(tf.float32, size=0, dynamic_size=True, element_shape=[None, None]),
        ),
    )
    ids = _stack_batch_major(ids, tf.zeros([batch, 0], tf.int32))
    alignments = _stack_batch_major(alignments, tf.zeros([batch, 0, source_length]))
    return ids, log_prob / length_penalty(lengths, alpha), alignments


def beam_search(
    step: StepFunction,
    state: list,
    max_lengths: tf.Tensor,
    source_length: tf.Tensor,
    beam_size: int | tf.Tensor,
    bos_id: int,
    eos_id: int,
    alpha: float | tf.Tensor = 0.6,
):
    """Keeps the ``beam_size`` best hypotheses per row, ranked by length-normalised score.

    Finished hypotheses stay in the beam (extended by padding at no cost) and compete
    with the open ones through the length penalty; the search ends when every
    hypothesis has finished or reached its row's length limit.

    Args:
        step: the step function (see the module docstring).
        state: initial decoder state, ``[batch * beam_size, ...]`` tensors with each
            row repeated ``beam_size`` times (``tf.repeat(x, beam_size, axis=0)``).
        max_lengths: ``int32[batch]``, the most tokens each row may produce (eos included).
        source_length: scalar, the width of the alignments.
        beam_size: hypotheses kept per row (1 = greedy).
        bos_id: the start token.
        eos_id: the end token.
        alpha: length penalty exponent (0 = raw log-probability).

    Returns:
        The best hypothesis per row:
        ``(ids int32[batch, steps], scores float32[batch],
        alignments float32[batch, steps, source])``.
    """
    beam_size = tf.convert_to_tensor(beam_size, tf.int32)
    batch = tf.shape(max_lengths)[0]
    rows = batch * beam_size
    limit = tf.reduce_max(max_lengths)
    # Only the first hypothesis is live at the start, so the first step fans out from it.
    first_live = tf.concat([[0.0], tf.fill([beam_size - 1], NEG_INF)], axis=0)
    log_prob = tf.tile(first_live[None, :], [batch, 1])
    row_limits = tf.repeat(max_lengths, beam_size)

    def body(t, tokens, state, finished, lengths, log_prob, ids, alignments):
        step_log_probs, state, alignment = step(tokens, state)
        vocabulary = tf.shape(step_log_probs)[-1]
        # A finished hypothesis can only be extended by padding, at no cost.
        pad_only = tf.where(tf.range(vocabulary) == PAD_ID, 0.0, NEG_INF)
        step_log_probs = tf.where(finished[:, None], pad_only[None, :], step_log_probs)
        candidates = tf.reshape(log_prob, [rows, 1]) + step_log_probs
        candidate_lengths = lengths + tf.cast(~finished, tf.int32)
        ranked = candidates / length_penalty(candidate_lengths, alpha)[:, None]
        _, best = tf.math.top_k(tf.reshape(ranked, [batch, beam_size * vocabulary]), k=beam_size)
        parents = tf.reshape(best // vocabulary + tf.range(batch)[:, None] * beam_size, [rows])
        token = tf.reshape(best % vocabulary, [rows])
        log_prob = tf.gather(tf.reshape(candidates, [-1]), parents * vocabulary + token)
        state = [tf.gather(s, parents) for s in state]
        lengths = tf.gather(candidate_lengths, parents)
        finished = tf.gather(finished, parents)
        token = tf.where(finished, PAD_ID, token)
        finished |= (token == eos_id) | (t + 1 >= row_limits)
        ids = tf.concat([tf.gather(ids, parents), token[:, None]], axis=1)
        alignments = tf.concat(
            [tf.gather(alignments, parents), tf.gather(alignment, parents)[:, None, :]], axis=1
        )
        return (
            t + 1,
            token,
            state,
            finished,
            lengths,
            tf.reshape(log_prob, [batch, beam_size]),
            ids,
            alignments,
        )

    _, _, _, _, lengths, log_prob, ids, alignments = tf.while_loop(
        lambda t, tokens, state, finished, *_: (t < limit) & ~tf.reduce_all(finished),
        body,
        (
            tf.constant(0),
            tf.fill([rows], bos_id),
            state,
            row_limits <= 0,
            tf.zeros([rows], tf.int32),
            log_prob,
            tf.zeros([rows, 0], tf.int32),
            tf.zeros([rows, 0, source_length]),
        ),
        shape_invariants=(
            tf.TensorShape([]),
            tf.TensorShape([None]),
            [tf.TensorShape([None]).concatenate(s.shape[1:]) for s in state],
            tf.TensorShape([None]),
            tf.TensorShape([None]),
            tf.TensorShape([None, None]),
            tf.TensorShape([None, None]),
            tf.TensorShape([None, None, None]),
        ),
    )
    scores = tf.reshape(log_prob, [rows]) / length_penalty(lengths, alpha)
    best = (
        tf.argmax(tf.reshape(scores, [batch, beam_size]), axis=-1, output_type=tf.int32)
        + tf.range(batch) * beam_size
    )
    return tf.gather(ids, best), tf.gather(scores, best), tf.gather(alignments, best)


def _stack_batch_major(array: tf.TensorArray, empty: tf.Tensor) -> tf.Tensor:
    """``[steps, batch, ...]`` TensorArray -> ``[batch, steps, ...]`` (``empty`` if no steps)."""
    return tf.cond(
        array.size() > 0, lambda: tf.einsum("tb...->bt...", array.stack()), lambda: empty
    )
