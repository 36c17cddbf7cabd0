"""The shared fit loop: run directory, callbacks, checkpoints, resume, summary."""

from __future__ import annotations

import csv
import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path

import keras

from nlp_lstm.errors import NlpLstmError


def write_json_atomic(path: Path, payload) -> None:
    """Writes JSON through a temporary file and a rename (never half-written)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with os.fdopen(handle, "w") as f:
        json.dump(payload, f, indent=2, ensure_ascii=False, default=str)
    os.replace(tmp, path)


class RunDirectory:
    """One training run's folder: config, metrics, checkpoints, logs, plots.

    Layout::

        config.json      the resolved configuration (with the task's name)
        metrics.json     evaluation figures per split
        model.keras      the trained Keras model (best validation epoch)
        history.csv      per-epoch training log (appended across resumes)
        checkpoints/     best.weights.h5 (best validation epoch)
        backup/          BackupAndRestore state for resuming an interrupted fit
        logs/            TensorBoard
        plots/           PNG figures
    """

    def __init__(self, path: str | Path, create: bool = True):
        self.path = Path(path)
        for sub in ("checkpoints", "backup", "logs", "plots") if create else ():
            (self.path / sub).mkdir(parents=True, exist_ok=True)

    @property
    def best_weights(self) -> Path:
        return self.path / "checkpoints" / "best.weights.h5"

    @property
    def plots(self) -> Path:
        return self.path / "plots"

    @property
    def keras_model(self) -> Path:
        return self.path / "model.keras"

    def write_json(self, name: str, payload) -> Path:
        write_json_atomic(self.path / name, payload)
        return self.path / name

    def read_bytes(self, name: str) -> bytes:
        """A file of a finished run; ``NlpLstmError`` if it is missing."""
        try:
            return (self.path / name).read_bytes()
        except FileNotFoundError:
            raise NlpLstmError(f"not a finished run (missing {name})", path=self.path) from None

    def load_finished(self, task: str) -> tuple[dict, keras.Model, dict | None]:
        """The saved config record, the Keras model and the metrics (if any) of a
        finished ``task`` run.

        Raises:
            NlpLstmError: if the run is unfinished or belongs to another task.
        """
        saved = json.loads(self.read_bytes("config.json"))
        if saved.get("task") != task:
            raise NlpLstmError(f"run is a {saved.get('task')!r} run, not {task}", path=self.path)
        self.read_bytes(self.keras_model.name)
        model = keras.saving.load_model(self.keras_model)
        metrics = json.loads(self.read_bytes("metrics.json")) if (
            self.path / "metrics.json").exists() else None
        return saved, model, metrics


def best_logged(history_file: Path, monitor: str, mode: str) -> float:
    """The best finite ``monitor`` value in a run's ``history.csv`` (``inf``/``-inf`` if none)."""
    values = []
    if history_file.exists():
        with history_file.open(newline="") as f:
            values = [float(row[monitor]) for row in csv.DictReader(f) if row.get(monitor)]
    values = [v for v in values if math.isfinite(v)]
    if mode == "min":
        return min(values, default=math.inf)
    return max(values, default=-math.inf)


class StopOnDivergence(keras.callbacks.Callback):
    """Stops training at the first NaN or infinite loss and remembers where it happened."""

    def __init__(self):
        super().__init__()
        self.epoch, self.where = 0, None

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            self.where = {"epoch": self.epoch + 1, "step": batch + 1, "loss": float(loss)}
            self.model.stop_training = True


def fit(model: keras.Model, train, validation, run: RunDirectory, epochs: int,
        monitor: str = "val_loss", mode: str = "min", patience: int = 2,
        steps_per_epoch: int | None = None) -> dict:
    """Trains with early stopping; ends holding the best validation epoch's weights.

    Callbacks: BackupAndRestore (an interrupted run resumes from its last epoch),
    ModelCheckpoint of the best weights, EarlyStopping restoring them,
    StopOnDivergence, CSVLogger and TensorBoard. A run directory without a backup
    starts over (its old history and best weights are removed).

    With ``steps_per_epoch``, ``train`` must repeat; an "epoch" is then that many steps.

    Returns:
        The per-epoch history (``{"loss": [...], "val_loss": [...], ...}``).

    Raises:
        NlpLstmError: if the loss became NaN or infinite (naming the epoch and step);
            the best weights of the epochs before stay in the run directory.
    """
    history_file = run.path / "history.csv"
    if not (run.path / "backup" / "training_metadata.json").exists():  # not resuming: start over
        history_file.unlink(missing_ok=True)
        run.best_weights.unlink(missing_ok=True)
    divergence = StopOnDivergence()
    callbacks = [
        keras.callbacks.BackupAndRestore(str(run.path / "backup")),
        # Only an improvement on the epochs already done (before a resume) replaces the
        # best weights; a NaN never does.
        keras.callbacks.ModelCheckpoint(str(run.best_weights), monitor=monitor, mode=mode,
                                        save_best_only=True, save_weights_only=True,
                                        initial_value_threshold=best_logged(history_file,
                                                                            monitor, mode)),
        keras.callbacks.EarlyStopping(monitor=monitor, mode=mode, patience=patience,
                                      restore_best_weights=True),
        divergence,
        keras.callbacks.CSVLogger(str(history_file), append=True),
        keras.callbacks.TensorBoard(str(run.path / "logs"), write_graph=False),
    ]
    start = time.time()
    history = model.fit(train, validation_data=validation, epochs=epochs, callbacks=callbacks,
                        steps_per_epoch=steps_per_epoch, verbose=1 if sys.stdout.isatty() else 2)
    if divergence.where:
        where = divergence.where
        kept = (f"the best weights so far are kept in {run.best_weights}"
                if run.best_weights.exists() else "no epoch finished before it")
        raise NlpLstmError(
            f"training diverged: the loss became {where['loss']} at epoch {where['epoch']}, "
            f"step {where['step']}; stopped without exporting ({kept}). Lower --learning-rate "
            "(or --clipnorm) and train again", path=run.path)
    if run.best_weights.exists():  # early stopping restores only if it triggered
        model.load_weights(run.best_weights)
    history = dict(history.history)
    history["seconds"] = time.time() - start
    return history
