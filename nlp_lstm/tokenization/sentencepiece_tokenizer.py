"""An in-graph SentencePiece tokenizer layer (``tensorflow_text``)."""

from __future__ import annotations

from pathlib import Path

import keras
import sentencepiece as spm
import tensorflow as tf
import tensorflow_text as tf_text

from nlp_lstm.errors import NlpLstmError
from nlp_lstm.tokenization.in_graph_tokenizer import InGraphTokenizer
from nlp_lstm.tokenization.special_ids import strip_special

MODEL_FILENAME = "sentencepiece.model"


@keras.saving.register_keras_serializable(package="nlp_lstm")
class SentencePieceTokenizer(InGraphTokenizer):
    """Strings in, right-padded ``int32`` ids out, inside the TensorFlow graph.

    The model proto travels with any Keras model that uses the layer (saved as an
    asset) and is embedded as a constant in exported SavedModels, so a consumer
    needs only ``tensorflow`` and ``tensorflow_text``.

    Args:
        proto: serialized SentencePiece model (``train_sentencepiece`` output or
            the bytes of a ``.model`` file).
        sequence_length: output width after truncation; ``None`` pads each batch
            to its longest row.
        add_bos: start every row with ``BOS_ID``.
        add_eos: end every row with ``EOS_ID`` (kept when truncating).

    Example:
        >>> tokenizer = SentencePieceTokenizer(proto, sequence_length=8)
        >>> ids = tokenizer(tf.constant(["ein schöner Film"]))   # int32[1, 8]
        >>> tokenizer.detokenize(ids)                            # [b"ein schöner Film"]
    """

    def __init__(
        self,
        proto: bytes | None = None,
        sequence_length: int | None = None,
        add_bos: bool = False,
        add_eos: bool = False,
        **kwargs,
    ):
        super().__init__(sequence_length, add_bos, add_eos, **kwargs)
        self._proto = None
        if proto is not None:
            self.set_proto(proto)

    def set_proto(self, proto: bytes) -> None:
        """Loads a serialized model; raises ``NlpLstmError`` if it is not one."""
        processor = spm.SentencePieceProcessor()
        try:
            processor.LoadFromSerializedProto(proto)
        except (RuntimeError, TypeError):
            raise NlpLstmError("not a SentencePiece model proto") from None
        self._proto = bytes(proto)
        self._processor = processor
        self._tokenizer = tf_text.SentencepieceTokenizer(model=self._proto, out_type=tf.int32)
        self._samplers = {}

    @classmethod
    def from_file(cls, path: str | Path, **kwargs) -> SentencePieceTokenizer:
        """Reads a ``.model`` file; raises ``NlpLstmError`` naming it if corrupt."""
        try:
            return cls(Path(path).read_bytes(), **kwargs)
        except NlpLstmError as error:
            raise NlpLstmError(error.message, path=path) from None

    @property
    def proto(self) -> bytes:
        self._require_proto()
        return self._proto

    def _require_proto(self):
        if self._proto is None:
            raise NlpLstmError("SentencePieceTokenizer has no model yet (give proto=...)")

    def vocabulary_size(self) -> int:
        self._require_proto()
        return self._processor.GetPieceSize()

    def pieces(self) -> list[str]:
        """All pieces, indexed by id (used to match pretrained vectors)."""
        self._require_proto()
        return [self._processor.IdToPiece(i) for i in range(self.vocabulary_size())]

    def tokenize(self, texts) -> tf.RaggedTensor:
        """Ragged ids without specials, truncation or padding."""
        self._require_proto()
        return self._tokenizer.tokenize(tf.convert_to_tensor(texts, dtype=tf.string))

    def sampling_tokenize(self, texts, alpha: float = 0.1) -> tf.RaggedTensor:
        """Like ``tokenize`` but samples one of the possible segmentations.

        Subword regularisation (Kudo, 2018): training on varied segmentations of the
        same text makes a model robust to how words are split. For training only.
        """
        self._require_proto()
        if alpha not in self._samplers:
            self._samplers[alpha] = tf_text.SentencepieceTokenizer(
                model=self._proto, out_type=tf.int32, nbest_size=-1, alpha=alpha
            )
        return self._samplers[alpha].tokenize(tf.convert_to_tensor(texts, dtype=tf.string))

    def detokenize(self, ids) -> tf.Tensor:
        """Ids (dense or ragged) back to strings; stops at the first eos."""
        self._require_proto()
        return self._tokenizer.detokenize(strip_special(ids))

    def id_to_piece(self, ids) -> tf.Tensor:
        """Piece strings (``"▁Haus"``) of ids, any shape, inside the graph."""
        self._require_proto()
        return self._tokenizer.id_to_string(ids)

    def save_assets(self, dir_path):
        Path(dir_path, MODEL_FILENAME).write_bytes(self.proto)

    def load_assets(self, dir_path):
        self.set_proto(Path(dir_path, MODEL_FILENAME).read_bytes())
