"""Shared tokenization: SentencePiece training, in-graph tokenizer layers.

Every tokenizer uses the same fixed special ids: pad=0, unk=1, bos=2, eos=3.
"""

from nlp_lstm.tokenization.character_tokenizer import (
    CharacterTokenizer,
    build_character_vocabulary,
)
from nlp_lstm.tokenization.sentencepiece_tokenizer import SentencePieceTokenizer
from nlp_lstm.tokenization.sentencepiece_trainer import train_sentencepiece
from nlp_lstm.tokenization.special_ids import BOS_ID, EOS_ID, PAD_ID, UNK_ID

__all__ = [
    "BOS_ID",
    "EOS_ID",
    "PAD_ID",
    "UNK_ID",
    "CharacterTokenizer",
    "SentencePieceTokenizer",
    "build_character_vocabulary",
    "train_sentencepiece",
]
