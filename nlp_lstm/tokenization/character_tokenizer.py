"""An in-graph, Unicode-aware character tokenizer layer."""

from __future__ import annotations

import collections

import keras
import numpy as np
import tensorflow as tf

from nlp_lstm.errors import NlpLstmError
from nlp_lstm.tokenization.in_graph_tokenizer import InGraphTokenizer
from nlp_lstm.tokenization.special_ids import NUM_SPECIAL, UNK_ID, strip_special

REPLACEMENT_CHARACTER = 0xFFFD


def build_character_vocabulary(
    text: str, max_size: int | None = None, min_count: int = 1
) -> list[str]:
    """The characters of ``text``, most frequent first (ties by code point).

    Args:
        text: the training text.
        max_size: keep at most this many characters; the rest map to the unknown id.
        min_count: drop characters seen fewer times.

    Raises:
        NlpLstmError: if no character qualifies.
    """
    counts = collections.Counter(text)
    ranked = sorted(
        (c for c, n in counts.items() if n >= min_count), key=lambda c: (-counts[c], ord(c))
    )
    if not ranked:
        raise NlpLstmError("cannot build a character vocabulary from empty text")
    return ranked[:max_size] if max_size else ranked


@keras.saving.register_keras_serializable(package="nlp_lstm")
class CharacterTokenizer(InGraphTokenizer):
    """Strings to character ids by Unicode code point, and back.

    Ids 0-3 are pad, unk, bos, eos; character ``vocabulary[k]`` has id ``k + 4``.
    Characters outside the vocabulary map to the unknown id and detokenize to
    U+FFFD. Invalid UTF-8 bytes decode to U+FFFD as well.

    Args:
        vocabulary: single characters (``build_character_vocabulary``).
        sequence_length: output width; ``None`` pads to the longest row.
        add_bos: start every row with the bos id.
        add_eos: end every row with the eos id.

    Example:
        >>> tokenizer = CharacterTokenizer(list("abc"))
        >>> tokenizer(tf.constant(["cab", "x"]))   # [[6, 4, 5], [1, 0, 0]]
    """

    def __init__(
        self,
        vocabulary: list[str],
        sequence_length: int | None = None,
        add_bos: bool = False,
        add_eos: bool = False,
        **kwargs,
    ):
        super().__init__(sequence_length, add_bos, add_eos, **kwargs)
        bad = [c for c in vocabulary if len(c) != 1]
        if bad or len(set(vocabulary)) != len(vocabulary):
            raise NlpLstmError(
                "a character vocabulary holds distinct single characters; "
                f"got {bad[:3] or 'duplicates'}"
            )
        self.vocabulary = list(vocabulary)
        codepoints = np.array([ord(c) for c in self.vocabulary], dtype=np.int64)
        ids = np.arange(NUM_SPECIAL, NUM_SPECIAL + len(codepoints), dtype=np.int64)
        self._table = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(codepoints, ids), default_value=UNK_ID
        )
        self._codepoint_of_id = np.concatenate(
            [np.full(NUM_SPECIAL, REPLACEMENT_CHARACTER, np.int32), codepoints.astype(np.int32)]
        )

    def vocabulary_size(self) -> int:
        return NUM_SPECIAL + len(self.vocabulary)

    def tokenize(self, texts) -> tf.RaggedTensor:
        """Ragged ids without specials, truncation or padding."""
        codepoints = tf.strings.unicode_decode(
            tf.convert_to_tensor(texts, dtype=tf.string), "UTF-8", errors="replace"
        )
        return tf.ragged.map_flat_values(
            lambda c: tf.cast(self._table.lookup(tf.cast(c, tf.int64)), tf.int32), codepoints
        )

    def detokenize(self, ids, stop_at_eos: bool = True) -> tf.Tensor:
        """Ids (dense or ragged) back to strings."""
        kept = strip_special(ids, stop_at_eos)
        codepoints = tf.ragged.map_flat_values(
            lambda i: tf.gather(tf.constant(self._codepoint_of_id), i), kept
        )
        return tf.strings.unicode_encode(codepoints, "UTF-8")

    def get_config(self):
        config = super().get_config()
        config.update(vocabulary=self.vocabulary)
        return config
