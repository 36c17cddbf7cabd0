"""Merging concurrent requests to one model into batches, as TF Serving's batching does.

A ``Batcher`` belongs to one loaded model version. Requests are queued with a *key*:
the signature name and the values of its scalar inputs (``max_new_chars``,
``temperature``, ``beam_size``...), which one call of a signature takes once for the
whole batch; only requests with equal keys are merged. A batch is run when it holds
``max_batch_size`` rows, or when its oldest request has waited ``batch_timeout``
(while every batch thread is busy, requests keep gathering, so under load batches
fill up without waiting). The call runs on the batcher's own threads, never on the
event loop; its outputs are split back row by row.

This module needs neither TensorFlow nor Starlette: ``run`` does the model call.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import dataclasses
import time
from collections.abc import Callable, Hashable, Sequence

import numpy as np


class QueueFullError(Exception):
    """More rows are waiting than ``max_queued_rows``: the server is overloaded."""


@dataclasses.dataclass
class _Pending:
    key: Hashable
    columns: dict[str, list]  # batched input name -> this request's rows
    rows: int
    future: asyncio.Future
    enqueued: float


# run(key, columns) -> {output name: numpy array with the batch as first axis}
RunFunction = Callable[[Hashable, dict[str, list]], dict[str, np.ndarray]]


class Batcher:
    """Queues requests and runs them in merged batches.

    Args:
        run: the model call for one batch, run on a batch thread.
        max_batch_size: most rows in one call; larger requests are split.
        batch_timeout: seconds the oldest request may wait for others to join it.
        batch_threads: calls that may run at once.
        max_queued_rows: rows that may wait; beyond that ``submit`` raises ``QueueFullError``.
        trim: output names -> trims one request's slice of a merged batch back to the
            width it would have had alone (outputs padded to the batch's longest row).
    """

    def __init__(
        self,
        run: RunFunction,
        max_batch_size: int = 64,
        batch_timeout: float = 0.005,
        batch_threads: int = 1,
        max_queued_rows: int = 10_000,
        trim: Callable[[str, np.ndarray], np.ndarray] | None = None,
        name: str = "batcher",
    ):
        if max_batch_size < 1 or batch_threads < 1 or batch_timeout < 0:
            raise ValueError("max_batch_size and batch_threads must be >= 1, batch_timeout >= 0")
        self.run, self.trim = run, trim
        self.max_batch_size, self.batch_timeout = max_batch_size, batch_timeout
        self.max_queued_rows = max_queued_rows
        self.executor = concurrent.futures.ThreadPoolExecutor(
            batch_threads, thread_name_prefix=name
        )
        self.free_threads = asyncio.Semaphore(batch_threads)
        self.pending: collections.deque[_Pending] = collections.deque()
        self.queued_rows = 0
        self.arrived = asyncio.Event()
        self.task: asyncio.Task | None = None
        self.batch_threads = batch_threads
        self.running = 0
        self.closing = False
        self.name = name
        self.batches = self.batched_rows = 0  # statistics

    async def submit(self, key: Hashable, columns: dict[str, list]) -> dict[str, np.ndarray]:
        """Queues one request's rows (equal-length lists per batched input); returns its
        outputs, each with this request's rows as the first axis."""
        rows = len(next(iter(columns.values())))
        if self.queued_rows + rows > self.max_queued_rows:
            raise QueueFullError(f"{self.queued_rows} rows are already waiting")
        if self.task is None or self.task.done():  # first use, or closed while idle
            if self.executor is None:
                self.executor = concurrent.futures.ThreadPoolExecutor(
                    self.batch_threads, thread_name_prefix=self.name
                )
            self.task = asyncio.get_running_loop().create_task(self._schedule())
        loop = asyncio.get_running_loop()
        parts = []
        for start in range(0, rows, self.max_batch_size):
            part = {k: v[start : start + self.max_batch_size] for k, v in columns.items()}
            pending = _Pending(
                key,
                part,
                min(self.max_batch_size, rows - start),
                loop.create_future(),
                time.monotonic(),
            )
            self.pending.append(pending)
            self.queued_rows += pending.rows
            parts.append(pending.future)
        self.arrived.set()
        results = await asyncio.gather(*parts)
        if len(results) == 1:
            return results[0]
        return {name: _concatenate([r[name] for r in results]) for name in results[0]}

    def close_when_idle(self) -> None:
        """Stops the batch threads once nothing is queued or running (a retired model
        version: requests already holding it still finish)."""
        self.closing = True
        self.arrived.set()
        if self.task is None:
            self._shutdown()

    def _shutdown(self) -> None:
        if self.executor is not None:
            self.executor.shutdown(wait=False)
            self.executor = None

    def _rows_for(self, key) -> int:
        return sum(p.rows for p in self.pending if p.key == key)

    async def _schedule(self) -> None:
        while True:
            while not self.pending:
                if self.closing and not self.running:
                    self._shutdown()
                    return
                self.arrived.clear()
                await self.arrived.wait()
            await self.free_threads.acquire()
            try:
                oldest = self.pending[0]
                deadline = oldest.enqueued + self.batch_timeout
                while self._rows_for(oldest.key) < self.max_batch_size:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        break
                    self.arrived.clear()
                    try:
                        await asyncio.wait_for(self.arrived.wait(), remaining)
                    except asyncio.TimeoutError:
                        break
                batch, rows = [], 0
                for pending in list(self.pending):
                    if pending.key == oldest.key and rows + pending.rows <= self.max_batch_size:
                        batch.append(pending)
                        rows += pending.rows
                for pending in batch:
                    self.pending.remove(pending)
                self.queued_rows -= rows
            except BaseException:
                self.free_threads.release()
                raise
            self.running += 1
            asyncio.get_running_loop().create_task(self._run(oldest.key, batch))

    async def _run(self, key, batch: Sequence[_Pending]) -> None:
        try:
            live = [p for p in batch if not p.future.done()]  # cancelled: client went away
            if not live:
                return
            columns = {name: [v for p in live for v in p.columns[name]] for name in live[0].columns}
            loop = asyncio.get_running_loop()
            try:
                outputs = await loop.run_in_executor(self.executor, self.run, key, columns)
            except Exception as error:  # noqa: BLE001  every waiting request gets the error
                for pending in live:
                    if not pending.future.done():
                        pending.future.set_exception(error)
                return
            self.batches += 1
            self.batched_rows += len(columns[next(iter(columns))])
            start = 0
            for pending in live:
                stop = start + pending.rows
                part = {name: value[start:stop] for name, value in outputs.items()}
                if self.trim is not None:
                    part = {name: self.trim(name, value) for name, value in part.items()}
                if not pending.future.done():
                    pending.future.set_result(part)
                start = stop
        finally:
            self.running -= 1
            self.free_threads.release()
            self.arrived.set()  # wakes the scheduler (closing, or waiting on a thread)


def _concatenate(parts: list[np.ndarray]) -> np.ndarray:
    """Concatenates along the batch axis, padding the other axes to the widest part
    (with empty strings or zeros, as the exports pad)."""
    if parts[0].ndim <= 1 or all(p.shape[1:] == parts[0].shape[1:] for p in parts):
        return np.concatenate(parts)
    shape = [max(p.shape[axis] for p in parts) for axis in range(1, parts[0].ndim)]
    padded = []
    for part in parts:
        pad = [(0, 0)] + [(0, width - part.shape[axis + 1]) for axis, width in enumerate(shape)]
        fill = b"" if part.dtype.kind in "SOU" else 0
        padded.append(
            np.pad(part, pad, constant_values=fill)
            if part.dtype.kind != "O"
            else _pad_object(part, shape)
        )
    return np.concatenate(padded)


def _pad_object(part: np.ndarray, shape: list[int]) -> np.ndarray:
    out = np.full((part.shape[0], *shape), b"", dtype=object)
    out[tuple(slice(0, n) for n in part.shape)] = part
    return out


def trim_padding(value: np.ndarray, dynamic_axes: Sequence[int]) -> np.ndarray:
    """Drops trailing positions along ``dynamic_axes`` that are padding (empty strings
    or zeros) in every row: what a merged batch padded beyond this request's rows."""
    for axis in dynamic_axes:
        if axis >= value.ndim or value.shape[axis] == 0:
            continue
        other = tuple(a for a in range(value.ndim) if a != axis)
        if value.dtype == object or value.dtype.kind in "SU":
            used = (
                np.any(value != b"", axis=other)
                if value.dtype == object
                else np.any(value != value.dtype.type(), axis=other)
            )
        else:
            used = np.any(value != 0, axis=other)
        nonzero = np.flatnonzero(used)
        keep = int(nonzero[-1]) + 1 if nonzero.size else 0
        value = value[(slice(None),) * axis + (slice(0, keep),)]
    return value
