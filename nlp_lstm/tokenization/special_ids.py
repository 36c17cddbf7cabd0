"""Fixed special ids and the ragged-to-dense step every tokenizer shares."""

from __future__ import annotations

import tensorflow as tf

PAD_ID, UNK_ID, BOS_ID, EOS_ID = 0, 1, 2, 3
NUM_SPECIAL = 4


def finalize_ids(
    ids: tf.RaggedTensor, sequence_length: int | None, add_bos: bool, add_eos: bool
) -> tf.Tensor:
    """Truncates, adds bos/eos and right-pads ragged token ids.

    Truncation keeps the first tokens and leaves room for bos/eos, so an eos is
    never cut off.

    Args:
        ids: ``int32[batch, (tokens)]`` ragged ids without specials.
        sequence_length: output width; ``None`` pads to the longest row.
        add_bos: prepend ``BOS_ID``.
        add_eos: append ``EOS_ID``.

    Returns:
        ``int32[batch, sequence_length]``, padded with ``PAD_ID`` on the right.
    """
    ids = tf.cast(ids, tf.int32)
    if sequence_length is not None:
        ids = ids[:, : max(sequence_length - int(add_bos) - int(add_eos), 0)]
    rows = tf.shape(ids.row_splits)[0] - 1
    pieces = []
    if add_bos:
        pieces.append(tf.fill([rows, 1], BOS_ID))
    pieces.append(ids)
    if add_eos:
        pieces.append(tf.fill([rows, 1], EOS_ID))
    if len(pieces) > 1:
        ids = tf.concat(pieces, axis=1)
    shape = None if sequence_length is None else [None, sequence_length]
    return ids.to_tensor(default_value=PAD_ID, shape=shape)


def strip_special(ids: tf.Tensor, stop_at_eos: bool = True) -> tf.RaggedTensor:
    """Drops pad/bos/eos (and everything after the first eos) from dense or ragged ids."""
    if not isinstance(ids, tf.RaggedTensor):
        ids = tf.RaggedTensor.from_tensor(tf.convert_to_tensor(ids))
    ids = tf.cast(ids, tf.int32)
    keep = tf.logical_and(tf.not_equal(ids, PAD_ID), tf.not_equal(ids, BOS_ID))
    if stop_at_eos:
        seen_eos = tf.cumsum(tf.cast(tf.equal(ids, EOS_ID), tf.int32), axis=1)
        keep = tf.logical_and(keep, tf.equal(seen_eos, 0))
    else:
        keep = tf.logical_and(keep, tf.not_equal(ids, EOS_ID))
    return tf.ragged.boolean_mask(ids, keep)
