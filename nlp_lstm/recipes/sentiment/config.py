"""The sentiment recipe's config, presets and flags (no TensorFlow: ``--help`` reads them)."""

from __future__ import annotations

import argparse
import dataclasses

from nlp_lstm import config as config_lib

NAME = "sentiment"
DESCRIPTION = "Sentiment analysis with a stacked BiLSTM."
DEFAULT_CORPUS = "rotten_tomatoes"
ROWS = True  # reads rows (TSV, CSV, JSONL)
# How a user file (--data) is split 80/10/10.
DATA_SPLIT = "at random with a fixed seed"


@dataclasses.dataclass
class SentimentConfig:
    """Everything that shapes a sentiment run (saved with the run and the export)."""

    cell: str = "lstm"
    vocabulary_size: int = 4000
    lower_case: bool = False
    sequence_length: int = 96
    embedding_dim: int = 64
    lstm_units: int = 64
    lstm_layers: int = 1
    dropout: float = 0.3
    embedding_dropout: float = 0.1
    batch_size: int = 64
    epochs: int = 4
    learning_rate: float = 3e-3
    weight_decay: float = 0.0
    clipnorm: float = 1.0
    subword_alpha: float = 0.0
    pretrained_vectors: str = ""  # word2vec text file, or "glove_100d" (bundled)
    adversarial_epsilon: float = 0.0  # > 0: adversarial training on the word vectors
    pretrain_reviews: str = ""  # labelled reviews file, or "imdb_reviews" (bundled)
    pretrain_epochs: int = 1  # over the reviews, before the snippets (new models only)
    patience: int = 2
    seed: int = 1

    def __post_init__(self):
        config_lib.check_cell(self.cell)
        config_lib.check_ranges(self, RANGES)


CONFIG = SentimentConfig
RANGES = {
    "vocabulary_size": config_lib.POSITIVE,
    "sequence_length": config_lib.Range(2),
    "embedding_dim": config_lib.POSITIVE,
    "lstm_units": config_lib.POSITIVE,
    "lstm_layers": config_lib.POSITIVE,
    "dropout": config_lib.RATE,
    "embedding_dropout": config_lib.RATE,
    "batch_size": config_lib.POSITIVE,
    "epochs": config_lib.POSITIVE,
    "learning_rate": config_lib.SCALE,
    "weight_decay": config_lib.NON_NEGATIVE,
    "clipnorm": config_lib.SCALE,
    "subword_alpha": config_lib.Range(0, 1, high_closed=True),
    "adversarial_epsilon": config_lib.NON_NEGATIVE,
    "pretrain_epochs": config_lib.POSITIVE,
    "patience": config_lib.NON_NEGATIVE,
    "seed": config_lib.SEED,
}
PRESETS = {
    "quick": {},
    # ~10k short snippets teach few words: the embedding starts from GloVe, with a
    # lower-cased vocabulary (as GloVe's) large enough to keep most words whole; the
    # whole classifier first reads the endings of 25k IMDb reviews; weight decay, heavy
    # dropout and adversarial training hold off the over-fitting.
    "full": {
        "vocabulary_size": 13000,
        "lower_case": True,
        "pretrained_vectors": "glove_100d",
        "pretrain_reviews": "imdb_reviews",
        "embedding_dim": 100,
        "lstm_units": 128,
        "lstm_layers": 2,
        "dropout": 0.5,
        "embedding_dropout": 0.3,
        "weight_decay": 0.01,
        "learning_rate": 2e-3,
        "adversarial_epsilon": 1.0,
        "epochs": 6,
        "patience": 4,
    },
}
FINETUNE = {"epochs": 6, "learning_rate": 1e-3, "patience": 2}


def add_arguments(commands: dict[str, argparse.ArgumentParser]) -> None:
    """The recipe's own flags, beside the runner's."""
    commands["finetune"].add_argument(
        "--new-head",
        action="store_true",
        help="train a new output layer when the labels differ from the export's",
    )
