"""tf.distribute for the recipes: choosing a strategy, sharding input, who writes files.

``--strategy`` picks one of:

- ``default``: one device (TensorFlow's default strategy);
- ``mirrored``: ``tf.distribute.MirroredStrategy`` over the local GPUs;
- ``multi-worker``: ``tf.distribute.MultiWorkerMirroredStrategy``, one process per
  worker, the cluster described by the ``TF_CONFIG`` environment variable;
- ``auto``: ``multi-worker`` when ``TF_CONFIG`` describes several tasks, else
  ``mirrored`` when several GPUs are visible, else ``default``.

In every case ``batch_size`` is the global batch: each step consumes that many
examples in all, split evenly over the replicas. Input is sharded by data: every
worker builds the same seeded stream of per-replica batches and keeps every n-th
one (``tf.data.Dataset.shard``), so within a pass no example reaches two replicas.
The chief (``chief`` task, else worker 0) writes the run directory and the export;
the other workers do the same work but write to temporary folders that are deleted
afterwards, as TensorFlow's multi-worker guide prescribes.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import tensorflow as tf

from nlp_lstm.config import STRATEGIES
from nlp_lstm.errors import NlpLstmError


def cluster_spec() -> dict:
    """The parsed ``TF_CONFIG`` (``{}`` when unset).

    Raises:
        NlpLstmError: if ``TF_CONFIG`` is not JSON with a ``cluster`` and a ``task``.
    """
    raw = os.environ.get("TF_CONFIG", "")
    if not raw.strip():
        return {}
    try:
        spec = json.loads(raw)
        task = spec["task"]
        workers = spec["cluster"][task["type"]]
        if not 0 <= int(task["index"]) < len(workers):
            raise IndexError(task["index"])
    except (ValueError, KeyError, TypeError, IndexError) as error:
        raise NlpLstmError(
            f"TF_CONFIG is malformed ({type(error).__name__}: {error}); expected "
            '{"cluster": {"worker": ["host:port", ...]}, "task": {"type": "worker", '
            '"index": 0}}'
        ) from None
    return spec


def make_strategy(name: str) -> tf.distribute.Strategy:
    """The ``tf.distribute`` strategy called ``name`` (see the module docstring).

    Create it first thing: ``MultiWorkerMirroredStrategy`` must exist before any
    other TensorFlow work in the process.

    Raises:
        NlpLstmError: for an unknown name, or ``multi-worker`` without a valid ``TF_CONFIG``.
    """
    if name not in STRATEGIES:
        raise NlpLstmError(f"unknown strategy {name!r}; choose from {', '.join(STRATEGIES)}")
    if name == "auto":
        tasks = sum(len(hosts) for hosts in cluster_spec().get("cluster", {}).values())
        if tasks > 1:
            name = "multi-worker"
        else:
            name = "mirrored" if len(tf.config.list_physical_devices("GPU")) > 1 else "default"
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if not cluster_spec():
        raise NlpLstmError(
            "--strategy multi-worker needs TF_CONFIG describing the cluster "
            "and this worker (see the README's distributed training section)"
        )
    return tf.distribute.MultiWorkerMirroredStrategy()


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """Whether this process writes the run directory and the export."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return True
    if resolver.task_type == "chief":
        return True
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    return resolver.task_type == "worker" and resolver.task_id == 0 and not has_chief


@contextlib.contextmanager
def writable_paths(strategy: tf.distribute.Strategy, *paths: Path) -> Iterator[list[Path]]:
    """``paths`` on the chief; fresh temporary folders elsewhere (removed on exit).

    Every worker writes what the chief writes (saving can take part in collective
    operations), but only the chief's files are kept.
    """
    if is_chief(strategy):
        yield list(paths)
        return
    scratch = Path(tempfile.mkdtemp(prefix="nlp-lstm-worker-"))
    try:
        yield [scratch / f"{index}-{path.name}" for index, path in enumerate(paths)]
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def per_replica_batch_size(strategy: tf.distribute.Strategy, global_batch_size: int) -> int:
    """``global_batch_size`` split evenly over the replicas.

    Raises:
        NlpLstmError: if it does not divide evenly.
    """
    replicas = strategy.num_replicas_in_sync
    if global_batch_size % replicas:
        raise NlpLstmError(
            f"batch_size {global_batch_size} does not split evenly over "
            f"{replicas} replicas; choose a multiple of {replicas}"
        )
    return global_batch_size // replicas


