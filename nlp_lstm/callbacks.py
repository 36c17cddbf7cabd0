"""Keras callbacks of the shared fit loop: mid-epoch checkpoints, resumable early
stopping, divergence."""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import os
from pathlib import Path

import keras
import tensorflow as tf

POSITION_FILE = "position.json"


def global_step(model: keras.Model) -> int:
    """Optimizer steps taken so far (also for a variable mirrored by tf.distribute)."""
    return int(tf.convert_to_tensor(model.optimizer.iterations.value))


@dataclasses.dataclass(frozen=True)
class Position:
    """Where a run stands: ``step`` steps into epoch ``epoch`` (both from 0)."""

    epoch: int
    step: int
    weights: Path  # the model's and the optimizer's variables at that point

    @property
    def describe(self) -> str:
        return f"epoch {self.epoch + 1}, step {self.step}"


def read_position(directory: Path) -> Position | None:
    """The last checkpointed :class:`Position` in ``directory``, or ``None``."""
    try:
        saved = json.loads((directory / POSITION_FILE).read_text())
        position = Position(int(saved["epoch"]), int(saved["step"]), directory / saved["weights"])
    except (FileNotFoundError, ValueError, KeyError, TypeError):
        return None
    return position if position.weights.exists() else None


class TrainingCheckpoint(keras.callbacks.Callback):
    """Saves the model and optimizer variables with the position every ``every`` steps
    and at the end of every epoch, so a killed run resumes where it was.

    Each save writes ``step-<global step>.weights.h5`` under a temporary name, renames
    it into place, then atomically replaces ``position.json`` that points to it, and
    removes older files: at any moment the folder holds one complete checkpoint.
    Nothing is saved once the loss is NaN or infinite. Put it after the callbacks that
    write an epoch's results, so a saved epoch end means those results are on disk.

    Args:
        directory: where to write.
        steps_per_epoch: steps in one epoch (positions are global step // this).
        every: steps between mid-epoch saves.
    """

    def __init__(self, directory: Path, steps_per_epoch: int, every: int):
        super().__init__()
        self.directory, self.steps_per_epoch, self.every = Path(directory), steps_per_epoch, every

    def on_train_batch_end(self, batch, logs=None):
        step = global_step(self.model)
        if step % self.every == 0 and step % self.steps_per_epoch and self._finite(logs):
            self.save(step)

    def on_epoch_end(self, epoch, logs=None):
        if self._finite(logs):
            self.save(global_step(self.model))

    @staticmethod
    def _finite(logs) -> bool:
        return math.isfinite(float((logs or {}).get("loss", 0.0)))

    def save(self, global_step: int) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        name = f"step-{global_step}.weights.h5"
        partial = self.directory / f".partial-{name}"
        self.model.save_weights(partial)
        os.replace(partial, self.directory / name)
        epoch, step = divmod(global_step, self.steps_per_epoch)
        pointer = self.directory / f".{POSITION_FILE}.partial"
        pointer.write_text(json.dumps({"epoch": epoch, "step": step, "weights": name}))
        os.replace(pointer, self.directory / POSITION_FILE)
        for old in self.directory.glob("step-*.weights.h5"):
            if old.name != name:
                old.unlink(missing_ok=True)


def logged(history_file: Path, monitor: str) -> list[float]:
    """``monitor``'s value per epoch in a run's ``history.csv`` (NaN where missing)."""
    if not history_file.exists():
        return []
    with history_file.open(newline="") as f:
        return [float(row.get(monitor) or "nan") for row in csv.DictReader(f)]


def best_logged(history_file: Path, monitor: str, mode: str) -> float:
    """The best finite ``monitor`` value in ``history.csv`` (``inf``/``-inf`` if none)."""
    values = [v for v in logged(history_file, monitor) if math.isfinite(v)]
    if mode == "min":
        return min(values, default=math.inf)
    return max(values, default=-math.inf)


class ResumableEarlyStopping(keras.callbacks.EarlyStopping):
    """``EarlyStopping`` whose patience counts the epochs logged before a resume.

    At the start of training it reads ``history_file`` (a resumed run's
    ``history.csv``; ``None`` when starting afresh): the best value so
    far and the epochs since it carry over. Best weights are kept on disk by
    ``ModelCheckpoint``, not in memory.
    """

    def __init__(self, history_file: Path | None, monitor: str, mode: str, patience: int):
        super().__init__(monitor=monitor, mode=mode, patience=patience)
        self.history_file = history_file

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        values = [v for v in logged(self.history_file, self.monitor)
                  if math.isfinite(v)] if self.history_file else []
        if values:
            best = (min if self.mode == "min" else max)(values)
            self.best = best
            self.wait = len(values) - 1 - max(i for i, v in enumerate(values) if v == best)


class StopOnDivergence(keras.callbacks.Callback):
    """Stops training at the first NaN or infinite loss and remembers where it happened."""

    def __init__(self, steps_per_epoch: int):
        super().__init__()
        self.steps_per_epoch, self.where = steps_per_epoch, None

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            epoch, step = divmod(global_step(self.model) - 1, self.steps_per_epoch)
            self.where = {"epoch": epoch + 1, "step": step + 1, "loss": float(loss)}
            self.model.stop_training = True
