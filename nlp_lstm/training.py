"""The shared fit loop: run directory, callbacks, checkpoints, resume, summary."""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from nlp_lstm import config as config_lib
from nlp_lstm.callbacks import (
    POSITION_FILE,
    ProgressLines,
    ResumableEarlyStopping,
    StopOnDivergence,
    StopOnSignal,
    TrainingCheckpoint,
    best_of,
    global_step,
    logged,
    read_position,
)
from nlp_lstm.config import CHECKPOINT_EVERY
from nlp_lstm.distribute import build_before_fit, training_input
from nlp_lstm.errors import NlpLstmError, deferred_signals
from nlp_lstm.precision import set_model_policy


@dataclasses.dataclass
class TrainingSession:
    """Where and how this process trains.

    Attributes:
        strategy: the ``tf.distribute`` strategy (models are built in its scope).
        run: this process's run directory (a temporary one on non-chief workers).
        export_dir: the task folder this process exports to (likewise).
        checkpoint_every: steps between mid-epoch checkpoints.
        key: what the run trains with (e.g. its configuration as JSON); a checkpoint
            made with another key, batch size, epoch length or replica count is not
            resumed.
    """

    strategy: tf.distribute.Strategy
    run: RunDirectory
    export_dir: Path
    checkpoint_every: int = CHECKPOINT_EVERY


