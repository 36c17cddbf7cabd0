"""The generation recipe's config and presets (no TensorFlow: ``--help`` reads them)."""

from __future__ import annotations

import argparse
import dataclasses

from nlp_lstm import config as config_lib

NAME = "generation"
DESCRIPTION = "Character-level text generation with a stacked LSTM."
DEFAULT_CORPUS = "shakespeare"
ROWS = False  # reads plain text
# How a user file (--data) is split 80/10/10.
DATA_SPLIT = "by position (training first, then validation, then test)"


@dataclasses.dataclass
class GenerationConfig:
    """Everything that shapes a generation run (saved with the run and the export)."""

    cell: str = "lstm"
    max_vocabulary: int = 120
    sequence_length: int = 100
    embedding_dim: int = 48
    lstm_units: int = 256
    lstm_layers: int = 1
    dropout: float = 0.1
    batch_size: int = 64
    epochs: int = 3
    steps_per_epoch: int = 170
    learning_rate: float = 5e-3
    clipnorm: float = 1.0
    patience: int = 2
    seed: int = 1

    def __post_init__(self):
        config_lib.check_cell(self.cell)
        config_lib.check_ranges(self, RANGES)


CONFIG = GenerationConfig
RANGES = {
    "max_vocabulary": config_lib.POSITIVE,
    "sequence_length": config_lib.POSITIVE,
    "embedding_dim": config_lib.POSITIVE,
    "lstm_units": config_lib.POSITIVE,
    "lstm_layers": config_lib.POSITIVE,
    "dropout": config_lib.RATE,
    "batch_size": config_lib.POSITIVE,
    "epochs": config_lib.POSITIVE,
    "steps_per_epoch": config_lib.POSITIVE,
    "learning_rate": config_lib.SCALE,
    "clipnorm": config_lib.SCALE,
    "patience": config_lib.NON_NEGATIVE,
    "seed": config_lib.SEED,
}
PRESETS = {
    "quick": {},
    # Sized for about an hour on 2 CPU cores (~6,400 characters/s).
    "full": {
        "embedding_dim": 64,
        "lstm_units": 384,
        "lstm_layers": 2,
        "dropout": 0.1,
        "epochs": 8,
        "steps_per_epoch": 400,
        "learning_rate": 3e-3,
        "patience": 3,
    },
}
FINETUNE = {"epochs": 3, "steps_per_epoch": 50, "learning_rate": 1e-3}


def add_arguments(commands: dict[str, argparse.ArgumentParser]) -> None:
    """The recipe has no flags of its own beside the runner's."""
