"""Keras callbacks of the shared fit loop: mid-epoch checkpoints, resumable early
stopping, divergence, stopping on a signal, progress lines for logs."""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import os
import time
from pathlib import Path

import keras
import tensorflow as tf

from nlp_lstm.errors import Interrupted, NlpLstmError

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
    key: str  # what the run was trained with (see ``TrainingCheckpoint``)

    @property
    def describe(self) -> str:
        return f"epoch {self.epoch + 1}, step {self.step}"


def read_position(directory: Path) -> Position | None:
    """The last checkpointed :class:`Position` in ``directory``; ``None`` if there is none.

    Raises:
        NlpLstmError: if ``position.json`` exists but is unreadable or points to a
            missing weights file (never silently start over on a damaged checkpoint).
    """
    pointer = directory / POSITION_FILE
    if not pointer.exists():
        return None
    try:
        saved = json.loads(pointer.read_text())
        position = Position(
            int(saved["epoch"]), int(saved["step"]), directory / saved["weights"], str(saved["key"])
        )
    except (ValueError, KeyError, TypeError) as error:
        raise NlpLstmError(
            f"damaged checkpoint ({type(error).__name__}: {error}); delete "
            f"{directory} to train from the start",
            path=pointer,
        ) from None
    if not position.weights.exists():
        raise NlpLstmError(
            f"damaged checkpoint: {position.weights.name} is missing; delete "
            f"{directory} to train from the start",
            path=pointer,
        )
    return position


class TrainingCheckpoint(keras.callbacks.Callback):
    """Saves the model and optimizer variables with the position every ``every`` steps
    and at the end of every epoch, so a killed run resumes where it was.

    Each save writes ``step-<global step>.weights.h5`` under a temporary name, renames
    it into place, then atomically replaces ``position.json`` that points to it, and
    removes all but the last two: at any moment the folder holds a complete checkpoint,
    and a pointer read a moment ago still names an existing file.
    Nothing is saved once the loss is NaN or infinite. Put it after the callbacks that
    write an epoch's results, so a saved epoch end means those results are on disk.

    Args:
        directory: where to write.
        steps_per_epoch: steps in one epoch (positions are global step // this).
        every: steps between mid-epoch saves.
        key: identifies what the run trains with (configuration, steps per epoch,
            replicas); a resume with another key is refused.
    """

    def __init__(self, directory: Path, steps_per_epoch: int, every: int, key: str):
        super().__init__()
        self.directory, self.steps_per_epoch, self.every = Path(directory), steps_per_epoch, every
        self.key = key

    def on_train_batch_end(self, batch, logs=None):
        step = global_step(self.model)
        if step % self.every == 0 and step % self.steps_per_epoch and self.finite(logs):
            self.save(step)

    def on_epoch_end(self, epoch, logs=None):
        if self.finite(logs):
            self.save(global_step(self.model))

    @staticmethod
    def finite(logs) -> bool:
        return math.isfinite(float((logs or {}).get("loss", 0.0)))

    def save(self, global_step: int) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        name = f"step-{global_step}.weights.h5"
        partial = self.directory / f".partial-{name}"
        self.model.save_weights(partial)
        os.replace(partial, self.directory / name)
        epoch, step = divmod(global_step, self.steps_per_epoch)
        pointer = self.directory / f".{POSITION_FILE}.partial"
        pointer.write_text(
            json.dumps({"epoch": epoch, "step": step, "weights": name, "key": self.key})
        )
        os.replace(pointer, self.directory / POSITION_FILE)
        # Keep the previous file too: a reader that read the old pointer just before
        # the replace (another worker, a monitor) still finds the weights it names.
        saved = sorted(
            self.directory.glob("step-*.weights.h5"),
            key=lambda path: int(path.name.split("-")[1].split(".")[0]),
        )
        for old in saved[:-2]:
            old.unlink(missing_ok=True)


def logged(history_file: Path, monitor: str, epochs: int | None = None) -> list[float]:
    """``monitor``'s value per epoch in a run's ``history.csv`` (NaN where missing), for
    epochs ``0 .. epochs - 1`` (all without ``epochs``); an epoch logged twice (around
    a crash) counts once, the later."""
    if not history_file.exists():
        return []
    with history_file.open(newline="") as f:
        rows = {int(row["epoch"]): row for row in csv.DictReader(f) if row.get("epoch")}
    return [
        float(rows[epoch].get(monitor) or "nan")
        for epoch in sorted(rows)
        if epochs is None or epoch < epochs
    ]


def best_of(values: list[float], mode: str) -> float:
    """The best finite value (``inf``/``-inf`` if none)."""
    finite = [v for v in values if math.isfinite(v)]
    return min(finite, default=math.inf) if mode == "min" else max(finite, default=-math.inf)


