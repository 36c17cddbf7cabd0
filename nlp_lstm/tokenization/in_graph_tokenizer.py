"""The base of the in-graph tokenizer layers: strings in, padded ids out."""

from __future__ import annotations

import keras
import tensorflow as tf

from nlp_lstm.tokenization.special_ids import finalize_ids


class InGraphTokenizer(keras.layers.Layer):
    """Turns ``string[batch]`` into right-padded ``int32[batch, sequence_length]``.

    Subclasses implement ``tokenize`` (strings -> ragged ids without specials) and
    ``detokenize``; this class adds truncation, bos/eos and padding.

    Args:
        sequence_length: output width after truncation; ``None`` pads each batch
            to its longest row.
        add_bos: start every row with the bos id.
        add_eos: end every row with the eos id (kept when truncating).
    """

    def __init__(
        self,
        sequence_length: int | None = None,
        add_bos: bool = False,
        add_eos: bool = False,
        **kwargs,
    ):
        kwargs.setdefault("dtype", "int32")
        super().__init__(**kwargs)
        self._convert_input_args = False
        self._allow_non_tensor_positional_args = True
        self.built = True  # no weights: the vocabulary lives in the graph
        self.sequence_length = sequence_length
        self.add_bos, self.add_eos = add_bos, add_eos

    def tokenize(self, texts) -> tf.RaggedTensor:
        raise NotImplementedError

    def call(self, texts):
        return finalize_ids(self.tokenize(texts), self.sequence_length, self.add_bos, self.add_eos)

    def compute_output_spec(self, texts):
        return keras.KerasTensor((texts.shape[0], self.sequence_length), dtype="int32")

    def get_config(self):
        config = super().get_config()
        config.update(
            sequence_length=self.sequence_length, add_bos=self.add_bos, add_eos=self.add_eos
        )
        return config
