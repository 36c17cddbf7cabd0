"""tf.data pipelines shared by the recipes: shuffling, length bucketing, LM windows."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from nlp_lstm.errors import NlpLstmError

AUTOTUNE = tf.data.AUTOTUNE


def shuffled(dataset: tf.data.Dataset, seed: int | None, buffer_size: int = 20_000,
             cache: bool = True) -> tf.data.Dataset:
    """Caches (optionally) then shuffles, reshuffling every epoch from ``seed``."""
    if cache:
        dataset = dataset.cache()
    return dataset.shuffle(buffer_size, seed=seed, reshuffle_each_iteration=True)


def batch_by_length(dataset: tf.data.Dataset, batch_size: int,
                    boundaries: list[int] | None = None,
                    drop_remainder: bool = False) -> tf.data.Dataset:
    """Batches ``(ids, *rest)`` elements, grouping similar lengths to cut padding.

    ``ids`` is a 1-D int tensor per element; batches are right-padded with 0 (the
    pad id) to their longest row. With ``boundaries`` (token counts, ascending),
    elements are bucketed by length first; without, they are padded-batched as is.

    Args:
        dataset: elements whose first component is a 1-D ``ids`` tensor.
        batch_size: examples per batch in every bucket.
        boundaries: bucket upper bounds, e.g. ``[16, 32, 64]``.
        drop_remainder: drop the last short batch of each bucket.

    Returns:
        A prefetched dataset of padded batches.
    """
    if not boundaries:
        batched = dataset.padded_batch(batch_size, drop_remainder=drop_remainder)
    else:
        batched = dataset.bucket_by_sequence_length(
            element_length_func=lambda ids, *rest: tf.shape(ids)[0],
            bucket_boundaries=list(boundaries),
            bucket_batch_sizes=[batch_size] * (len(boundaries) + 1),
            drop_remainder=drop_remainder)
    return batched.prefetch(AUTOTUNE)


def language_model_windows(ids: np.ndarray, window: int, batch_size: int,
                           source: str = "corpus") -> tf.data.Dataset:
    """Contiguous next-token windows laid out for state carried across batches.

    The id stream is cut into ``batch_size`` equal streams; batch ``k`` row ``b``
    holds window ``k`` of stream ``b``, so a stateful LSTM can carry row ``b``'s
    state from one batch to the next (truncated back-propagation through time).

    Args:
        ids: 1-D token ids of the whole text.
        window: time steps per training example.
        batch_size: parallel streams.
        source: name used in error messages.

    Returns:
        Dataset of ``(inputs, targets)``, each ``int32[batch_size, window]``,
        targets shifted by one token.

    Raises:
        NlpLstmError: if the text is shorter than one batch of windows.
    """
    ids = np.asarray(ids, dtype=np.int32)
    steps = (len(ids) - 1) // (batch_size * window)
    if steps < 1:
        raise NlpLstmError(
            f"{source} has {len(ids)} tokens, fewer than one batch of windows "
            f"({batch_size} x {window} + 1); use a longer text or a smaller "
            "batch_size / sequence_length")
    span = steps * window
    inputs = ids[: batch_size * span].reshape(batch_size, steps, window)
    targets = ids[1: batch_size * span + 1].reshape(batch_size, steps, window)
    # -> [steps, batch, window]: batch k holds window k of every stream.
    inputs, targets = inputs.transpose(1, 0, 2), targets.transpose(1, 0, 2)
    return tf.data.Dataset.from_tensor_slices((inputs, targets)).prefetch(AUTOTUNE)