def epochs_since_best(values: list[float], mode: str) -> int:
    """Epochs after the first occurrence of the best finite value (all, if none)."""
    best = best_of(values, mode)
    return len(values) - 1 - values.index(best) if math.isfinite(best) else len(values)


class ResumableEarlyStopping(keras.callbacks.EarlyStopping):
    """``EarlyStopping`` whose patience counts the epochs before a resume, and whose
    state carries over between the ``fit`` calls of one run.

    Args:
        earlier: the monitored value of every epoch before the resume (``[]`` when
            starting afresh); NaN counts as an epoch without improvement.
        monitor: as for ``EarlyStopping``.
        mode: as for ``EarlyStopping``.
        patience: as for ``EarlyStopping``.
    """

    def __init__(self, earlier: list[float], monitor: str, mode: str, patience: int):
        super().__init__(monitor=monitor, mode=mode, patience=patience)
        self.earlier, self.started = earlier, False

    def on_train_begin(self, logs=None):
        if self.started:  # a later fit call of the same run: keep counting
            return
        super().on_train_begin(logs)
        self.started = True
        best = best_of(self.earlier, self.mode)
        if math.isfinite(best):
            self.best, self.wait = best, epochs_since_best(self.earlier, self.mode)

    def exhausted(self) -> bool:
        """Whether the epochs before the resume had already stopped the run."""
        return len(self.earlier) > 1 and epochs_since_best(self.earlier, self.mode) >= self.patience


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


class StopOnSignal(keras.callbacks.Callback):
    """Stops training at the first safe point after a signal (see ``errors.deferred_signals``)
    and raises ``Interrupted``: at the end of a training step, after writing a checkpoint
    there, or, for the last step of an epoch, once the epoch's validation, logs and
    checkpoint are written. Put it after ``checkpoint``.

    Args:
        received: the signals received so far (filled by ``errors.deferred_signals``).
        checkpoint: the run's checkpoint callback.
    """

    def __init__(self, received: list[int], checkpoint: TrainingCheckpoint):
        super().__init__()
        self.received, self.checkpoint = received, checkpoint

    def on_train_batch_end(self, batch, logs=None):
        step = global_step(self.model)
        if self.received and step % self.checkpoint.steps_per_epoch:
            if self.checkpoint.finite(logs):
                self.checkpoint.save(step)
            raise Interrupted(self.received[0])

    def on_epoch_end(self, epoch, logs=None):
        if self.received:
            raise Interrupted(self.received[0])


class ProgressLines(keras.callbacks.Callback):
    """Prints a line of progress every ``every`` seconds of training, for output that is
    not a terminal: there Keras prints one line per epoch, and a long epoch says nothing.

    Args:
        steps_per_epoch: steps in a whole epoch.
        epochs: epochs of the whole run.
        every: seconds between two lines.
        clock: seconds since some fixed point (``time.monotonic``; tests pass their own).

    A line reads ``epoch 3/8, step 600/1958, 28 % of training done, loss 3.2101, about
    31 min left``; the loss is the epoch's mean so far, as in Keras's own lines.
    """

    def __init__(
        self, steps_per_epoch: int, epochs: int, every: float = 60.0, clock=time.monotonic
    ):
        super().__init__()
        self.steps_per_epoch, self.epochs = steps_per_epoch, epochs
        self.every, self.clock = every, clock

    def on_train_begin(self, logs=None):
        self.started = self.last = self.clock()
        self.first_step = global_step(self.model)

    def on_train_batch_end(self, batch, logs=None):
        now = self.clock()
        if now - self.last < self.every:
            return
        self.last = now
        step = global_step(self.model)
        epoch, in_epoch = divmod(step - 1, self.steps_per_epoch)
        total = self.epochs * self.steps_per_epoch
        rate = (step - self.first_step) / max(now - self.started, 1e-9)  # steps per second
        left = (total - step) / rate if rate else float("inf")
        loss = (logs or {}).get("loss")
        print(
            f"epoch {epoch + 1}/{self.epochs}, step {in_epoch + 1}/{self.steps_per_epoch}, "
            f"{100 * step // total} % of training done"
            + (f", loss {float(loss):.4f}" if loss is not None else "")
            + f", about {minutes(left)} left",
            flush=True,
        )


def minutes(seconds: float) -> str:
    """A duration rounded for people: ``'40 s'``, ``'5 min'``, ``'2 h 10 min'``."""
    if not math.isfinite(seconds):
        return "an unknown time"
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    hours, rest = divmod(round(seconds / 60), 60)
    return f"{hours} h {rest} min"
