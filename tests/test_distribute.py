"""tf.distribute: strategy choice, input sharding, and real two-worker training."""

import csv
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from nlp_lstm import corpora
from nlp_lstm.callbacks import read_position
from nlp_lstm.data import read_labelled
from nlp_lstm.distribute import (
    is_chief,
    make_strategy,
    per_replica_batch_size,
    sharded_stream,
    writable_paths,
)
from nlp_lstm.errors import NlpLstmError

RECIPE = Path(__file__).resolve().parents[1] / "recipes" / "sentiment.py"


def numbers(batch_size: int) -> tf.data.Dataset:
    """One pass over the examples 0..39, shuffled the same way on every worker."""
    return tf.data.Dataset.range(40).shuffle(40, seed=7).batch(batch_size)


def pipeline_share(pipeline: int, pipelines: int, steps: int, skip_steps: int = 0) -> list[int]:
    context = tf.distribute.InputContext(
        num_input_pipelines=pipelines, input_pipeline_id=pipeline, num_replicas_in_sync=pipelines
    )
    stream = sharded_stream(numbers, 5, skip_steps, pipelines, context, steps)
    return [int(x) for batch in stream for x in batch]


def test_two_workers_see_every_example_once_per_pass():
    """Global batch 10 over 2 workers: 4 steps are one pass of 40 examples."""
    first, second = pipeline_share(0, 2, steps=4), pipeline_share(1, 2, steps=4)
    assert sorted(first + second) == list(range(40))
    assert len(first) == len(second) == 20


def test_a_resumed_stream_continues_where_the_run_stopped():
    whole = [pipeline_share(i, 2, steps=4) for i in (0, 1)]
    resumed = [pipeline_share(i, 2, steps=3, skip_steps=1) for i in (0, 1)]
    for pipeline in (0, 1):
        assert resumed[pipeline] == whole[pipeline][5:]


def test_a_stream_given_steps_ends_after_them():
    """Steps past a pass boundary, after a resume: the repeated pass's batches, then
    the end (so no pass is prepared past the last step)."""
    two_passes = [batch.numpy().tolist() for batch in numbers(5).repeat(2)]
    stream = sharded_stream(numbers, 5, 2, 1, tf.distribute.InputContext(), steps=10)
    assert [batch.numpy().tolist() for batch in stream] == two_passes[2:12]


def test_strategy_choices_and_their_errors(monkeypatch):
    assert make_strategy("default") is tf.distribute.get_strategy()
    assert make_strategy("auto").num_replicas_in_sync == 1  # no GPUs here
    with pytest.raises(NlpLstmError, match="unknown strategy 'ring'"):
        make_strategy("ring")
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(NlpLstmError, match="needs TF_CONFIG"):
        make_strategy("multi-worker")
    monkeypatch.setenv("TF_CONFIG", '{"cluster": {"worker": ["a:1"]}, "task": {"index": 0}}')
    with pytest.raises(NlpLstmError, match="TF_CONFIG is malformed"):
        make_strategy("multi-worker")


def test_batch_must_split_evenly_and_a_single_process_writes_its_own_paths(tmp_path):
    class TwoReplicas:
        num_replicas_in_sync = 2

    assert per_replica_batch_size(TwoReplicas(), 64) == 32
    with pytest.raises(NlpLstmError, match="does not split evenly over 2 replicas"):
        per_replica_batch_size(TwoReplicas(), 63)
    strategy = tf.distribute.get_strategy()
    assert is_chief(strategy)
    with writable_paths(strategy, tmp_path / "run", tmp_path / "export") as paths:
        assert paths == [tmp_path / "run", tmp_path / "export"]


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


class Cluster:
    """Two sentiment workers on 127.0.0.1 training together with ``multi-worker``."""

    def __init__(self, tmp_path: Path, epochs: int, checkpoint_every: int, extra=()):
        texts, labels = corpora.load("rotten_tomatoes", "train")
        self.data = tmp_path / "snippets.tsv"
        self.data.write_text(
            "text\tlabel\n"
            + "".join(f"{t}\t{label}\n" for t, label in zip(texts[:800], labels[:800]))
        )
        self.run_dir, self.export_dir = tmp_path / "run", tmp_path / "exports"
        self.scratch = [tmp_path / f"tmp-{i}" for i in (0, 1)]
        self.logs = [tmp_path / f"worker-{i}.log" for i in (0, 1)]
        self.args = [
            "--data",
            str(self.data),
            "--run-dir",
            str(self.run_dir),
            "--export-dir",
            str(self.export_dir),
            "--strategy",
            "multi-worker",
            "--checkpoint-every",
            str(checkpoint_every),
            "--epochs",
            str(epochs),
            "--patience",
            "100",
            "--batch_size",
            "16",
            "--vocabulary_size",
            "300",
            "--lstm_units",
            "16",
            "--embedding_dim",
            "16",
            *extra,
        ]

    def start(self) -> list[subprocess.Popen]:
        workers = [f"127.0.0.1:{port}" for port in free_ports(2)]
        processes = []
        for index in (0, 1):
            self.scratch[index].mkdir(exist_ok=True)
            env = {
                **os.environ,
                "TMPDIR": str(self.scratch[index]),
                "TF_CONFIG": json.dumps(
                    {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}
                ),
            }
            with self.logs[index].open("a") as log:
                processes.append(
                    subprocess.Popen(
                        [sys.executable, str(RECIPE), "train", *self.args],
                        env=env,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                    )
                )
        return processes

    def log(self, index: int) -> str:
        return self.logs[index].read_text()

    def digests(self) -> list[str]:
        return [re.findall(r"weights +sha256 (\w+)", self.log(i))[-1] for i in (0, 1)]


