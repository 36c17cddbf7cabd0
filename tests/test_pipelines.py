import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

from nlp_lstm.data import batch_by_length, language_model_windows, shuffled, with_known_length
from nlp_lstm.errors import NlpLstmError


def ragged_dataset(lengths):
    rows = [list(range(1, n + 1)) for n in lengths]
    return tf.data.Dataset.from_generator(
        lambda: ((np.array(r, np.int32), np.int32(len(r))) for r in rows),
        output_signature=(tf.TensorSpec([None], tf.int32), tf.TensorSpec([], tf.int32)),
    )


def test_bucketing_groups_similar_lengths_and_pads_right():
    lengths = [2, 30, 3, 31, 2, 29, 3, 30]
    batches = list(batch_by_length(ragged_dataset(lengths), batch_size=4, boundaries=[10]))
    assert sorted(b[0].shape[1] for b in batches) == [3, 31]
    for ids, n in batches:
        ids = ids.numpy()
        for row, length in zip(ids, n.numpy()):
            assert (row[:length] > 0).all() and (row[length:] == 0).all()


def test_plain_padded_batches():
    ids, n = next(iter(batch_by_length(ragged_dataset([1, 5]), batch_size=2)))
    assert ids.shape == (2, 5) and n.numpy().tolist() == [1, 5]


def keras_warns_it_ran_out(dataset: tf.data.Dataset) -> bool:
    model = keras.Sequential(
        [
            keras.Input((None,), dtype="int32"),
            keras.layers.Embedding(40, 2),
            keras.layers.GlobalAveragePooling1D(),
            keras.layers.Dense(1),
        ]
    )
    model.compile(loss="mse")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.evaluate(dataset, verbose=0)
    return any("ran out of data" in str(w.message) for w in caught)


def test_evaluation_batches_carry_their_count_so_keras_reads_them_to_the_end_cleanly():
    bucketed = batch_by_length(ragged_dataset([2, 30, 3, 31, 2]), batch_size=2, boundaries=[10])
    assert bucketed.cardinality() == tf.data.UNKNOWN_CARDINALITY
    counted = with_known_length(bucketed)
    assert counted.cardinality() == 3 and len(list(counted)) == 3
    assert keras_warns_it_ran_out(bucketed) and not keras_warns_it_ran_out(counted)
    endless = tf.data.Dataset.range(4).repeat()
    assert with_known_length(endless).cardinality() == tf.data.INFINITE_CARDINALITY


def test_shuffle_is_seeded_and_reshuffles_each_epoch():
    data = shuffled(tf.data.Dataset.range(50), seed=3)
    first, second = list(data.as_numpy_iterator()), list(data.as_numpy_iterator())
    again = list(shuffled(tf.data.Dataset.range(50), seed=3).as_numpy_iterator())
    assert sorted(first) == list(range(50)) and first != second and first == again


def test_shuffle_mixes_a_sorted_dataset_from_end_to_end():
    # A corpus sorted by length must not reach training as a sweep from short to long:
    # the first thousand elements are drawn from the whole range, not from its start.
    first = np.array(list(shuffled(tf.data.Dataset.range(50_000), seed=1).take(1000)))
    assert (first >= 40_000).sum() > 100
    assert 22_000 < first.mean() < 28_000


def test_shuffle_of_unknown_length_needs_a_buffer_size():
    unknown = tf.data.Dataset.range(10).filter(lambda x: x % 2 == 0)
    with pytest.raises(ValueError, match="buffer_size"):
        shuffled(unknown, seed=1)
    assert sorted(shuffled(unknown, seed=1, buffer_size=5).as_numpy_iterator()) == [0, 2, 4, 6, 8]


def test_language_model_windows_shift_behind_the_start_id():
    ids = np.arange(10, 212)
    batches = list(language_model_windows(ids, window=10, batch_size=4, start_id=2))
    assert len(batches) == 5  # 20 windows of 10 in 202 tokens, 4 per batch
    inputs, targets = (t.numpy() for t in batches[0])
    np.testing.assert_array_equal(targets[0], np.arange(10, 20))
    np.testing.assert_array_equal(inputs[0], [2, *range(10, 19)])
    shuffled_first = next(iter(language_model_windows(ids, 10, 4, 2, seed=1)))[1].numpy()
    assert sorted(shuffled_first[:, 0]) != [10, 20, 30, 40]


def test_language_model_windows_reject_a_tiny_text():
    with pytest.raises(NlpLstmError, match="mine.txt has 30 tokens, fewer than one batch"):
        language_model_windows(
            np.arange(30), window=10, batch_size=4, start_id=2, source="mine.txt"
        )
