"""The shared fit loop: run directory, callbacks, checkpoints, resume, summary."""

from __future__ import annotations

import json
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


def fit(model: keras.Model, train, validation, run: RunDirectory, epochs: int,
        monitor: str = "val_loss", mode: str = "min", patience: int = 2,
        steps_per_epoch: int | None = None) -> dict:
    """Trains with early stopping; ends holding the best validation epoch's weights.

    Callbacks: BackupAndRestore (an interrupted run resumes from its last epoch),
    ModelCheckpoint of the best weights, EarlyStopping restoring them,
    TerminateOnNaN, CSVLogger and TensorBoard.

    With ``steps_per_epoch``, ``train`` must repeat; an "epoch" is then that many steps.

    Returns:
        The per-epoch history (``{"loss": [...], "val_loss": [...], ...}``).
    """
    callbacks = [
        keras.callbacks.BackupAndRestore(str(run.path / "backup")),
        keras.callbacks.ModelCheckpoint(str(run.best_weights), monitor=monitor, mode=mode,
                                        save_best_only=True, save_weights_only=True),
        keras.callbacks.EarlyStopping(monitor=monitor, mode=mode, patience=patience,
                                      restore_best_weights=True),
        keras.callbacks.TerminateOnNaN(),
        keras.callbacks.CSVLogger(str(run.path / "history.csv"), append=True),
        keras.callbacks.TensorBoard(str(run.path / "logs"), write_graph=False),
    ]
    start = time.time()
    history = model.fit(train, validation_data=validation, epochs=epochs, callbacks=callbacks,
                        steps_per_epoch=steps_per_epoch, verbose=1 if sys.stdout.isatty() else 2)
    if run.best_weights.exists():  # early stopping restores only if it triggered
        model.load_weights(run.best_weights)
    history = dict(history.history)
    history["seconds"] = time.time() - start
    return history
