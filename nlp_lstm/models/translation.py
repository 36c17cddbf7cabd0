"""Sequence-to-sequence translator: BiLSTM encoder -> attention LSTM decoder.

Also how it serves itself: ``InGraphTranslator`` runs tokenization, greedy or beam
search and detokenization inside one graph, and ``export_translator`` writes the
string-in SavedModel (``source`` -> ``translation``, ``score``; plus ``translate``
with ``beam_size`` and ``max_length``, which also returns the attention).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import keras
import tensorflow as tf

from nlp_lstm.decoding.search import beam_search, greedy_search
from nlp_lstm.embedding import TokenEmbedding
from nlp_lstm.layers.attention_decoder import AttentionDecoder
from nlp_lstm.layers.cells import recurrent_layer
from nlp_lstm.models.string_batches import at_least_one_row
from nlp_lstm.tokenization import BOS_ID, EOS_ID, SentencePieceTokenizer
from nlp_lstm.tokenization.special_ids import PAD_ID, finalize_ids


@keras.saving.register_keras_serializable(package="nlp_lstm")
class Translator(keras.Model):
    """Shared joint-vocabulary embedding -> stacked bidirectional encoder -> ``AttentionDecoder``
    -> logits.

    Called on ``(source_ids, target_inputs)`` (both ``int32[batch, time]``, 0 = padding,
    targets shifted right behind bos) it returns teacher-forced logits
    ``float32[batch, target_time, vocabulary]``, zero at padding positions: only the real
    target positions are scored.

    Args:
        vocabulary_size: joint SentencePiece vocabulary size.
        embedding_dim: token vector size (shared by source and target).
        encoder_units: LSTM units per direction.
        encoder_layers: stacked bidirectional layers.
        decoder_units: decoder LSTM units and attentional vector size.
        decoder_layers: stacked decoder cells.
        dropout: between encoder layers and inside the decoder.
        embedding_dropout: on the token vectors' elements.
        word_dropout: rate at which whole token vectors (source and target) are zeroed.
        cell: ``lstm``, ``gru`` or ``peephole``, for the encoder and the decoder.
        scaled_attention: scale the attention scores by ``1 / sqrt(decoder_units)``
            (see ``AttentionDecoder``).
        tied_embeddings: score the vocabulary with the token embedding's own matrix
            (logits = attentional vector x embedding^T + bias; Press & Wolf, 2017)
            instead of a separate output layer; needs ``decoder_units == embedding_dim``.
        input_feeding: whether the decoder's first cell reads the previous attentional
            vector (see ``AttentionDecoder``; without it the decoder trains faster).

    Raises:
        ValueError: ``tied_embeddings`` with ``decoder_units != embedding_dim``.
    """

    def __init__(
        self,
        vocabulary_size: int,
        embedding_dim: int = 256,
        encoder_units: int = 256,
        encoder_layers: int = 2,
        decoder_units: int = 512,
        decoder_layers: int = 1,
        dropout: float = 0.3,
        embedding_dropout: float = 0.1,
        cell: str = "lstm",
        scaled_attention: bool = True,
        tied_embeddings: bool = False,
        word_dropout: float = 0.0,
        input_feeding: bool = True,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if tied_embeddings and decoder_units != embedding_dim:
            raise ValueError(
                f"tied embeddings need decoder_units ({decoder_units}) equal to "
                f"embedding_dim ({embedding_dim})"
            )
        self.settings = dict(
            vocabulary_size=vocabulary_size,
            embedding_dim=embedding_dim,
            encoder_units=encoder_units,
            encoder_layers=encoder_layers,
            decoder_units=decoder_units,
            decoder_layers=decoder_layers,
            dropout=dropout,
            embedding_dropout=embedding_dropout,
            cell=cell,
            scaled_attention=scaled_attention,
            tied_embeddings=tied_embeddings,
            word_dropout=word_dropout,
            input_feeding=input_feeding,
        )
        self.embedding = TokenEmbedding(
            vocabulary_size,
            embedding_dim,
            dropout=embedding_dropout,
            word_dropout=word_dropout,
            name="token_embedding",
        )
        self.encoder = [
            keras.layers.Bidirectional(
                recurrent_layer(cell, encoder_units, return_sequences=True), name=f"encoder_{i + 1}"
            )
            for i in range(encoder_layers)
        ]
        self.encoder_dropout = keras.layers.Dropout(dropout)
        self.decoder = AttentionDecoder(
            decoder_units,
            decoder_layers,
            dropout,
            cell,
            scaled_attention,
            input_feeding,
            name="decoder",
        )
        self.logits = (
            None if tied_embeddings else keras.layers.Dense(vocabulary_size, name="logits")
        )

    def build(self, input_shape=None):
        s = self.settings
        self.embedding.build((None, None))
        width = s["embedding_dim"]
        for layer in self.encoder:
            layer.build((None, None, width))
            width = 2 * s["encoder_units"]
        self.decoder.build((None, None, s["embedding_dim"]), (None, None, width))
        if self.logits is None:
            self.output_bias = self.add_weight(
                shape=(s["vocabulary_size"],),
                initializer="zeros",
                dtype="float32",
                name="output_bias",
            )
        else:
            self.logits.build((None, None, s["decoder_units"]))
        self.built = True

    def vocabulary_scorer(self):
        """The function from attentional vectors ``[..., decoder_units]`` to float32 scores
        ``[..., vocabulary]``.

        The product runs in the compute precision (bfloat16 under mixed precision: it is
        the largest of a training step), the scores come out in float32. Tied embeddings
        score with the table's transpose, made here once: a search calls this before its
        loop, so no step copies the table.
        """
        if self.logits is not None:
            return lambda attentional: keras.ops.cast(self.logits(attentional), "float32")
        dtype = self.compute_dtype
        kernel = keras.ops.transpose(keras.ops.cast(self.embedding.table, dtype))
        return lambda attentional: (
            keras.ops.cast(keras.ops.matmul(keras.ops.cast(attentional, dtype), kernel), "float32")
            + self.output_bias
        )

    def encode(self, source_ids, training=None):
        """``(memory [batch, source, 2 * encoder_units], mask bool[batch, source])``."""
        mask = keras.ops.not_equal(source_ids, PAD_ID)
        x = self.embedding(source_ids, training=training)
        for index, layer in enumerate(self.encoder):
            if index:
                x = self.encoder_dropout(x, training=training)
            x = layer(x, mask=mask, training=training)
        return x, mask

    def call(self, inputs, training=None):
        source_ids, target_inputs = inputs
        memory, mask = self.encode(source_ids, training=training)
        vectors = self.embedding(target_inputs, training=training)
        attentional = self.decoder(vectors, memory, mask, training=training)
        # Scores only the real target positions: the vocabulary product is a training
        # step's largest, and length-bucketed batches carry much target padding.
        real = tf.where(keras.ops.not_equal(target_inputs, PAD_ID))  # [tokens, 2]
        scores = self.vocabulary_scorer()(tf.gather_nd(attentional, real))
        shape = tf.concat(
            [tf.shape(target_inputs, tf.int64), [self.settings["vocabulary_size"]]], 0
        )
        return tf.scatter_nd(real, scores, shape)

    def step_function(self, attended):
        """The search step over ``attended = decoder.attend(memory, mask)`` (inference mode)."""
        decoder_step = self.decoder.step_function(attended, training=False)
        score = self.vocabulary_scorer()

        def step(tokens, state):
            attentional, state, weights = decoder_step(
                self.embedding(tokens, training=False), state
            )
            return tf.nn.log_softmax(score(attentional)), state, weights

        return step

    def get_config(self):
        config = super().get_config()
        config.update(self.settings)
        return config

    @classmethod
    def from_config(cls, config):
        # Models saved before ``scaled_attention`` existed score without the scale.
        defaults = {"scaled_attention": False, "tied_embeddings": False, "input_feeding": True}
        return cls(**{**defaults, **config})


@dataclasses.dataclass
class DecodingSettings:
    """How translations are searched for (saved with the export).

    Attributes:
        beam_size: hypotheses kept by ``serving_default`` (1 = greedy).
        length_penalty: GNMT length penalty exponent for beam search.
        max_length_ratio, max_length_offset: a translation may have at most
            ``ceil(ratio * source_tokens) + offset`` tokens (both counting their eos).
        max_source_tokens: longer sources are truncated (inside the graph; eos included).
        max_target_tokens: hard cap on translation tokens.
    """

    beam_size: int = 4
    length_penalty: float = 0.6
    max_length_ratio: float = 1.5
    max_length_offset: int = 10
    max_source_tokens: int = 128
    max_target_tokens: int = 200


class InGraphTranslator(tf.Module):
    """Strings in, strings out: tokenization, search and detokenization in one graph.

    Example:
        >>> translator = InGraphTranslator(model, tokenizer, DecodingSettings())
        >>> translator.translate(tf.constant(["Where is the station?"]), 4, 0)["translation"]
    """

    def __init__(
        self, model: Translator, tokenizer: SentencePieceTokenizer, settings: DecodingSettings
    ):
        super().__init__()
        self.model, self.tokenizer, self.settings = model, tokenizer, settings

    def source_ids(self, source) -> tf.Tensor:
        """``int32[batch, tokens]``: truncated source pieces, each row ending with eos."""
        ragged = self.tokenizer.tokenize(tf.convert_to_tensor(source, tf.string))
        return finalize_ids(ragged[:, : self.settings.max_source_tokens - 1], None, False, True)

    def translate(self, source, beam_size, max_length) -> dict:
        """Translates a batch of strings.

        Args:
            source: ``string[batch]``.
            beam_size: scalar; ``<= 1`` runs greedy search.
            max_length: scalar; ``> 0`` lowers the source-relative limit on translation
                tokens (``DecodingSettings``) to at most this many.

        Returns:
            ``translation string[batch]``, ``score float32[batch]`` (length-normalised
            log-probability), ``source_pieces string[batch, source]``,
            ``target_pieces string[batch, target]`` and ``attention float32[batch,
            target, source]`` (padding positions are empty strings / zeros).
        """
        s = self.settings
        source, rows = at_least_one_row(tf.convert_to_tensor(source, tf.string))
        ids = self.source_ids(source)
        beam_size = tf.maximum(tf.cast(beam_size, tf.int32), 1)
        cap = tf.where(max_length > 0, tf.cast(max_length, tf.int32), s.max_target_tokens)
        lengths = tf.reduce_sum(tf.cast(ids != PAD_ID, tf.float32), axis=1)
        max_lengths = tf.minimum(
            tf.cast(tf.math.ceil(s.max_length_ratio * lengths), tf.int32) + s.max_length_offset,
            tf.minimum(cap, s.max_target_tokens),
        )
        memory, mask = self.model.encode(ids, training=False)
        attended = self.model.decoder.attend(memory, mask)
        state = self.model.decoder.initial_state(memory, mask)
        source_length = tf.shape(ids)[1]

        def greedy():
            return greedy_search(
                self.model.step_function(attended),
                state,
                max_lengths,
                source_length,
                BOS_ID,
                EOS_ID,
                s.length_penalty,
            )

        def beam():
            repeat = [tf.repeat(t, beam_size, axis=0) for t in attended]
            return beam_search(
                self.model.step_function(repeat),
                [tf.repeat(t, beam_size, axis=0) for t in state],
                max_lengths,
                source_length,
                beam_size,
                BOS_ID,
                EOS_ID,
                s.length_penalty,
            )

        out_ids, scores, attention = tf.cond(beam_size > 1, beam, greedy)
        out = {
            "translation": self.tokenizer.detokenize(out_ids),
            "score": scores,
            "source_pieces": self.pieces(ids),
            "target_pieces": self.pieces(out_ids),
            "attention": attention,
        }
        return {name: value[:rows] for name, value in out.items()}

    def pieces(self, ids) -> tf.Tensor:
        """Piece strings of padded ids; padding becomes the empty string."""
        return tf.where(ids == PAD_ID, "", self.tokenizer.id_to_piece(ids))


def export_translator(
    model: Translator,
    tokenizer: SentencePieceTokenizer,
    settings: DecodingSettings,
    directory: Path,
) -> None:
    """Writes the string-in SavedModel into ``directory`` (which must be empty).

    Signatures:
        ``serving_default``: ``source: string[batch]`` -> ``translation: string[batch]``,
        ``score: float32[batch]`` (beam search with ``settings.beam_size``).
        ``translate``: ``source``, ``beam_size: int32``, ``max_length: int32`` (> 0 caps
        the source-relative limit) -> the same plus ``source_pieces``, ``target_pieces``,
        ``attention``.
    """
    translator = InGraphTranslator(model, tokenizer, settings)
    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.track(tokenizer)
    source_spec = tf.TensorSpec([None], tf.string, name="source")

    @tf.function(input_signature=[source_spec])
    def serve(source):
        out = translator.translate(source, settings.beam_size, 0)
        return {"translation": out["translation"], "score": out["score"]}

    @tf.function(
        input_signature=[
            source_spec,
            tf.TensorSpec([], tf.int32, name="beam_size"),
            tf.TensorSpec([], tf.int32, name="max_length"),
        ]
    )
    def translate(source, beam_size, max_length):
        return translator.translate(source, beam_size, max_length)

    archive.add_endpoint("serving_default", serve)
    archive.add_endpoint("translate", translate)
    archive.write_out(str(directory), verbose=False)