def sharded_stream(
    make_batches: Callable[[int], tf.data.Dataset],
    per_replica_batch: int,
    skip_steps: int,
    replicas: int,
    context: tf.distribute.InputContext,
    steps: int,
) -> tf.data.Dataset:
    """One input pipeline's share of the training stream.

    The stream is ``make_batches(per_replica_batch)`` repeated (a seeded shuffle
    makes every pass's order the same on every worker), started after
    ``skip_steps`` global steps and ended after ``steps`` more; pipeline ``i`` of
    ``n`` keeps batches ``i, i + n, ...``. Ending it where training ends keeps the
    pipeline from preparing a pass that no step will take (a whole-split shuffle
    fills its buffer before the pass's first batch).

    Args:
        make_batches: one pass over the training data, in batches of the given size.
        per_replica_batch: examples per batch and replica.
        skip_steps: global steps already trained (resuming mid-run).
        replicas: replicas in sync (each global step takes one batch per replica).
        context: which pipeline this is, and how many there are.
        steps: global steps to serve.

    Returns:
        The pipeline's dataset of per-replica batches.
    """
    stream = (
        make_batches(per_replica_batch).repeat().skip(skip_steps * replicas).take(steps * replicas)
    )
    if context.num_input_pipelines > 1:
        stream = stream.shard(context.num_input_pipelines, context.input_pipeline_id)
    return stream.prefetch(tf.data.AUTOTUNE)


def training_input(
    strategy: tf.distribute.Strategy,
    make_batches: Callable[[int], tf.data.Dataset],
    global_batch_size: int,
    skip_steps: int,
    steps: int,
):
    """The training input for ``model.fit`` under ``strategy``: ``steps`` global steps
    after the ``skip_steps`` already trained.

    With one replica this is a plain ``tf.data.Dataset``; with several, a distributed
    dataset whose pipelines each build :func:`sharded_stream`.
    """
    per_replica = per_replica_batch_size(strategy, global_batch_size)
    replicas = strategy.num_replicas_in_sync
    if replicas == 1:
        return sharded_stream(
            make_batches, per_replica, skip_steps, 1, tf.distribute.InputContext(), steps
        )
    return strategy.distribute_datasets_from_function(
        lambda context: sharded_stream(
            make_batches, per_replica, skip_steps, replicas, context, steps
        )
    )


def build_before_fit(model, strategy: tf.distribute.Strategy, batch) -> None:
    """Builds ``model``'s variables, loss, metrics and optimizer under ``strategy`` from
    one local ``batch``, so that ``fit`` and ``evaluate`` need not build them.

    Works around Keras 3 (3.15), whose ``fit`` under a tf.distribute strategy first
    all-reduces a data batch across the replicas to build the model
    (``Trainer._maybe_symbolic_build``): ``MultiWorkerMirroredStrategy`` cannot reduce
    an ``(inputs, targets)`` structure, and batches of different lengths (bucketing)
    could not be reduced anyway. Afterwards the model takes its strategy from the
    scope it runs in, so call ``fit`` inside ``strategy.scope()``.
    """
    with strategy.scope():
        model._symbolic_build(data_batch=batch)
    model._distribute_strategy = None  # skip the reduce; Keras uses the strategy in scope
    if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        _reduce_step_logs_over_workers()


def _reduce_step_logs_over_workers() -> None:
    """Lets Keras 3 (3.15) ``fit`` run under ``MultiWorkerMirroredStrategy``.

    Keras averages each step's logs (loss, metrics) over the workers with
    ``strategy.reduce("MEAN", value, axis=0)``, which fails on scalars
    (tensorflow/tensorflow#72388), and ignores ``Model.distribute_reduction_method``
    there. This replaces that helper with one that averages scalars over all
    replicas (``axis=None``), so every worker sees the same values and stops at the
    same step; everything else goes to the original.
    """
    from keras.src.backend.tensorflow import trainer

    original = getattr(trainer.reduce_per_replica, "keras_original", trainer.reduce_per_replica)

    def reduce_per_replica(values, strategy, reduction):
        if reduction in ("auto", "mean") and trainer._collective_all_reduce_multi_worker(strategy):
            return tf.nest.map_structure(
                lambda v: (
                    strategy.reduce("MEAN", v, axis=None)
                    if isinstance(v, tf.distribute.DistributedValues)
                    else v
                ),
                values,
            )
        return original(values, strategy, reduction)

    reduce_per_replica.keras_original = original
    trainer.reduce_per_replica = reduce_per_replica
