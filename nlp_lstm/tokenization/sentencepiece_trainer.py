"""Training SentencePiece models with the ``sentencepiece`` library."""

from __future__ import annotations

import io
import re
import sys
from collections.abc import Iterable

import sentencepiece as spm

from nlp_lstm.errors import NlpLstmError
from nlp_lstm.tokenization.special_ids import BOS_ID, EOS_ID, PAD_ID, UNK_ID


def train_sentencepiece(
    texts: Iterable[str],
    vocabulary_size: int = 8000,
    model_type: str = "unigram",
    character_coverage: float = 0.9995,
    max_sentence_length: int = 16384,
    source: str | None = None,
    lower_case: bool = False,
) -> bytes:
    """Trains a SentencePiece model with the library's fixed special ids.

    Args:
        texts: training sentences (empty ones are ignored).
        vocabulary_size: number of pieces, the four specials included.
        model_type: ``unigram`` or ``bpe``.
        character_coverage: share of characters the model must cover
            (1.0 for small alphabets, 0.9995 for Latin scripts).
        max_sentence_length: longer sentences (in bytes) are skipped by the trainer.
        source: the file the texts came from, named in errors.
        lower_case: fold case in the model's normalizer (NFKC + case folding), so
            "Film" and "film" are one piece, in training and in every use of the model.

    Returns:
        The serialized model proto, ready for ``SentencePieceTokenizer``. A
        ``vocabulary_size`` larger than the corpus allows is lowered to the largest size
        it allows, with a one-line note on stderr.

    Raises:
        NlpLstmError: if there is no text, or the vocabulary cannot hold the corpus's
            distinct characters (the message says to raise ``--vocabulary-size``).

    Example:
        >>> proto = train_sentencepiece(["a tiny corpus"] * 50, vocabulary_size=12)
    """
    if model_type not in ("unigram", "bpe"):
        raise NlpLstmError(f"model_type must be 'unigram' or 'bpe', not {model_type!r}")
    sentences = [t for t in texts if t and t.strip()]
    if not sentences:
        raise NlpLstmError("cannot train a SentencePiece model on an empty corpus", path=source)
    buffer = io.BytesIO()
    try:
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(sentences),
            model_writer=buffer,
            vocab_size=vocabulary_size,
            model_type=model_type,
            character_coverage=character_coverage,
            max_sentence_length=max_sentence_length,
            normalization_rule_name="nmt_nfkc_cf" if lower_case else "nmt_nfkc",
            pad_id=PAD_ID,
            unk_id=UNK_ID,
            bos_id=BOS_ID,
            eos_id=EOS_ID,
            pad_piece="<pad>",
            unk_piece="<unk>",
            bos_piece="<s>",
            eos_piece="</s>",
            input_sentence_size=2_000_000,
            shuffle_input_sentence=True,
            num_threads=2,
            minloglevel=2,
        )
    except RuntimeError as error:
        detail = str(error).strip().splitlines()[-1]
        needed = re.search(r"smaller than required_chars\. \d+ vs (\d+)", detail)
        if needed:
            raise NlpLstmError(
                f"vocabulary size {vocabulary_size} is smaller than the {needed.group(1)} "
                "distinct characters of this corpus need; raise --vocabulary-size",
                path=source,
            ) from None
        if "Vocabulary size" in detail or "vocab_size" in detail:
            largest = re.search(r"<= (\d+)", detail)
            if largest and int(largest.group(1)) < vocabulary_size:
                print(
                    f"note: vocabulary size {vocabulary_size} is more than this corpus of "
                    f"{len(sentences):,} sentences allows; using {largest.group(1)}",
                    file=sys.stderr,
                )
                return train_sentencepiece(
                    sentences,
                    int(largest.group(1)),
                    model_type,
                    character_coverage,
                    max_sentence_length,
                    source,
                    lower_case,
                )
            allowed = f"at most {largest.group(1)}" if largest else detail
            raise NlpLstmError(
                f"vocabulary size {vocabulary_size} is larger than this corpus of "
                f"{len(sentences)} sentences allows ({allowed}); lower --vocabulary-size",
                path=source,
            ) from None
        raise NlpLstmError(f"SentencePiece training failed: {detail}", path=source) from None
    return buffer.getvalue()