def write_bytes_atomic(path: Path, content: bytes) -> None:
    """Writes through a temporary file and a rename: readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with os.fdopen(handle, "wb") as f:
        f.write(content)
    os.replace(tmp, path)


def write_json_atomic(path: Path, payload) -> None:
    """Writes JSON atomically (see :func:`write_bytes_atomic`)."""
    write_bytes_atomic(
        path, json.dumps(payload, indent=2, ensure_ascii=False, default=str).encode("utf-8")
    )


class RunDirectory:
    """One training run's folder: config, metrics, checkpoints, logs, plots.

    Layout::

        config.json      the resolved configuration (with the task's name)
        metrics.json     evaluation figures per split
        model.keras      the trained Keras model (best validation epoch)
        history.csv      per-epoch training log (appended across resumes)
        checkpoints/     best.weights.h5 (best validation epoch)
        backup/          the latest model + optimizer + position, for resuming
        logs/            TensorBoard
        plots/           PNG figures
        STAGE/           a training stage before the main one (e.g. ``pretraining/``),
                         laid out the same way
    """

    def __init__(
        self, path: str | Path, create: bool = True, restore_from: str | Path | None = None
    ):
        self.path = Path(path)
        self.restore_from = Path(restore_from or path)  # another worker's copy, if shared
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

    def stage(self, name: str, create: bool = True) -> RunDirectory:
        """The folder of a training stage that runs before the main one (e.g. pretraining):
        its own history, logs and checkpoints, resumed like the main stage's."""
        return RunDirectory(self.path / name, create, restore_from=self.restore_from / name)

    @property
    def checkpointed(self) -> bool:
        """Whether the main stage left a checkpoint to resume from."""
        return (self.restore_from / "backup" / POSITION_FILE).exists()

    @property
    def resuming(self) -> bool:
        """Whether an interrupted attempt left a checkpoint, of any stage, to resume from."""
        return any(self.restore_from.glob(f"*/backup/{POSITION_FILE}")) or self.checkpointed

    def remove_checkpoints(self) -> None:
        """Removes the checkpoints of every stage: the run is complete, and running it
        again starts over."""
        for backup in [self.path / "backup", *self.path.glob("*/backup")]:
            shutil.rmtree(backup, ignore_errors=True)

    def reuse_or_write(self, name: str, make: Callable[[], bytes], what: str) -> bytes:
        """When resuming, the file ``name`` of the interrupted attempt (its checkpoint
        belongs to it); otherwise ``make()``'s bytes. Written atomically to this run.

        Args:
            name: file name in the run directory, e.g. ``sentencepiece.model``.
            make: builds the content when there is none yet.
            what: what ``make`` builds, for the progress line.
        """
        earlier = self.restore_from / name
        if self.resuming and earlier.exists():
            print(f"reusing {earlier}")
            content = earlier.read_bytes()
        else:
            print(f"training {what}")
            content = make()
        write_bytes_atomic(self.path / name, content)
        return content

    def adopt(self, *names: str | Path) -> None:
        """Copies these files from ``restore_from`` when this process writes elsewhere
        (a non-chief worker resuming), so every worker resumes from the same state."""
        if self.restore_from.resolve() == self.path.resolve():
            return
        for name in names:
            if (self.restore_from / name).exists():
                (self.path / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(self.restore_from / name, self.path / name)

    def read_bytes(self, name: str) -> bytes:
        """A file of a finished run; ``NlpLstmError`` if it is missing."""
        try:
            return (self.path / name).read_bytes()
        except FileNotFoundError:
            raise NlpLstmError(f"not a finished run (missing {name})", path=self.path) from None

    def load_finished(self, task: str) -> tuple[dict, keras.Model, dict | None]:
        """The saved config record, the Keras model (computing in float32, whatever
        the precision it trained in) and the metrics (if any) of a finished ``task`` run.

        Raises:
            NlpLstmError: if the run is unfinished or belongs to another task.
        """
        saved = json.loads(self.read_bytes("config.json"))
        if saved.get("task") != task:
            raise NlpLstmError(f"run is a {saved.get('task')!r} run, not {task}", path=self.path)
        self.read_bytes(self.keras_model.name)
        try:
            model = keras.saving.load_model(self.keras_model, safe_mode=True)
        except (ValueError, OSError) as error:
            raise NlpLstmError(
                f"cannot load {self.keras_model.name}: {error}", path=self.path
            ) from None
        set_model_policy(model, "float32")
        metrics = (
            json.loads(self.read_bytes("metrics.json"))
            if (self.path / "metrics.json").exists()
            else None
        )
        return saved, model, metrics


def logged_history(history_file: Path) -> dict[str, list[float]]:
    """A run's ``history.csv`` as ``{"loss": [...], "val_loss": [...], ...}``, one value
    per epoch (an epoch logged twice around a crash counts once, the later)."""
    if not history_file.exists():
        return {}
    with history_file.open(newline="") as f:
        rows = {int(row["epoch"]): row for row in csv.DictReader(f) if row.get("epoch")}
    history: dict[str, list[float]] = {}
    for epoch in sorted(rows):
        for name, value in rows[epoch].items():
            if name != "epoch":
                history.setdefault(name, []).append(float(value or "nan"))
    return history


def weights_digest(model: keras.Model) -> str:
    """SHA-256 of the model's weights: equal digests mean equal weights (e.g. on every
    worker of a distributed run)."""
    digest = hashlib.sha256()
    for weight in model.weights:
        digest.update(np.ascontiguousarray(keras.ops.convert_to_numpy(weight)).tobytes())
    return digest.hexdigest()


def training_record(
    model: keras.Model, history: dict, steps_per_epoch: int, tokens_per_epoch: int
) -> dict:
    """What a run's metrics say about its training (pops ``fit``'s ``seconds``,
    ``steps``, ``total_steps`` and ``precision`` from ``history``). A resumed run counts
    the steps and time of this attempt in the speeds, all steps in ``training_steps``."""
    seconds, steps = history.pop("seconds"), history.pop("steps")
    steps_per_second = steps / max(seconds, 1e-9)
    return {
        "training_seconds": seconds,
        "training_steps": history.pop("total_steps"),
        "precision": history.pop("precision"),
        "steps_per_epoch": steps_per_epoch,
        "steps_per_second": steps_per_second,
        "tokens_per_second": steps_per_second * tokens_per_epoch / steps_per_epoch,
        "parameters": model.count_params(),
        "weights_sha256": weights_digest(model),
    }


def epoch_size(dataset: tf.data.Dataset) -> tuple[int, int]:
    """``(batches, tokens)`` in one pass of a dataset of ``(inputs, targets)`` batches;
    tokens are the non-padding (non-zero) ids of all integer inputs."""

    def add(totals, batch):
        ids = [x for x in tf.nest.flatten(batch[0]) if x.dtype.is_integer]
        tokens = tf.add_n([tf.math.count_nonzero(x, dtype=tf.int64) for x in ids])
        return totals[0] + 1, totals[1] + tokens

    batches, tokens = dataset.reduce((np.int64(0), np.int64(0)), add)
    return int(batches), int(tokens)


def run_key(config, data) -> str:
    """``fit``'s ``key`` for a recipe: its config (a dataclass) and a digest of its
    training data (compared through ``repr``), so that only the same settings on the
    same data resume a checkpoint."""
    digest = hashlib.sha256(repr(data).encode()).hexdigest()
    return f"{config_lib.to_json(config)}|data {digest}"


def checkpoint_key(
    key: str, batch_size: int, steps_per_epoch: int, replicas: int, precision: str = "float32"
) -> str:
    """What a checkpoint must match to be resumed: the caller's ``key`` (``run_key``),
    the batch size, the epoch length, the number of replicas and the dtype policy."""
    return hashlib.sha256(
        f"{key}|batch {batch_size}|epoch {steps_per_epoch} steps|"
        f"{replicas} replicas|{precision}".encode()
    ).hexdigest()


def fit(
    model: keras.Model,
    make_batches: Callable[[int], tf.data.Dataset],
    validation,
    run: RunDirectory,
    *,
    batch_size: int,
    epochs: int,
    steps_per_epoch: int,
    monitor: str = "val_loss",
    mode: str = "min",
    patience: int = 2,
    checkpoint_every: int = CHECKPOINT_EVERY,
    key: str = "",
    strategy: tf.distribute.Strategy | None = None,
) -> dict:
    """Trains with early stopping and resumable checkpoints; ends holding the best
    validation epoch's weights.

    Training reads a stream of ``make_batches`` passes (seeded shuffles, so every pass's
    order is reproducible) that ends with the run's last step; an epoch is
    ``steps_per_epoch`` steps of ``batch_size`` examples. Every ``checkpoint_every``
    steps and at every epoch end the model, the optimizer and the position are saved
    under ``backup/``. If the run directory has such a checkpoint, training resumes from
    it: weights, optimizer state (including the step count that drives learning-rate
    schedules) and the data position are restored, the interrupted epoch runs only its
    remaining steps, and the run ends with the same epochs and steps as an uninterrupted
    one. Without a checkpoint the run starts over (old history and best weights are
    removed). The checkpoint stays after ``fit`` (evaluation and export may still fail);
    the caller removes it once the run is complete (``runner.training_session`` does).

    Callbacks: ModelCheckpoint of the best weights, early stopping that counts epochs
    before a resume, StopOnDivergence, CSVLogger, TensorBoard, TrainingCheckpoint and
    StopOnSignal: SIGINT or SIGTERM stops training at the next safe point with a checkpoint
    (a second signal stops at once), and raises ``Interrupted``. A run that starts over
    removes the TensorBoard logs of the attempt before, so that they never mix.

    Args:
        model: compiled (under ``strategy``'s scope when one is given).
        make_batches: one pass over the training data in batches of the given size.
        validation: the validation dataset.
        run: the run directory (``run.restore_from`` is where a resume reads from).
        batch_size: global batch size.
        epochs: the length of the run, in epochs.
        steps_per_epoch: the length of an epoch, in steps.
        monitor: the metric for early stopping and best-weights selection.
        mode: ``min`` or ``max``: which way ``monitor`` improves.
        patience: epochs without improvement before stopping.
        checkpoint_every: steps between mid-epoch checkpoints.
        key: what the run trains with (e.g. its configuration as JSON); a checkpoint
            made with another key, batch size, epoch length or replica count is not
            resumed.
        strategy: a ``tf.distribute`` strategy (default: the current one); with several
            replicas, call ``fit`` inside its scope.

    Returns:
        The per-epoch history of the whole run (``{"loss": [...], ...}``), with the
        ``seconds`` and ``steps`` this call trained and the run's ``total_steps``.

    Raises:
        Interrupted: on SIGINT or SIGTERM (the checkpoint resumes the run).
        NlpLstmError: if the loss became NaN or infinite (naming the epoch and step;
            the best weights of the epochs before stay in the run directory), or if
            the run directory's checkpoint is damaged or was made with other settings.
    """
    strategy = strategy or tf.distribute.get_strategy()
    precision = model.dtype_policy.name
    key = checkpoint_key(key, batch_size, steps_per_epoch, strategy.num_replicas_in_sync, precision)
    if strategy.num_replicas_in_sync > 1:
        build_before_fit(model, strategy, next(iter(make_batches(batch_size))))
    history_file = run.path / "history.csv"
    position = read_position(run.restore_from / "backup")
    if position and position.key != key:
        raise NlpLstmError(
            "this run directory holds a checkpoint of a run with other settings (config, "
            "batch size, data, replicas or precision); rerun with the same ones to resume, or "
            f"pass a new --run-dir (or delete {run.restore_from / 'backup'} to start this one "
            "over)",
            path=run.restore_from,
        )
    if position is None:  # starting over: nothing of an earlier attempt stays
        history_file.unlink(missing_ok=True)
        run.best_weights.unlink(missing_ok=True)
        shutil.rmtree(run.path / "logs", ignore_errors=True)
        epoch, step = 0, 0
    else:
        run.adopt(history_file.name, run.best_weights.relative_to(run.path))
        with strategy.scope():
            model.optimizer.build(model.trainable_variables)
        model.load_weights(position.weights)
        epoch, step = position.epoch, position.step
        print(f"resuming from {position.describe} ({position.weights})")
    earlier = logged(history_file, monitor, epochs=epoch)  # the epochs before a resume
    early_stopping = ResumableEarlyStopping(earlier, monitor, mode, patience)
    divergence = StopOnDivergence(steps_per_epoch)
    checkpoint = TrainingCheckpoint(run.path / "backup", steps_per_epoch, checkpoint_every, key)
    callbacks = [
        # Only an improvement on the epochs already done (before a resume) replaces the
        # best weights; a NaN never does.
        keras.callbacks.ModelCheckpoint(
            str(run.best_weights),
            monitor=monitor,
            mode=mode,
            save_best_only=True,
            save_weights_only=True,
            initial_value_threshold=best_of(earlier, mode) if earlier else None,
        ),
        early_stopping,
        divergence,
        keras.callbacks.CSVLogger(str(history_file), append=True),
        keras.callbacks.TensorBoard(str(run.path / "logs"), write_graph=False),
        checkpoint,
    ]
    terminal = sys.stdout.isatty()
    if not terminal:  # a log file: Keras prints one line per epoch, these in between
        callbacks.append(ProgressLines(steps_per_epoch, epochs))
    # The interrupted epoch first (only its remaining steps), then the whole ones; none
    # if early stopping had ended the run before it was interrupted.
    phases = [(epoch, epoch + 1, steps_per_epoch - step)] if step else []
    phases.append((epoch + 1 if step else epoch, epochs, steps_per_epoch))
    if early_stopping.exhausted():
        phases = []
    start, start_step = time.time(), epoch * steps_per_epoch + step
    with deferred_signals() as received:
        callbacks.append(StopOnSignal(received, checkpoint))
        for first, end, steps in phases:
            if first >= end:
                continue
            done = first * steps_per_epoch + steps_per_epoch - steps
            train = training_input(strategy, make_batches, batch_size, done, (end - first) * steps)
            model.fit(
                train,
                validation_data=validation,
                initial_epoch=first,
                epochs=end,
                steps_per_epoch=steps,
                callbacks=callbacks,
                shuffle=False,  # tf.data does
                verbose=1 if terminal else 2,
            )
            if model.stop_training:
                break
    seconds = time.time() - start
    if divergence.where:
        where = divergence.where
        kept = (
            f"the best weights so far are kept in {run.best_weights}"
            if run.best_weights.exists()
            else "no epoch finished before it"
        )
        raise NlpLstmError(
            f"training diverged: the loss became {where['loss']} at epoch {where['epoch']}, "
            f"step {where['step']}; stopped without exporting ({kept}). Lower --learning-rate "
            "(or --clipnorm) and train again",
            path=run.path,
        )
    total_steps = global_step(model)
    if run.best_weights.exists():
        model.load_weights(run.best_weights)
    set_model_policy(model, "float32")  # evaluated, saved and exported in float32
    return {
        **logged_history(history_file),
        "seconds": seconds,
        "steps": total_steps - start_step,
        "total_steps": total_steps,
        "precision": precision,
    }
