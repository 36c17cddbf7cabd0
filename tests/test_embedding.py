import gzip

import keras
import numpy as np
import pytest

from nlp_lstm.embedding import (
    TokenEmbedding,
    initialize_from_vectors,
    pretrained_matrix,
    read_word2vec_text,
    warm_start_matrix,
)
from nlp_lstm.errors import NlpLstmError


def test_padding_is_masked_and_survives_to_the_lstm():
    ids = np.array([[5, 6, 0, 0], [7, 0, 0, 0]])
    embedding = TokenEmbedding(10, 4)
    vectors = embedding(ids)
    assert vectors.shape == (2, 4, 4)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(embedding.compute_mask(ids)), ids != 0)
    # A masked LSTM's last output equals its output after the last real token.
    inputs = keras.Input((None,), dtype="int32")
    lstm = keras.layers.LSTM(3, return_sequences=True)
    sequences = keras.Model(inputs, lstm(embedding(inputs)))(ids)
    last = keras.layers.LSTM(3)
    final_model = keras.Model(inputs, last(embedding(inputs)))
    last.set_weights(lstm.get_weights())
    final = final_model(ids)
    np.testing.assert_allclose(final[0], sequences[0, 1], atol=1e-6)
    np.testing.assert_allclose(final[1], sequences[1, 0], atol=1e-6)


def test_dropout_only_while_training():
    embedding = TokenEmbedding(10, 64, dropout=0.5)
    ids = np.ones((2, 8), dtype="int32")
    np.testing.assert_array_equal(embedding(ids), embedding(ids))
    assert np.mean(keras.ops.convert_to_numpy(embedding(ids, training=True)) == 0) > 0.3


def test_word_dropout_zeroes_whole_token_vectors_only_while_training():
    embedding = TokenEmbedding(50, 16, word_dropout=0.5)
    ids = np.tile(np.arange(1, 41, dtype="int32"), (4, 1))
    plain = keras.ops.convert_to_numpy(embedding(ids))
    noisy = keras.ops.convert_to_numpy(embedding(ids, training=True))
    dropped = np.all(noisy == 0, axis=-1)
    assert 0.3 < dropped.mean() < 0.7
    # The kept tokens keep every element, rescaled by 1 / (1 - rate).
    np.testing.assert_allclose(noisy[~dropped], 2 * plain[~dropped], rtol=1e-6)
    np.testing.assert_array_equal(embedding(ids), plain)


def test_a_shift_applies_inside_its_block_only_even_when_the_block_fails():
    embedding = TokenEmbedding(10, 4)
    ids = np.array([[3, 5, 0]], dtype="int32")
    plain = keras.ops.convert_to_numpy(embedding(ids))
    shift = np.arange(12, dtype="float32").reshape(1, 3, 4)
    with embedding.shifted(shift):
        np.testing.assert_allclose(embedding(ids), plain + shift)
    with pytest.raises(RuntimeError), embedding.shifted(shift):
        raise RuntimeError("a failed step")
    np.testing.assert_array_equal(embedding(ids), plain)


def write_vectors(tmp_path, text):
    path = tmp_path / "vectors.txt"
    path.write_text(text, encoding="utf-8")
    return path


def test_pretrained_vectors_match_sentencepiece_pieces(tmp_path):
    words, vectors = read_word2vec_text(
        write_vectors(tmp_path, "3 2\nfilm 1 2\nschön 3 4\nThe 5 6\n")
    )
    pieces = ["<pad>", "<unk>", "<s>", "</s>", "\u2581film", "\u2581Schön", "\u2581the", "ing"]
    matrix, found = pretrained_matrix(pieces, words, vectors)
    assert found == 3 and matrix.shape == (8, 2)
    np.testing.assert_array_equal(matrix[4:7], [[1, 2], [3, 4], [5, 6]])
    assert not matrix[0].any()
    embedding = TokenEmbedding(8, 2)
    embedding.set_matrix(matrix)
    np.testing.assert_array_equal(embedding.matrix, matrix)


@pytest.mark.parametrize(
    "text, message",
    [
        ("film 1 2\n", r"vectors.txt:1: word2vec text format starts with 'count dim'"),
        ("2 2\nfilm 1 2\nbad 1\n", r"vectors.txt:3: expected a word and 2 numbers, found 1"),
        ("1 2\nfilm 1 x\n", r"vectors.txt:2: non-numeric vector value"),
    ],
)
def test_bad_vector_files(tmp_path, text, message):
    with pytest.raises(NlpLstmError, match=message):
        read_word2vec_text(write_vectors(tmp_path, text))


def test_embedding_starts_from_a_gzip_vector_file(tmp_path):
    path = tmp_path / "vectors.txt.gz"
    path.write_bytes(gzip.compress(b"2 2\nfilm 1 2\ngood 3 4\n"))
    pieces = ["<pad>", "<unk>", "<s>", "</s>", "\u2581good", "\u2581Film", "xq"]
    embedding = TokenEmbedding(7, 2)
    assert initialize_from_vectors(embedding, pieces, path) == 2
    np.testing.assert_array_equal(embedding.matrix[4:6], [[3, 4], [1, 2]])
    with pytest.raises(
        NlpLstmError,
        match=r"vectors.txt.gz: the vectors have 2 dimensions but "
        r"the embedding has 3; set embedding_dim=2",
    ):
        initialize_from_vectors(TokenEmbedding(7, 3), pieces, path)
    path.write_bytes(gzip.compress(b"2 2\nfilm 1 2\n")[:-6])
    with pytest.raises(NlpLstmError, match="vectors.txt.gz: damaged gzip file"):
        initialize_from_vectors(embedding, pieces, path)


def test_warm_start_keeps_rows_of_known_pieces():
    old = ["<pad>", "<unk>", "<s>", "</s>", "a", "b"]
    old_matrix = np.arange(12, dtype="float32").reshape(6, 2)
    new = ["<pad>", "<unk>", "<s>", "</s>", "b", "c", "a"]
    matrix, kept = warm_start_matrix(old, old_matrix, new)
    assert kept == 6  # pad row is reset to zero but counted as known
    np.testing.assert_array_equal(matrix[4], old_matrix[5])
    np.testing.assert_array_equal(matrix[6], old_matrix[4])
    assert not matrix[0].any()


def test_frozen_embedding_does_not_train():
    keras.utils.set_random_seed(1)
    inputs = keras.Input((None,), dtype="int32")
    embedding = TokenEmbedding(10, 4, trainable=False)
    model = keras.Model(inputs, keras.layers.Dense(1)(keras.layers.LSTM(2)(embedding(inputs))))
    model.compile("adam", "mse")
    before = embedding.matrix.copy()
    model.fit(np.ones((8, 3), "int32"), np.ones((8, 1)), epochs=2, verbose=0)
    np.testing.assert_array_equal(before, embedding.matrix)
    with pytest.raises(NlpLstmError, match="expected \\(10, 4\\)"):
        embedding.set_matrix(np.zeros((3, 4)))


def test_embedding_config_round_trip():
    layer = TokenEmbedding(10, 4, dropout=0.2, word_dropout=0.1, name="emb")
    clone = TokenEmbedding.from_config(layer.get_config())
    assert (
        clone.vocabulary_size,
        clone.output_dim,
        clone.dropout_rate,
        clone.word_dropout_rate,
    ) == (10, 4, 0.2, 0.1)
