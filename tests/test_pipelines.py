import numpy as np
import pytest
import tensorflow as tf

from nlp_lstm.data import batch_by_length, language_model_windows, shuffled
from nlp_lstm.errors import NlpLstmError


def ragged_dataset(lengths):
    rows = [list(range(1, n + 1)) for n in lengths]
    return tf.data.Dataset.from_generator(
        lambda: ((np.array(r, np.int32), np.int32(len(r))) for r in rows),
        output_signature=(tf.TensorSpec([None], tf.int32), tf.TensorSpec([], tf.int32)))


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


def test_shuffle_is_seeded_and_reshuffles_each_epoch():
    data = shuffled(tf.data.Dataset.range(50), seed=3, buffer_size=50)
    first, second = list(data.as_numpy_iterator()), list(data.as_numpy_iterator())
    again = list(shuffled(tf.data.Dataset.range(50), seed=3, buffer_size=50).as_numpy_iterator())
    assert sorted(first) == list(range(50)) and first != second and first == again


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
        language_model_windows(np.arange(30), window=10, batch_size=4, start_id=2,
                               source="mine.txt")
