"""What each recipe states of its own; ``nlp_lstm.runner`` does the rest."""

from __future__ import annotations

import abc
import argparse
import dataclasses
from pathlib import Path
from types import ModuleType

import keras

from nlp_lstm import config as config_lib
from nlp_lstm.training import RunDirectory, TrainingSession, fit, run_key


@dataclasses.dataclass
class RecipeData:
    """What a run reads: its ``train`` / ``validation`` / ``test`` splits and where they
    came from (``source``, as the run's metadata names it)."""

    splits: dict
    source: str

    def metadata(self) -> dict:
        """What the run directory and the export keep about the data, beside ``source``."""
        return {}


@dataclasses.dataclass
class LoadedExport:
    """An export loaded to evaluate or fine-tune: its version directory, metadata
    (``nlp_lstm.json``), Keras model and asset bytes."""

    version: Path
    metadata: dict
    model: keras.Model
    asset: bytes


class Recipe(abc.ABC):
    """A recipe: its config module, the file its model reads text through (``asset``:
    tokenizer or vocabulary, kept in the run directory and in the export's ``assets/``),
    and the steps the runner's commands call.

    Args:
        spec: the recipe's ``config`` module (``NAME``, ``CONFIG``, ``PRESETS``,
            ``FINETUNE``, ``DEFAULT_CORPUS``, ...).
    """

    asset: str
    unit: str = "tokens"  # what the training speed counts
    run_files: tuple[str, ...] = ()  # what the recipe adds to the run directory

    def __init__(self, spec: ModuleType):
        self.spec = spec
        self.name = spec.NAME

    def resolve_config(self, args: argparse.Namespace):
        """The config of a new run: the preset, then the command line's overrides."""
        return config_lib.resolve(self.spec.CONFIG, self.spec.PRESETS, args.preset, args.overrides)

    @abc.abstractmethod
    def read_data(self, args: argparse.Namespace, config) -> RecipeData:
        """The splits of ``--data`` or ``--dataset`` (the default corpus without either)."""

    def start_training(self, args: argparse.Namespace, config, data: RecipeData, run: RunDirectory):
        """What a new run checks or adds before its asset is made; returns the data."""
        return data

    @abc.abstractmethod
    def make_asset(self, args: argparse.Namespace, config, data: RecipeData) -> bytes:
        """The asset of a new run, made from its training split."""

    @abc.abstractmethod
    def describe_asset(self, config) -> str:
        """What ``make_asset`` makes, for the progress line."""

    def start_finetuning(
        self,
        args: argparse.Namespace,
        session: TrainingSession,
        export: LoadedExport,
        config,
        data: RecipeData,
    ) -> tuple[keras.Model, RecipeData, dict]:
        """Adapts an export's model to new data before fine-tuning.

        Returns:
            ``(model, data, report)``: ``report`` joins the run's metrics (e.g. the
            validation score before fine-tuning).
        """
        return export.model, data, {}

    @abc.abstractmethod
    def train(
        self,
        session: TrainingSession,
        config,
        data: RecipeData,
        asset: bytes,
        model: keras.Model | None,
    ) -> tuple[keras.Model, dict]:
        """Builds the model (unless given), fits it in ``session`` and evaluates it.

        Returns:
            ``(model, report)``: the report becomes the run's ``metrics.json``.
        """

    @abc.abstractmethod
    def write_export(
        self, model: keras.Model, config, asset: bytes, saved: dict, directory: Path
    ) -> dict:
        """Writes the serving SavedModel into ``directory`` (``saved``: the run's
        ``config.json``).

        Returns:
            What the export's metadata adds for this recipe.
        """

    @abc.abstractmethod
    def evaluate(self, export: LoadedExport, config, data: RecipeData, split: str) -> dict:
        """The scores of an export on one split."""

    @abc.abstractmethod
    def summary(self, report: dict) -> list[str]:
        """The summary's lines of quality figures."""

    def fit(
        self,
        session: TrainingSession,
        model: keras.Model,
        make_batches,
        validation,
        config,
        steps_per_epoch: int,
        trained_on,
        **stopping,
    ) -> dict:
        """``training.fit`` over the run's settings: the config's batch size, epochs and
        patience, the session's run directory, strategy and checkpoint interval, and a
        resume key from the config and ``trained_on`` (the training data).

        Args:
            **stopping: ``monitor`` and ``mode`` for early stopping, if not ``val_loss``.

        Returns:
            The history of the whole run (see ``training.fit``).
        """
        return fit(
            model,
            make_batches,
            validation,
            session.run,
            batch_size=config.batch_size,
            epochs=config.epochs,
            steps_per_epoch=steps_per_epoch,
            patience=config.patience,
            key=run_key(config, trained_on),
            strategy=session.strategy,
            checkpoint_every=session.checkpoint_every,
            **stopping,
        )

    def samples(self, version: Path, data: RecipeData) -> str:
        """A few outputs read back from the new export, for the summary ("": none)."""
        return ""
