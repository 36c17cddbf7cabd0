"""Loading exports for inference, as any consumer would: TensorFlow + tensorflow_text."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from nlp_lstm import export as export_lib
from nlp_lstm.errors import NlpLstmError


@dataclasses.dataclass
class LoadedExport:
    """A reloaded SavedModel with its nlp-lstm metadata."""

    path: Path
    metadata: dict
    module: object

    @property
    def signature(self):
        return self.module.signatures["serving_default"]


def load(model_dir: str | Path, task: str) -> LoadedExport:
    """Loads the export at ``model_dir`` (a version, or a task folder's newest).

    Raises:
        NlpLstmError: missing, incomplete or corrupt export, or another task's.
    """
    import tensorflow as tf
    import tensorflow_text  # noqa: F401  (registers the SentencePiece ops)

    path, metadata = export_lib.resolve(model_dir, task)
    try:
        module = tf.saved_model.load(str(path))
    except (OSError, ValueError, tf.errors.OpError) as error:
        raise NlpLstmError(
            f"cannot load the SavedModel: {str(error).splitlines()[0]}", path=path
        ) from None
    return LoadedExport(path, metadata, module)


def iter_batched(
    signature,
    inputs: dict[str, list],
    batch_size: int,
    keep: tuple[str, ...] | None = None,
    **scalars,
) -> Iterator[tuple[int, dict]]:
    """Calls ``signature`` on ``inputs`` in batches, yielding each batch's numpy outputs
    as it is done.

    Args:
        keep: the outputs to yield (default all).

    Yields:
        ``(start, outputs)``: the index of the batch's first row, and its outputs.
    """
    import tensorflow as tf

    size = len(next(iter(inputs.values())))
    for start in range(0, size, batch_size):
        batch = {k: tf.constant(v[start : start + batch_size]) for k, v in inputs.items()}
        yield (
            start,
            {
                key: value.numpy()
                for key, value in signature(**batch, **scalars).items()
                if keep is None or key in keep
            },
        )


def run_batched(
    signature,
    inputs: dict[str, list],
    batch_size: int,
    keep: tuple[str, ...] | None = None,
    **scalars,
) -> dict:
    """Calls ``signature`` on ``inputs`` in batches; returns numpy outputs concatenated.

    Args:
        keep: the outputs to return (default all); outputs whose width varies from
            batch to batch (pieces, attention) cannot be concatenated.
    """
    outputs: dict[str, list] = {}
    for _, batch in iter_batched(signature, inputs, batch_size, keep, **scalars):
        for key, value in batch.items():
            outputs.setdefault(key, []).append(value)
    return {key: np.concatenate(parts) for key, parts in outputs.items()}