def wait(processes: list[subprocess.Popen], cluster: Cluster, timeout: float = 400) -> None:
    for index, process in enumerate(processes):
        try:
            process.wait(timeout)
        finally:
            process.kill()
        assert process.returncode == 0, cluster.log(index)[-3000:]


def history(run_dir: Path) -> list[dict]:
    with (run_dir / "history.csv").open() as f:
        return list(csv.DictReader(f))


def test_two_workers_train_resume_after_one_is_killed_and_the_chief_exports(tmp_path):
    """Two workers pretrain on 400 IMDb reviews, then train on the snippets; one is killed
    inside the second epoch; restarted, both resume from the last checkpoint and end as an
    uninterrupted run would, with identical weights and one export written by the chief."""
    reviews = read_labelled(corpora.reviews("imdb_reviews"))
    pretraining = tmp_path / "imdb.tsv"
    pretraining.write_text(
        "text\tlabel\n"
        + "".join(f"{t}\t{label}\n" for t, label in zip(reviews.texts[:400], reviews.labels[:400]))
    )
    cluster = Cluster(
        tmp_path, epochs=3, checkpoint_every=5, extra=["--pretrain-reviews", str(pretraining)]
    )
    processes = cluster.start()
    deadline = time.time() + 300
    while time.time() < deadline:
        position = read_position(cluster.run_dir / "backup")
        if position and position.epoch >= 1 and position.step > 0:  # inside epoch 2
            break
        assert all(p.poll() is None for p in processes), cluster.log(0)[-3000:]
        time.sleep(0.5)
    else:
        pytest.fail("no checkpoint after 300 s:\n" + cluster.log(0)[-3000:])
    processes[1].send_signal(signal.SIGKILL)
    processes[1].wait()
    try:  # the survivor cannot go on alone; a cluster manager would restart it
        processes[0].wait(timeout=60)
    except subprocess.TimeoutExpired:
        processes[0].kill()
    position = read_position(cluster.run_dir / "backup")
    assert not cluster.export_dir.exists() or not list(cluster.export_dir.iterdir())
    assert all("pretraining on the last 60 words of 400 reviews" in cluster.log(i) for i in (0, 1))

    shutil.rmtree(cluster.scratch[1])  # a restarted worker gets a fresh container
    wait(cluster.start(), cluster)
    for index in (0, 1):
        assert f"resuming from {position.describe}" in cluster.log(index)
    first, second = cluster.digests()
    assert first == second  # all-reduced gradients keep the replicas identical
    assert len(history(cluster.run_dir / "pretraining")) == 1
    rows = history(cluster.run_dir)
    assert [int(row["epoch"]) for row in rows] == [0, 1, 2]
    assert float(rows[-1]["loss"]) < float(rows[0]["loss"])
    metrics = json.loads((cluster.run_dir / "metrics.json").read_text())
    assert metrics["weights_sha256"] == first
    assert metrics["training_steps"] == 3 * metrics["steps_per_epoch"]  # as if uninterrupted
    assert np.isfinite(metrics["test"]["accuracy"])
    assert sorted(p.name for p in cluster.export_dir.iterdir()) == ["1"]
    assert not list(cluster.run_dir.glob("**/backup"))  # complete: every stage's removed
    # The other worker wrote only to temporary folders, and removed them.
    assert not any(cluster.scratch[1].iterdir())


MIRRORED = """
import json, sys
import numpy as np
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
import keras
from nlp_lstm.training import RunDirectory, fit

strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
x = np.random.default_rng(0).normal(size=(96, 3)).astype("float32")
y = x.sum(axis=1, keepdims=True)

def make_batches(size):
    data = tf.data.Dataset.from_tensor_slices((x, y))
    return data.shuffle(96, seed=1, reshuffle_each_iteration=True).batch(size)

with strategy.scope():
    keras.utils.set_random_seed(1)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="mse")
    history = fit(model, make_batches, make_batches(16), RunDirectory(sys.argv[1]), batch_size=16,
                  epochs=3, steps_per_epoch=6, patience=9, strategy=strategy)
print(json.dumps({"replicas": strategy.num_replicas_in_sync, "loss": history["loss"],
                  "steps": history["total_steps"]}))
"""


def test_mirrored_training_splits_each_batch_over_two_replicas(tmp_path):
    """Two logical CPUs stand in for two GPUs: one input pipeline feeds both replicas."""
    result = subprocess.run(
        [sys.executable, "-c", MIRRORED, str(tmp_path / "run")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["replicas"] == 2 and out["steps"] == 18
    assert out["loss"][-1] < out["loss"][0]
