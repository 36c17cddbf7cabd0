#!/usr/bin/env python3
"""Where one training step's time goes, ours or the PyTorch peer's: one JSON line.

Profiles ``--steps`` training steps of the language model at the PyTorch comparison's
shape (``bench/training_speed.py``'s defaults: vocabulary 80, embedding 64, 2 x LSTM
512, sequences of 100, batch 64, Adam) after ``--warmup`` untimed ones, and splits the
mean step into:

- ``matrix``: matrix products (``MatMul`` and its oneDNN forms; PyTorch ``mm``/``addmm``);
- ``elementwise``: gate arithmetic and the other elementwise ops (sigmoid, tanh, their
  gradients, products, sums, casts, splits, concatenations);
- ``loop``: the time loop's own ops (``While``, tensor-list reads and writes);
- ``optimizer``: Adam's update;
- ``input``: waiting for the next batch;
- ``other``: everything else (loss, embedding lookup, reductions, copies);
- ``idle``: step time in which no op ran, the cost of dispatching ops one by one.

Op times are summed over both cores' threads, so the shares can exceed the step's wall
time when ops run in parallel; ``idle`` is measured on the wall clock. With
``--framework keras`` the TensorFlow profiler traces the steps (host plane of its
XSpace); with ``--framework torch`` (the ``bench`` extra) the PyTorch profiler does, and
its fused oneDNN LSTM (``mkldnn_rnn_layer``, matrix and gate work in one kernel) is its
own share, ``fused_lstm``, as is ours (``OnednnLstm``, ``OnednnLstmGrad``); any XLA
computation of ours is ``compiled_loop``.

    .venv/bin/python bench/step_profile.py --framework keras --precision bfloat16
    .venv/bin/python bench/step_profile.py --framework torch --precision bfloat16
"""

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from timing import add_shape_arguments, report

MATRIX = ("MatMul", "BatchMatMul", "Einsum", "mm", "addmm", "bmm", "linear")
ELEMENTWISE = (
    "Sigmoid", "Tanh", "Mul", "AddV2", "Add", "Sub", "Neg", "Cast", "Split", "SplitV",
    "ConcatV2", "SigmoidGrad", "TanhGrad", "Square", "Select", "SelectV2", "Maximum",
    "sigmoid", "tanh", "mul", "add", "sub", "to", "copy_", "cat", "split", "chunk",
    "sigmoid_backward", "tanh_backward", "add_", "mul_",
)  # fmt: skip
LOOP = (
    "While", "StatelessWhile", "TensorListGetItem", "TensorListSetItem",
    "TensorListFromTensor", "TensorListStack", "TensorListReserve", "TensorListLength",
    "TensorListElementShape", "Less", "LessEqual", "Identity", "Enter", "Exit", "Merge",
    "Switch", "NextIteration", "LoopCond", "LogicalAnd", "GreaterEqual",
)  # fmt: skip
INPUT = ("IteratorGetNext", "IteratorGetNextAsOptional", "OptionalGetValue", "OptionalHasValue")
SHARES = (
    "matrix",
    "fused_lstm",
    "compiled_loop",
    "elementwise",
    "loop",
    "optimizer",
    "input",
    "other",
)


def share(op_name: str, op_type: str) -> str:
    """The share an op's time counts in, from its name (scope) and type."""
    base = op_type.split("::")[-1].lstrip("_").removeprefix("Mkl").removeprefix("Native")
    lowered = op_name.lower()
    if "adam" in lowered or "optimizer" in lowered or base.startswith("ResourceApply"):
        return "optimizer"
    if "rnn_layer" in base or base in (
        "lstm",
        "_thnn_fused_lstm_cell",
        "OnednnLstm",
        "OnednnLstmGrad",
    ):
        return "fused_lstm"
    if base.removeprefix("Fused") in MATRIX or base.startswith("BatchMatMul"):
        return "matrix"
    if base in INPUT:
        return "input"
    if base in LOOP:
        return "loop"
    if base in ELEMENTWISE:
        return "elementwise"
    return "other"


def covered(intervals: list[tuple[float, float]]) -> float:
    """Wall time during which at least one of ``intervals`` ran."""
    total, end = 0.0, float("-inf")
    for start, stop in sorted(intervals):
        if stop > end:
            total += stop - max(start, end)
            end = stop
    return total


