"""The recipes, one package each: ``config`` (the config dataclass, its ranges, presets and
the recipe's own flags; cheap to import, for ``--help``) and ``recipe`` (data, model,
metrics and export, on TensorFlow). ``nlp_lstm.runner`` runs them.

Example:
    >>> config_module("sentiment").DEFAULT_CORPUS
    'rotten_tomatoes'

"""

from __future__ import annotations

import importlib
from types import ModuleType

NAMES = ("sentiment", "generation", "translation")


def config_module(name: str) -> ModuleType:
    """The recipe's ``config`` module (no TensorFlow import)."""
    return importlib.import_module(f"nlp_lstm.recipes.{name}.config")


def load(name: str):
    """The recipe's ``Recipe`` (imports TensorFlow)."""
    return importlib.import_module(f"nlp_lstm.recipes.{name}.recipe").RECIPE
