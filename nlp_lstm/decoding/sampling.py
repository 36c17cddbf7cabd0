"""Choosing the next token from logits, inside the graph."""

from __future__ import annotations

import tensorflow as tf


def sample_next(
    logits: tf.Tensor, temperature: tf.Tensor, top_k: tf.Tensor, top_p: tf.Tensor, seed: tf.Tensor
) -> tf.Tensor:
    """Picks one token per row: greedy, or sampled with temperature, top-k and top-p.

    Args:
        logits: ``float32[batch, vocabulary]``.
        temperature: scalar; ``<= 0`` means greedy (argmax).
        top_k: scalar; keep the ``top_k`` most likely tokens (``<= 0``: all).
        top_p: scalar; keep the smallest set of tokens whose probability reaches
            ``top_p`` (nucleus sampling; ``>= 1``: all).
        seed: ``int64[2]`` stateless seed; the same seed gives the same token.

    Returns:
        ``int32[batch]`` token ids.
    """
    logits = tf.cast(logits, tf.float32)
    vocabulary = tf.shape(logits)[-1]
    greedy = tf.argmax(logits, axis=-1, output_type=tf.int32)
    scaled = logits / tf.maximum(temperature, 1e-6)
    masked_value = tf.constant(-1e9, tf.float32)

    k = tf.where(top_k > 0, tf.minimum(top_k, vocabulary), vocabulary)
    kth_largest = tf.math.top_k(scaled, k=k).values[:, -1:]
    scaled = tf.where(scaled < kth_largest, masked_value, scaled)

    sorted_logits = tf.sort(scaled, axis=-1, direction="DESCENDING")
    cumulative = tf.cumsum(tf.nn.softmax(sorted_logits), axis=-1, exclusive=True)
    # The lowest logit still inside the nucleus (the first token is always kept).
    inside = tf.logical_or(cumulative < top_p, tf.range(vocabulary)[None, :] == 0)
    threshold = tf.reduce_min(
        tf.where(inside, sorted_logits, tf.float32.max), axis=-1, keepdims=True
    )
    scaled = tf.where(scaled < threshold, masked_value, scaled)

    sampled = tf.random.stateless_categorical(scaled, 1, seed=seed, dtype=tf.int32)[:, 0]
    return tf.where(temperature > 0, sampled, greedy)