def keras_profile(args) -> tuple[dict, float]:
    """Per-step seconds by share, and the mean step's wall seconds, of our model."""
    import keras
    import tensorflow as tf
    from tensorflow.tsl.profiler.protobuf import xplane_pb2
    from training_speed import batches, build

    from nlp_lstm.precision import set_precision

    set_precision(args.precision)
    keras.utils.set_random_seed(0)
    model, loss = build(args)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=loss)
    data = batches(args, 8)
    model.fit(data, steps_per_epoch=args.warmup, epochs=1, verbose=0)  # traces, warms up
    iterator = iter(data)
    folder = tempfile.mkdtemp(prefix="step_profile_")
    tf.profiler.experimental.start(folder)
    for number in range(args.steps):
        with tf.profiler.experimental.Trace("train_step", step_num=number, _r=1):
            model.train_function(iterator)
    tf.profiler.experimental.stop()

    space = xplane_pb2.XSpace()
    space.ParseFromString(next(Path(folder).rglob("*.xplane.pb")).read_bytes())
    host = next(plane for plane in space.planes if plane.name == "/host:CPU")
    steps, ops = [], []
    for line in host.lines:
        for event in line.events:
            meta = host.event_metadata[event.metadata_id]
            start = line.timestamp_ns * 1e-9 + event.offset_ps * 1e-12
            span = (start, start + event.duration_ps * 1e-12)
            if meta.name.startswith("train_step"):
                steps.append(span)
            elif meta.name == "CpuExecutable::ExecuteAsyncOnStream":  # an XLA computation
                ops.append((span, "compiled_loop"))
            elif meta.display_name and not meta.name.startswith("Iterator::"):
                # an op kernel: named "scope/op:Type", its type as display name
                ops.append((span, share(meta.name, meta.display_name)))
    return split_steps(steps, ops)


def split_steps(steps, ops) -> tuple[dict, float]:
    """Op time by share and idle time, per step (means over ``steps``)."""
    steps.sort()
    totals = {name: 0.0 for name in SHARES}
    idle = []
    for start, stop in steps:
        inside = [(span, name) for span, name in ops if start <= span[0] < stop]
        for span, name in inside:
            totals[name] += span[1] - span[0]
        idle.append((stop - start) - covered([span for span, _ in inside]))
    per_step = {name: value / len(steps) for name, value in totals.items()}
    per_step["idle"] = statistics.mean(idle)
    return per_step, statistics.mean(stop - start for start, stop in steps)


def torch_profile(args) -> tuple[dict, float]:
    """Per-step seconds by share, and the mean step's wall seconds, of the peer."""
    import torch
    from torch.profiler import ProfilerActivity, profile
    from torch_lstm_peer import random_batches, training_step

    device = torch.device("cpu")
    train = training_step(args, device)
    data = random_batches(args, 8, device)

    def step(number):
        train(*data[number % len(data)])

    for number in range(args.warmup):
        step(number)
    walls = []
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for number in range(args.steps):
            start = time.perf_counter()
            step(number)
            walls.append(time.perf_counter() - start)
    totals = {name: 0.0 for name in SHARES}
    spans = []
    optimizer_ops = set()
    for event in prof.events():
        if event.name.startswith("Optimizer.step"):  # PyTorch's own label for step()
            optimizer_ops.update(id(child) for child in _descendants(event))
    for event in prof.events():
        seconds = event.self_cpu_time_total * 1e-6
        name = "optimizer" if id(event) in optimizer_ops else share(event.name, event.name)
        totals[name] += seconds
        spans.append((event.time_range.start * 1e-6, event.time_range.end * 1e-6))
    per_step = {name: value / args.steps for name, value in totals.items()}
    wall = statistics.mean(walls)
    per_step["idle"] = max(0.0, wall - covered(spans) / args.steps)
    return per_step, wall


def _descendants(event):
    for child in event.cpu_children:
        yield child
        yield from _descendants(child)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--framework", choices=("keras", "torch"), default="keras")
    parser.add_argument("--precision", choices=("float32", "bfloat16"), default="float32")
    add_shape_arguments(parser, steps=5)
    args = parser.parse_args()
    args.model, args.cell, args.decoder_units, args.tied_embeddings = "lm", "lstm", None, False
    args.padded = False

    per_step, wall = (keras_profile if args.framework == "keras" else torch_profile)(args)
    report(
        "step_profile",
        framework=args.framework,
        precision=args.precision,
        step_ms=round(wall * 1e3, 1),
        tokens_per_s=round(args.batch * args.seq / wall, 1),
        ms_per_step={name: round(value * 1e3, 1) for name, value in per_step.items()},
    )


if __name__ == "__main__":
    main()
