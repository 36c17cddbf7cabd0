"""Sentiment classifier: ids -> embedding -> stacked BiLSTM -> masked pooling -> softmax.

Also how it serves itself: ``export_sentiment`` writes the string-in SavedModel
(``text`` -> ``label``, ``label_id``, ``probabilities``).
"""

from __future__ import annotations

from pathlib import Path

import keras
import tensorflow as tf

from nlp_lstm.embedding import TokenEmbedding
from nlp_lstm.layers import MaskedMaxMeanPooling, recurrent_stack
from nlp_lstm.tokenization import SentencePieceTokenizer


def build_sentiment_classifier(
    vocabulary_size: int,
    num_classes: int,
    embedding_dim: int = 128,
    units: int = 128,
    layers: int = 2,
    dropout: float = 0.3,
    embedding_dropout: float = 0.1,
    cell: str = "lstm",
) -> keras.Model:
    """Builds the classifier over token ids.

    Args:
        vocabulary_size: tokenizer vocabulary size.
        num_classes: number of labels (2 or more).
        embedding_dim: token vector size.
        units: LSTM units per direction.
        layers: stacked bidirectional LSTM layers.
        dropout: between LSTM layers and before the output layer.
        embedding_dropout: on the token vectors.
        cell: ``lstm``, ``gru`` or ``peephole``.

    Returns:
        ``keras.Model``: ``int32[batch, time]`` (0 = padding) -> ``float32[batch, num_classes]``.
    """
    ids = keras.Input(shape=(None,), dtype="int32", name="token_ids")
    vectors = TokenEmbedding(
        vocabulary_size, embedding_dim, dropout=embedding_dropout, name="token_embedding"
    )(ids)
    sequences = recurrent_stack(
        vectors, units, layers, bidirectional=True, dropout=dropout, cell=cell
    )
    pooled = MaskedMaxMeanPooling(name="pooling")(sequences)
    pooled = keras.layers.Dropout(dropout, name="head_dropout")(pooled)
    probabilities = keras.layers.Dense(
        num_classes, activation="softmax", dtype="float32", name="probabilities"
    )(pooled)
    return keras.Model(ids, probabilities, name="sentiment_classifier")


def export_sentiment(
    classifier: keras.Model, tokenizer: SentencePieceTokenizer, labels: list[str], directory: Path
) -> None:
    """Writes the string-in SavedModel into ``directory`` (which must be empty).

    Signature ``serving_default``: ``text: string[batch]`` -> ``label: string[batch]``,
    ``label_id: int64[batch]``, ``probabilities: float32[batch, classes]``.
    Tokenization and truncation run inside the graph.
    """
    text = keras.Input(shape=(), dtype="string", name="text")
    inference = keras.Model(text, classifier(tokenizer(text)), name="sentiment_inference")
    label_names = tf.constant(labels)

    archive = keras.export.ExportArchive()
    archive.track(inference)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
    def serve(text):
        probabilities = inference(text, training=False)
        label_id = tf.argmax(probabilities, axis=-1, output_type=tf.int64)
        return {
            "label": tf.gather(label_names, label_id),
            "label_id": label_id,
            "probabilities": probabilities,
        }

    archive.add_endpoint("serving_default", serve)
    archive.write_out(str(directory), verbose=False)
