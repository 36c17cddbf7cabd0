"""The shared fit loop: divergence, resuming mid-epoch with optimizer and data position,
also after a real training process is killed."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from nlp_lstm import corpora
from nlp_lstm.callbacks import ProgressLines, best_of, logged, minutes, read_position
from nlp_lstm.data import read_labelled
from nlp_lstm.errors import NlpLstmError
from nlp_lstm.training import RunDirectory, checkpoint_key, epoch_size, fit, logged_history, run_key

RECIPES = Path(__file__).resolve().parents[1] / "recipes"


def regression(poison_from_batch: int | None = None, batches: int = 6, shuffle: bool = False):
    """A maker of ``batches`` batches (of the given size, default 8) of ``x -> sum(x)``;
    from batch ``poison_from_batch`` on (of size 8), inputs are NaN."""
    x = np.random.default_rng(0).normal(size=(8 * batches, 3)).astype("float32")
    if poison_from_batch is not None:
        x[8 * (poison_from_batch - 1) :] = np.nan
    y = x.sum(axis=1, keepdims=True)

    def make_batches(batch_size: int = 8) -> tf.data.Dataset:
        dataset = tf.data.Dataset.from_tensor_slices((x, y))
        if shuffle:
            dataset = dataset.shuffle(len(x), seed=3, reshuffle_each_iteration=True)
        return dataset.batch(batch_size)

    return make_batches


def small_model():
    keras.utils.set_random_seed(1)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    return model


def train(model, make_batches, run, epochs=3, steps_per_epoch=6, **kwargs):
    return fit(
        model,
        make_batches,
        make_batches(),
        run,
        batch_size=8,
        epochs=epochs,
        steps_per_epoch=steps_per_epoch,
        patience=10,
        **kwargs,
    )


def test_a_nan_loss_stops_training_naming_epoch_and_step(tmp_path):
    """Epoch 1 (batches 1-6) is clean, epoch 2 meets NaN inputs at its 4th step."""
    run = RunDirectory(tmp_path / "run")
    weights_after_epoch_1 = []

    class Remember(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 0:
                weights_after_epoch_1.extend(w.copy() for w in self.model.get_weights())

    model = small_model()
    original_fit = model.fit
    model.fit = lambda *a, callbacks=(), **k: original_fit(
        *a, callbacks=[*callbacks, Remember()], **k
    )
    with pytest.raises(NlpLstmError) as raised:
        fit(
            model,
            regression(poison_from_batch=10, batches=18),
            regression()(),
            run,
            batch_size=8,
            epochs=3,
            steps_per_epoch=6,
        )
    message = str(raised.value)
    assert "loss became nan at epoch 2, step 4" in message
    assert f"best weights so far are kept in {run.best_weights}" in message
    kept = small_model()
    kept.load_weights(run.best_weights)
    for actual, expected in zip(kept.get_weights(), weights_after_epoch_1):
        np.testing.assert_allclose(actual, expected)
    position = read_position(run.path / "backup")
    assert (position.epoch, position.step) == (1, 0)  # the NaN steps were never checkpointed


def test_a_clean_run_returns_its_history_and_keeps_its_checkpoint_for_the_caller(tmp_path):
    """Evaluation and export come after fit; until they succeed, a rerun resumes at the end."""
    run = RunDirectory(tmp_path / "run")
    history = train(small_model(), regression(), run, epochs=2, checkpoint_every=4)
    assert len(history["loss"]) == 2 and history["seconds"] > 0
    assert history["steps"] == history["total_steps"] == 12
    position = read_position(run.path / "backup")
    assert (position.epoch, position.step) == (2, 0)
    # Saved at steps 4, 6, 8 and 12; the one before the latest stays for a racing reader.
    assert sorted(p.name for p in (run.path / "backup").glob("step-*")) == [
        "step-12.weights.h5",
        "step-8.weights.h5",
    ]
    again = train(small_model(), regression(), run, epochs=2)
    assert again["steps"] == 0 and len(again["loss"]) == 2


def test_a_checkpoint_of_other_settings_or_a_damaged_one_is_refused(tmp_path):
    run = RunDirectory(tmp_path / "run")
    model = small_model()
    model.fit = lambda *a, callbacks=(), **k: keras.Model.fit(
        model, *a, callbacks=[*callbacks, Interrupt(after=8)], **k
    )
    with pytest.raises(KeyboardInterrupt):
        train(model, regression(), run, key="lr 0.01")
    with pytest.raises(NlpLstmError, match="checkpoint of a run with other settings"):
        train(small_model(), regression(), run, key="lr 0.001")
    (run.path / "backup" / "position.json").write_text("{truncated")
    with pytest.raises(NlpLstmError, match="damaged checkpoint"):
        train(small_model(), regression(), run, key="lr 0.01")


def test_the_run_key_tells_apart_configs_and_training_data():
    from nlp_lstm.data.readers import ParallelExamples
    from nlp_lstm.recipes.translation.config import TranslationConfig

    pairs = ParallelExamples(["I see."], ["Ich sehe."])
    key = run_key(TranslationConfig(), pairs)
    assert key == run_key(TranslationConfig(), ParallelExamples(["I see."], ["Ich sehe."]))
    assert key != run_key(TranslationConfig(), ParallelExamples(["I see."], ["Ich sah."]))
    assert key != run_key(TranslationConfig(epochs=6), pairs)


class Interrupt(keras.callbacks.Callback):
    """Raises after ``after`` training steps, as a kill would stop the process."""

    def __init__(self, after: int):
        super().__init__()
        self.after = after

    def on_train_batch_end(self, batch, logs=None):
        if int(self.model.optimizer.iterations) == self.after:
            raise KeyboardInterrupt


def test_an_interrupted_run_resumes_mid_epoch_with_optimizer_and_data_position(tmp_path):
    """Killed 3 steps into epoch 2 (last checkpoint after step 8), the rerun trains only
    the 4 remaining steps of epoch 2, on the batches an uninterrupted run would have
    seen, from the checkpointed weights and Adam moments; the run ends after 3 epochs
    and 18 steps."""
    make_batches = regression(shuffle=True)
    run = RunDirectory(tmp_path / "run")
    model = small_model()
    original_fit = model.fit
    model.fit = lambda *a, callbacks=(), **k: original_fit(
        *a, callbacks=[*callbacks, Interrupt(after=9)], **k
    )
    with pytest.raises(KeyboardInterrupt):
        train(model, make_batches, run, checkpoint_every=4)
    position = read_position(run.path / "backup")
    assert (position.epoch, position.step) == (1, 2)  # steps 7-8 done, saved at step 8
    checkpointed = small_model()
    checkpointed.optimizer.build(checkpointed.trainable_variables)
    checkpointed.load_weights(position.weights)
    assert int(checkpointed.optimizer.iterations) == 8
    assert any(np.any(v.numpy()) for v in checkpointed.optimizer.variables if "momentum" in v.path)

    # The batches an uninterrupted run takes at steps 9-18: the 2nd pass from its 3rd batch on.
    stream = [x.numpy() for x, _ in make_batches().repeat().take(18)]
    consumed = []

    class Inputs(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            consumed.append(int(self.model.optimizer.iterations))

    resumed = small_model()
    original = resumed.fit

    def fit_recording(train_data, *a, callbacks=(), **k):
        batches = [x.numpy() for x, _ in train_data.take(k["steps_per_epoch"])]
        np.testing.assert_array_equal(
            batches[0], stream[k["initial_epoch"] * 6 + 6 - k["steps_per_epoch"]]
        )
        return original(train_data, *a, callbacks=[*callbacks, Inputs()], **k)

    resumed.fit = fit_recording
    history = train(resumed, make_batches, run, checkpoint_every=4)
    assert consumed == list(range(8, 18))  # 10 more steps: 4 in epoch 2, 6 in epoch 3
    assert int(resumed.optimizer.iterations) == 18
    assert len(history["loss"]) == 3  # epoch 1 from the first attempt, 2 and 3 from this one


def interrupted_after_three_epochs(run: RunDirectory) -> keras.Model:
    """A run directory as left by a kill right after epoch 3 (val_loss 0.5, 0.6, 0.7)."""
    (run.path / "history.csv").write_text("epoch,loss,val_loss\n0,1.0,0.5\n1,0.9,0.6\n2,0.8,0.7\n")
    model = small_model()
    model.optimizer.build(model.trainable_variables)
    model.optimizer.iterations.assign(18)
    model.save_weights(run.path / "backup" / "step-18.weights.h5")
    (run.path / "backup" / "position.json").write_text(
        json.dumps(
            {
                "epoch": 3,
                "step": 0,
                "weights": "step-18.weights.h5",
                "key": checkpoint_key("", batch_size=8, steps_per_epoch=6, replicas=1),
            }
        )
    )
    return small_model()


@pytest.mark.parametrize("patience, epochs_logged", [(3, 4), (2, 3)])
def test_early_stopping_counts_the_epochs_before_a_resume(tmp_path, patience, epochs_logged):
    """Epochs 2 and 3 did not improve on epoch 1: with patience 3 one more bad epoch
    stops the run; with patience 2 it had already stopped, and nothing is trained."""
    run = RunDirectory(tmp_path / "run")
    model = interrupted_after_three_epochs(run)
    history = fit(
        model,
        regression(),
        regression()(),
        run,
        batch_size=8,
        epochs=20,
        steps_per_epoch=6,
        patience=patience,
    )
    assert len(history["loss"]) == epochs_logged
    assert history["steps"] == 6 * (epochs_logged - 3)


def test_epoch_size_and_logged_history(tmp_path):
    assert epoch_size(
        tf.data.Dataset.from_tensor_slices(([[3, 4, 0], [5, 0, 0], [6, 7, 8]], [0, 1, 0])).batch(2)
    ) == (2, 6)
    history = tmp_path / "history.csv"
    history.write_text("epoch,loss,val_loss\n0,3,2.5\n1,2,1.5\n1,2.1,1.4\n")
    assert logged_history(history) == {"loss": [3.0, 2.1], "val_loss": [2.5, 1.4]}


def test_progress_lines_come_every_minute_with_the_step_and_the_time_left(capsys):
    """A clock that advances 30 s a step: lines after steps 2, 4 and 6 of 2 epochs x 3."""
    ticks = iter(range(0, 1000, 30))
    model = small_model()
    progress = ProgressLines(steps_per_epoch=3, epochs=2, every=60, clock=lambda: next(ticks))
    model.fit(regression()(), epochs=2, steps_per_epoch=3, callbacks=[progress], verbose=0)
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(", loss")[0] for line in lines] == [
        "epoch 1/2, step 2/3, 33 % of training done",
        "epoch 2/2, step 1/3, 66 % of training done",
        "epoch 2/2, step 3/3, 100 % of training done",
    ]
    assert lines[0].endswith("about 2 min left")  # 4 steps at 30 s
    assert lines[-1].endswith("about 0 s left")
    assert [minutes(s) for s in (42, 300, 7800, float("inf"))] == [
        "42 s",
        "5 min",
        "2 h 10 min",
        "an unknown time",
    ]


def test_the_history_of_a_resumed_run_counts_each_epoch_once(tmp_path):
    history = tmp_path / "history.csv"
    assert logged(history, "val_loss") == [] and best_of([], "min") == float("inf")
    history.write_text(
        "epoch,loss,val_loss,val_accuracy\n0,3,2.5,0.6\n1,2,1.5,0.7\n2,nan,nan,0.5\n2,2,1.7,0.65\n"
    )
    assert logged(history, "val_loss") == [2.5, 1.5, 1.7]
    assert logged(history, "val_loss", epochs=2) == [2.5, 1.5]
    assert best_of(logged(history, "val_accuracy"), "max") == 0.7
    assert best_of([float("nan"), 3.0], "min") == 3.0


def test_a_training_process_killed_mid_epoch_resumes_to_the_same_length(tmp_path):
    """``kill -9`` a real sentiment training run inside the 2nd epoch of its pretraining
    stage, then inside the 2nd epoch of its main stage; rerunning the same command
    resumes each time from the last checkpoint and ends with as many epochs and steps as
    an uninterrupted run, writing nowhere but the folders it was given."""
    texts, labels = corpora.load("rotten_tomatoes", "train")
    (tmp_path / "snippets.tsv").write_text(
        "text\tlabel\n" + "".join(f"{t}\t{label}\n" for t, label in zip(texts[:800], labels[:800]))
    )
    imdb = read_labelled(corpora.reviews("imdb_reviews"))
    (tmp_path / "imdb.tsv").write_text(
        "text\tlabel\n"
        + "".join(f"{t}\t{label}\n" for t, label in zip(imdb.texts[:320], imdb.labels[:320]))
    )
    command = [
        sys.executable,
        str(RECIPES / "sentiment.py"),
        "train",
        "--data",
        "snippets.tsv",
        "--run-dir",
        "run",
        "--export-dir",
        "exports",
        "--checkpoint-every",
        "5",
        "--epochs",
        "3",
        "--patience",
        "9",
        "--batch-size",
        "16",
        "--vocabulary-size",
        "300",
        "--lstm-units",
        "16",
        "--embedding-dim",
        "16",
        "--pretrain-reviews",
        "imdb.tsv",
        "--pretrain-epochs",
        "2",
        "--adversarial-epsilon",
        "0.02",
    ]  # the full preset's stages and training step

    def kill_inside_second_epoch(stage: Path):
        log = tmp_path.parent / f"{tmp_path.name}-{stage.name}.log"
        with log.open("w") as out:
            process = subprocess.Popen(
                command,
                cwd=tmp_path,
                stdout=out,
                stderr=subprocess.DEVNULL,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        deadline = time.time() + 300
        while (position := read_position(stage / "backup")) is None or (
            position.epoch,
            position.step,
        ) < (1, 1):
            assert process.poll() is None and time.time() < deadline, "no mid-epoch checkpoint"
            time.sleep(0.2)
        process.send_signal(signal.SIGKILL)
        process.wait()
        output = log.read_text()
        assert not (tmp_path / "exports").exists() or not any((tmp_path / "exports").iterdir())
        return read_position(stage / "backup"), output

    run = tmp_path / "run"
    in_pretraining, _ = kill_inside_second_epoch(run / "pretraining")
    in_training, output = kill_inside_second_epoch(run)
    assert f"resuming from {in_pretraining.describe}" in output
    assert "reusing" in output and "sentencepiece.model" in output
    assert len(logged_history(run / "pretraining" / "history.csv")["loss"]) == 2

    last = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert last.returncode == 0, last.stderr[-3000:]
    assert f"resuming from {in_training.describe}" in last.stdout
    assert "pretraining on" not in last.stdout  # the main checkpoint holds its result
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["training_steps"] == 3 * metrics["steps_per_epoch"]
    assert len(logged_history(run / "history.csv")["loss"]) == 3
    assert len(logged_history(run / "pretraining" / "history.csv")["loss"]) == 2
    assert sorted(p.name for p in (tmp_path / "exports").iterdir()) == ["1"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "exports",
        "imdb.tsv",
        "run",
        "snippets.tsv",
    ]
    assert not list(run.glob("**/backup"))  # complete: a rerun starts over
