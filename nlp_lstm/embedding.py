"""The shared token-embedding layer and its initialisation from known vectors.

Example:
    >>> words, vectors = read_word2vec_text("vectors.txt")
    >>> matrix, found = pretrained_matrix(tokenizer.pieces(), words, vectors)
    >>> embedding = TokenEmbedding(len(matrix), matrix.shape[1], dropout=0.1)
    >>> embedding.set_matrix(matrix)
"""

from __future__ import annotations

import contextlib
import gzip
from pathlib import Path

import keras
import numpy as np

from nlp_lstm.errors import NlpLstmError
from nlp_lstm.tokenization.special_ids import PAD_ID

WORD_BOUNDARY = "\u2581"  # SentencePiece's "▁" marks the start of a word


@keras.saving.register_keras_serializable(package="nlp_lstm")
class TokenEmbedding(keras.layers.Layer):
    """Token ids to vectors, with a padding mask, word dropout and embedding dropout.

    Id 0 (padding) is masked, so downstream LSTMs and pooling skip it.

    Args:
        vocabulary_size: number of ids.
        output_dim: vector size.
        dropout: rate of dropout on the vectors' elements while training.
        word_dropout: rate at which whole token vectors are zeroed while training
            (Gal & Ghahramani, 2016), applied before ``dropout``.
        **kwargs: Keras layer arguments; ``trainable=False`` freezes the vectors (e.g.
            pretrained ones).
    """

    def __init__(
        self,
        vocabulary_size: int,
        output_dim: int,
        dropout: float = 0.0,
        word_dropout: float = 0.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.vocabulary_size, self.output_dim, self.dropout_rate = (
            vocabulary_size,
            output_dim,
            dropout,
        )
        self.word_dropout_rate = word_dropout
        self.embedding = keras.layers.Embedding(
            vocabulary_size, output_dim, mask_zero=True, name="embeddings"
        )
        self.word_dropout = keras.layers.Dropout(word_dropout, noise_shape=(None, None, 1))
        self.dropout = keras.layers.Dropout(dropout)
        self.embedding.trainable = self.trainable  # the constructor flag reaches the sublayer
        self.supports_masking = True
        self._shift = None

    def build(self, input_shape):
        self.embedding.build(input_shape)
        self.built = True

    def call(self, ids, training=None):
        vectors = self.word_dropout(self.embedding(ids), training=training)
        vectors = self.dropout(vectors, training=training)
        if self._shift is not None:  # inside ``shifted``
            vectors = vectors + keras.ops.cast(self._shift, vectors.dtype)
        return vectors

    @contextlib.contextmanager
    def shifted(self, shift):
        """Within the block, the layer adds ``shift`` (``[batch, time, output_dim]``, the
        shape of its output) to the vectors it returns: how adversarial training moves a
        model's word vectors without touching the table (``nlp_lstm.adversarial``)."""
        self._shift = shift
        try:
            yield
        finally:
            self._shift = None

    def compute_mask(self, ids, mask=None):
        return keras.ops.not_equal(ids, PAD_ID)

    def compute_output_shape(self, input_shape):
        return (*input_shape, self.output_dim)

    @property
    def table(self) -> keras.Variable:
        """The ``[vocabulary_size, output_dim]`` weight itself (e.g. for tied output scores)."""
        return self.embedding.embeddings

    @property
    def matrix(self) -> np.ndarray:
        """A copy of the current ``[vocabulary_size, output_dim]`` vectors."""
        return keras.ops.convert_to_numpy(self.table)

    def set_matrix(self, matrix: np.ndarray) -> None:
        """Overwrites the vectors (builds the layer first if needed).

        Raises:
            NlpLstmError: if the shape differs from ``[vocabulary_size, output_dim]``.
        """
        matrix = np.asarray(matrix, dtype="float32")
        if matrix.shape != (self.vocabulary_size, self.output_dim):
            raise NlpLstmError(
                f"embedding matrix has shape {matrix.shape}, expected "
                f"({self.vocabulary_size}, {self.output_dim})"
            )
        if not self.built:
            self.build((None, None))
        self.table.assign(matrix)

    def get_config(self):
        config = super().get_config()
        config.update(
            vocabulary_size=self.vocabulary_size,
            output_dim=self.output_dim,
            dropout=self.dropout_rate,
            word_dropout=self.word_dropout_rate,
        )
        return config


def read_word2vec_text(path: str | Path, limit: int | None = None) -> tuple[list[str], np.ndarray]:
    """Reads vectors in word2vec text format (``count dim`` header, then ``word v1 .. vd``).

    Args:
        path: the vectors file (UTF-8; gzip-compressed when it ends in ``.gz``).
        limit: read at most this many vectors (files are usually frequency-ordered).

    Returns:
        ``(words, float32[count, dim])``.

    Raises:
        NlpLstmError: naming file and line for a bad header, wrong dimension,
            non-numeric values or invalid UTF-8.
    """
    path = Path(path)
    words, rows = [], []
    try:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt", encoding="utf-8") as f:
            header = f.readline().split()
            if len(header) != 2 or not all(h.isdigit() for h in header):
                raise NlpLstmError(
                    "word2vec text format starts with 'count dim'", path=path, line=1
                )
            dim = int(header[1])
            for number, line in enumerate(f, 2):
                if limit is not None and len(words) >= limit:
                    break
                fields = line.rstrip("\n").rstrip(" ").split(" ")
                if len(fields) != dim + 1:
                    raise NlpLstmError(
                        f"expected a word and {dim} numbers, found {len(fields) - 1} numbers",
                        path=path,
                        line=number,
                    )
                try:
                    rows.append([float(v) for v in fields[1:]])
                except ValueError:
                    raise NlpLstmError("non-numeric vector value", path=path, line=number) from None
                words.append(fields[0])
    except FileNotFoundError:
        raise NlpLstmError("no such file", path=path) from None
    except UnicodeDecodeError:
        raise NlpLstmError("not valid UTF-8", path=path) from None
    except (gzip.BadGzipFile, EOFError):
        raise NlpLstmError("damaged gzip file", path=path) from None
    if not words:
        raise NlpLstmError("no vectors in the file", path=path)
    return words, np.asarray(rows, dtype="float32")


def _random_rows(count: int, dim: int, scale: float, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(0.0, scale, (count, dim)).astype("float32")


def pretrained_matrix(
    pieces: list[str], words: list[str], vectors: np.ndarray, seed: int = 0
) -> tuple[np.ndarray, int]:
    """Matches tokenizer pieces to pretrained word vectors.

    A piece matches a word exactly, without SentencePiece's word-start mark "▁", or
    in lower case (in that order). Unmatched pieces get random vectors with the
    pretrained vectors' scale; the padding row is zero.

    Returns:
        ``(float32[len(pieces), dim], number of pieces matched)``.
    """
    index = {w: i for i, w in enumerate(words)}
    lower = {}
    for i, w in enumerate(words):
        lower.setdefault(w.lower(), i)
    matrix = _random_rows(len(pieces), vectors.shape[1], float(vectors.std()) or 0.05, seed)
    found = 0
    for row, piece in enumerate(pieces):
        bare = piece.lstrip(WORD_BOUNDARY)
        hit = index.get(piece, index.get(bare, lower.get(bare.lower()) if bare else None))
        if hit is not None and row != PAD_ID:
            matrix[row] = vectors[hit]
            found += 1
    matrix[PAD_ID] = 0.0
    return matrix, found


def initialize_from_vectors(
    embedding: TokenEmbedding, pieces: list[str], path: str | Path, seed: int = 0
) -> int:
    """Starts ``embedding`` from the word2vec text vectors in ``path`` (``pretrained_matrix``).

    Returns:
        The number of pieces that found a vector.

    Raises:
        NlpLstmError: if the file is unreadable or its vectors are not ``output_dim`` long.
    """
    words, vectors = read_word2vec_text(path)
    if vectors.shape[1] != embedding.output_dim:
        raise NlpLstmError(
            f"the vectors have {vectors.shape[1]} dimensions but the embedding "
            f"has {embedding.output_dim}; set embedding_dim={vectors.shape[1]}",
            path=path,
        )
    matrix, found = pretrained_matrix(pieces, words, vectors, seed)
    embedding.set_matrix(matrix)
    return found


def warm_start_matrix(
    old_pieces: list[str], old_matrix: np.ndarray, new_pieces: list[str], seed: int = 0
) -> tuple[np.ndarray, int]:
    """Carries trained rows over to a new vocabulary (e.g. a fine-tuning corpus's).

    Rows of pieces present in both vocabularies are copied; new pieces get random
    rows at the old matrix's scale.

    Returns:
        ``(float32[len(new_pieces), dim], number of rows kept)``.
    """
    old_index = {p: i for i, p in enumerate(old_pieces)}
    matrix = _random_rows(len(new_pieces), old_matrix.shape[1], float(old_matrix.std()), seed)
    kept = 0
    for row, piece in enumerate(new_pieces):
        if piece in old_index:
            matrix[row] = old_matrix[old_index[piece]]
            kept += 1
    matrix[PAD_ID] = 0.0
    return matrix, kept
