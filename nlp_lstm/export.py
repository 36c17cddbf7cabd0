"""SavedModel versions on disk: atomic writing, metadata, finding the newest.

Layout (TensorFlow Serving): ``<export_dir>/<version>/`` with integer versions.
A version directory appears only once complete: everything is written into a
hidden temporary sibling first and renamed into place, so a crash mid-export
never leaves a version that loads.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from nlp_lstm.errors import NlpLstmError

METADATA_FILE = "nlp_lstm.json"
KERAS_DIR, KERAS_FILE = "keras", "model.keras"  # inside a version: what fine-tuning reloads


def versions(export_dir: str | Path) -> list[int]:
    """The numbered version folders under ``export_dir``, ascending."""
    path = Path(export_dir)
    if not path.is_dir():
        return []
    return sorted(int(p.name) for p in path.iterdir() if p.name.isdigit() and p.is_dir())


def write_version(export_dir: str | Path, write: Callable[[Path], None]) -> Path:
    """Runs ``write(tmp_dir)`` and publishes the result as the next free version.

    Args:
        export_dir: the task folder, e.g. ``saved_models/sentiment``.
        write: fills the given empty directory with the export.

    Returns:
        The published version directory.
    """
    base = Path(export_dir)
    base.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".incomplete-", dir=base))
    try:
        write(staging)
        while True:
            target = base / str((versions(base) or [0])[-1] + 1)
            try:
                os.rename(staging, target)  # atomic; fails if another export took the number
                return target
            except OSError:
                if not target.exists():
                    raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def library_versions() -> dict[str, str]:
    import keras
    import tensorflow as tf
    import tensorflow_text

    import nlp_lstm

    return {
        "nlp_lstm": nlp_lstm.__version__,
        "tensorflow": tf.__version__,
        "tensorflow_text": tensorflow_text.__version__,
        "keras": keras.__version__,
        "python": platform.python_version(),
    }


def write_metadata(directory: Path, task: str, **fields) -> dict:
    """Writes the export's JSON metadata (task, creation time, library versions, fields)."""
    metadata = {
        "task": task,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "libraries": library_versions(),
        **fields,
    }
    (directory / METADATA_FILE).write_text(json.dumps(metadata, indent=2, ensure_ascii=False))
    return metadata


def resolve(model_dir: str | Path, task: str | None = None) -> tuple[Path, dict]:
    """Finds an export: a version directory, or a task folder (newest version).

    Returns:
        ``(version_dir, metadata)``.

    Raises:
        NlpLstmError: if there is no complete export there, its metadata is
            unreadable, or it belongs to another task.
    """
    path = Path(model_dir)
    if not path.exists():
        raise NlpLstmError("no such export directory", path=path)
    if not (path / "saved_model.pb").exists():
        found = [v for v in versions(path) if (path / str(v) / "saved_model.pb").exists()]
        if not found:
            raise NlpLstmError(
                "not a SavedModel version directory, and holds no numbered versions", path=path
            )
        path = path / str(found[-1])
    try:
        metadata = json.loads((path / METADATA_FILE).read_text())
    except FileNotFoundError:
        raise NlpLstmError(f"missing {METADATA_FILE}; not an nlp-lstm export", path=path) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise NlpLstmError(f"corrupt {METADATA_FILE}: {error}", path=path) from None
    if not isinstance(metadata, dict):
        raise NlpLstmError(f"corrupt {METADATA_FILE}: not a JSON object", path=path)
    if task is not None and metadata.get("task") != task:
        raise NlpLstmError(
            f"this export is a {metadata.get('task')!r} model, not {task!r}", path=path
        )
    return path, metadata


def add_keras_model(directory: Path, keras_file: Path) -> None:
    """Puts the Keras model file that fine-tuning reloads into an export being written."""
    (directory / KERAS_DIR).mkdir()
    shutil.copy(keras_file, directory / KERAS_DIR / KERAS_FILE)


def load_trainable(
    model_dir: str | Path, task: str, assets: tuple[str, ...] = ()
) -> tuple[Path, dict, object, dict[str, bytes]]:
    """What fine-tuning continues from: an export's Keras model (loaded in safe mode,
    computing in the global dtype policy, see ``nlp_lstm.precision``) and asset files.

    Args:
        model_dir: a version directory, or a task folder (newest version).
        task: the task the export must belong to.
        assets: names of files under the export's ``assets/`` to read.

    Returns:
        ``(version_dir, metadata, model, {asset name: bytes})``.

    Raises:
        NlpLstmError: if the export is missing, another task's, incomplete or corrupt.
    """
    import keras

    from nlp_lstm.precision import set_model_policy

    version, metadata = resolve(model_dir, task)
    try:
        model = keras.saving.load_model(version / KERAS_DIR / KERAS_FILE, safe_mode=True)
        files = {name: (version / "assets" / name).read_bytes() for name in assets}
    except (FileNotFoundError, ValueError, OSError) as error:
        raise NlpLstmError(f"export is incomplete or corrupt: {error}", path=version) from None
    # Exports are float32; fine-tuning trains in the precision set for it.
    set_model_policy(model, keras.mixed_precision.dtype_policy().name)
    return version, metadata, model, files
