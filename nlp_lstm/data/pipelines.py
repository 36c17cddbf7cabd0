"""tf.data pipelines shared by the recipes: shuffling, length bucketing, LM windows."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from nlp_lstm.errors import NlpLstmError

AUTOTUNE = tf.data.AUTOTUNE


def shuffled(
    dataset: tf.data.Dataset,
    seed: int | None,
    buffer_size: int | None = None,
    cache: bool = True,
) -> tf.data.Dataset:
    """Caches (optionally) then shuffles, reshuffling every epoch from ``seed``.

    By default the buffer holds the whole dataset, so every pass is a uniform
    permutation: a smaller buffer keeps the order of a sorted corpus (Tatoeba's
    pairs run from short to long), and each pass would sweep through it.

    Args:
        dataset: a finite dataset of known length (unless ``buffer_size`` is given).
        seed: the shuffle seed (``None``: a different order every run).
        buffer_size: elements held for shuffling (``None``: the whole dataset).
        cache: cache the elements before shuffling.

    Returns:
        The shuffled dataset.

    Raises:
        ValueError: if ``buffer_size`` is ``None`` and the length of ``dataset`` is
            unknown or infinite.
    """
    if buffer_size is None:
        buffer_size = int(dataset.cardinality())
        if buffer_size < 0:
            raise ValueError("shuffled() needs a buffer_size for a dataset of unknown length")
    if cache:
        dataset = dataset.cache()
    return dataset.shuffle(max(buffer_size, 1), seed=seed, reshuffle_each_iteration=True)


def batch_by_length(
    dataset: tf.data.Dataset,
    batch_size: int,
    boundaries: list[int] | None = None,
    drop_remainder: bool = False,
) -> tf.data.Dataset:
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
            drop_remainder=drop_remainder,
        )
    return batched.prefetch(AUTOTUNE)


def with_known_length(dataset: tf.data.Dataset) -> tf.data.Dataset:
    """``dataset`` with its number of elements known to tf.data (counted in one pass
    when bucketing or filtering has hidden it).

    Keras reads a dataset of unknown length until it runs out and then warns "Your
    input ran out of data"; with the length known, evaluation stops at the end cleanly.
    Run it on finite evaluation data only: it reads the dataset once.
    """
    if dataset.cardinality() != tf.data.UNKNOWN_CARDINALITY:
        return dataset
    count = int(dataset.reduce(np.int64(0), lambda count, _: count + 1))
    return dataset.apply(tf.data.experimental.assert_cardinality(count))


def language_model_windows(
    ids: np.ndarray,
    window: int,
    batch_size: int,
    start_id: int,
    seed: int | None = None,
    source: str = "corpus",
) -> tf.data.Dataset:
    """Next-token training windows cut from one long id stream.

    The stream is cut into consecutive ``window``-token chunks; each chunk is a
    target, and its input is the same chunk shifted right by one behind
    ``start_id`` (the beginning-of-text id), so the model learns to start from it.

    Args:
        ids: 1-D token ids of the whole text.
        window: time steps per example.
        batch_size: examples per batch.
        start_id: id put in front of every input window.
        seed: shuffle the windows every epoch with this seed (``None``: keep order).
        source: name used in error messages.

    Returns:
        Dataset of ``(inputs, targets)``, each ``int32[batch_size, window]``.

    Raises:
        NlpLstmError: if the text is shorter than one batch of windows.
    """
    ids = np.asarray(ids, dtype=np.int32)
    count = len(ids) // window
    if count < batch_size:
        raise NlpLstmError(
            f"{source} has {len(ids)} tokens, fewer than one batch of windows "
            f"({batch_size} x {window}); use a longer text or a smaller batch_size / "
            "sequence_length"
        )
    targets = ids[: count * window].reshape(count, window)
    inputs = np.concatenate([np.full((count, 1), start_id, np.int32), targets[:, :-1]], axis=1)
    dataset = tf.data.Dataset.from_tensor_slices((inputs, targets))
    if seed is not None:
        dataset = shuffled(dataset, seed, cache=False)
    return dataset.batch(batch_size, drop_remainder=True).prefetch(AUTOTUNE)
