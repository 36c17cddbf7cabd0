#!/usr/bin/env python3
"""Training throughput of a PyTorch ``nn.LSTM`` language model: tokens per second, one JSON line.

The peer of ``bench/training_speed.py`` for the language-model comparison. It trains a
character language model written with PyTorch's own modules at the same shape and in
the same way: ``nn.Embedding`` (vocabulary 80, embedding 64) -> ``nn.LSTM`` (2 layers of
512 units) -> ``nn.Linear`` back to the vocabulary, on random token batches (64
sequences of 100), with Adam (learning rate 1e-3) and a cross-entropy over every
position. It times each of ``--steps`` steps after ``--warmup`` untimed ones and
reports the median step, with the same output keys as ``bench/training_speed.py``
(``tokens_per_s``, ``seconds_per_step``, ``steps``, ``peak_memory_mb``, ``shape``).

``--precision bfloat16`` runs the forward pass and the loss under
``torch.autocast(..., dtype=torch.bfloat16)`` (weights and optimizer stay float32, as
Keras's ``mixed_bfloat16``); it is fast only on hardware that multiplies bfloat16
natively (AVX-512 BF16 or AMX CPUs, recent GPUs). Needs PyTorch (the ``bench`` extra):

    .venv/bin/pip install -e '.[bench]'
    .venv/bin/python bench/torch_lstm_peer.py --precision float32
    .venv/bin/python bench/training_speed.py --precision float32    # ours, same shape

or ``make bench-peer``, which alternates the two. Compare lines taken in one sitting:
a machine's speed drifts, a ratio holds.
"""

import argparse
import resource
import statistics
import time
from collections.abc import Callable

import numpy as np
import torch
from timing import add_shape_arguments, report
from torch import nn


class CharLanguageModel(nn.Module):
    """Embedding -> stacked LSTM -> logits over the vocabulary at every position."""

    def __init__(self, vocab: int, embed: int, units: int, layers: int):
        super().__init__()
        self.embedding = nn.Embedding(vocab, embed)
        self.lstm = nn.LSTM(embed, units, num_layers=layers, batch_first=True)
        self.logits = nn.Linear(units, vocab)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        outputs, _ = self.lstm(self.embedding(ids))
        return self.logits(outputs)


def pick_device(name: str) -> torch.device:
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(name)


def random_batches(
    args, count: int, device: torch.device
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """``count`` (inputs, targets) batches of random token ids, as ``training_speed.py``
    draws them (ids from 1 to the vocabulary size, seed 0); the timed steps cycle over
    them."""
    rng = np.random.default_rng(0)
    batches = []
    for _ in range(count):
        inputs = rng.integers(1, args.vocab, (args.batch, args.seq))
        targets = rng.integers(1, args.vocab, (args.batch, args.seq))
        batches.append(
            (
                torch.from_numpy(inputs).long().to(device),
                torch.from_numpy(targets).long().to(device),
            )
        )
    return batches


def training_step(args, device: torch.device) -> Callable[[torch.Tensor, torch.Tensor], None]:
    """A seeded model and Adam at ``args``'s shape; returns ``step(inputs, targets)``,
    one training step (bfloat16 autocast with ``--precision bfloat16``)."""
    torch.manual_seed(0)
    model = CharLanguageModel(args.vocab, args.embed, args.units, args.layers).to(device)
    model.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    autocast = args.precision == "bfloat16"

    def step(inputs: torch.Tensor, targets: torch.Tensor) -> None:
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=autocast):
            logits = model(inputs)
        # The loss in float32, as the Keras model's float32 output layer and loss.
        loss = loss_fn(logits.float().reshape(-1, args.vocab), targets.reshape(-1))
        loss.backward()
        optimizer.step()

    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--precision", choices=("float32", "bfloat16"), default="float32")
    parser.add_argument(
        "--device",
        choices=("auto", "cpu", "cuda"),
        default="auto",
        help="auto: CUDA when a GPU is visible, else the CPU",
    )
    add_shape_arguments(parser)
    parser.add_argument("--threads", type=int, help="CPU threads (default: PyTorch's choice)")
    args = parser.parse_args()
    if args.steps < 1 or args.warmup < 0:
        parser.error("--steps must be at least 1 and --warmup at least 0")

    if args.threads:
        torch.set_num_threads(args.threads)
    device = pick_device(args.device)
    step = training_step(args, device)
    batches = random_batches(args, 8, device)
    autocast = args.precision == "bfloat16"
    step_seconds = []
    for number in range(args.warmup + args.steps):
        inputs, targets = batches[number % len(batches)]
        start = time.perf_counter()
        step(inputs, targets)
        if device.type == "cuda":
            torch.cuda.synchronize()
        if number >= args.warmup:
            step_seconds.append(time.perf_counter() - start)

    median = statistics.median(step_seconds)
    report(
        "torch_lstm_peer",
        model="lm",
        cell="lstm",
        policy="mixed_bfloat16" if autocast else "float32",
        tokens_per_s=round(args.batch * args.seq / median, 1),
        seconds_per_step={
            "median": round(median, 4),
            "min": round(min(step_seconds), 4),
            "max": round(max(step_seconds), 4),
        },
        steps=len(step_seconds),
        peak_memory_mb=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        shape={k: getattr(args, k) for k in ("vocab", "embed", "units", "layers", "seq", "batch")},
        device=str(device),
        threads=torch.get_num_threads(),
        torch=torch.__version__,
    )


if __name__ == "__main__":
    main()
