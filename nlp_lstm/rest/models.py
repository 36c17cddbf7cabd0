"""The served models: ``<model_dir>/<name>/<version>/`` SavedModels, loaded, batched,
and reloaded when new versions appear (TF Serving's file-system source)."""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
import time
from collections.abc import Hashable
from pathlib import Path

import numpy as np

from nlp_lstm.rest.batching import Batcher, trim_padding

log = logging.getLogger("nlp_lstm.rest")

INIT_OP_SIGNATURE = "__saved_model_init_op"
LOAD_ATTEMPTS = 3


@dataclasses.dataclass(frozen=True)
class TensorInfo:
    dtype: str  # numpy-style name: "string", "int32", "int64", "float32", "bool", ...
    shape: tuple  # None for unknown dimensions

    @property
    def batched(self) -> bool:
        return len(self.shape) >= 1

    @property
    def dynamic_axes(self) -> tuple[int, ...]:
        return tuple(axis for axis, size in enumerate(self.shape) if axis > 0 and size is None)


@dataclasses.dataclass(frozen=True)
class SignatureInfo:
    name: str
    inputs: dict[str, TensorInfo]
    outputs: dict[str, TensorInfo]

    @property
    def batched_inputs(self) -> list[str]:
        return [name for name, info in self.inputs.items() if info.batched]

    @property
    def scalar_inputs(self) -> list[str]:
        return [name for name, info in self.inputs.items() if not info.batched]


@dataclasses.dataclass
class BatchSettings:
    max_batch_size: int = 64
    batch_timeout: float = 0.005
    batch_threads: int = 1
    max_queued_rows: int = 10_000


class Servable:
    """One loaded version of one model."""

    def __init__(self, name: str, version: int, path: Path, batching: BatchSettings):
        import tensorflow as tf
        import tensorflow_text  # noqa: F401  (registers the SentencePiece ops)

        self.name, self.version, self.path = name, version, path
        self.module = tf.saved_model.load(str(path))
        try:
            self.export_metadata = json.loads((path / "nlp_lstm.json").read_text())
        except (OSError, ValueError):
            self.export_metadata = {}
        self.signatures: dict[str, SignatureInfo] = {}
        for key, function in self.module.signatures.items():
            if key == INIT_OP_SIGNATURE:
                continue
            _, specs = function.structured_input_signature
            inputs = {n: _info(spec) for n, spec in specs.items()}
            outputs = {n: _info(spec) for n, spec in function.structured_outputs.items()}
            self.signatures[key] = SignatureInfo(key, inputs, outputs)
        self.signature_def = _signature_def_json(path, set(self.signatures))
        self.summary = {
            k: self.export_metadata[k]
            for k in ("task", "labels", "created")
            if k in self.export_metadata
        }
        self.batching = batching
        self._batcher: Batcher | None = None

    @property
    def batcher(self) -> Batcher:
        """Made on first use, inside the event loop."""
        if self._batcher is None:
            self._batcher = Batcher(
                self.run,
                self.batching.max_batch_size,
                self.batching.batch_timeout,
                self.batching.batch_threads,
                self.batching.max_queued_rows,
                trim=self._trim,
                name=f"{self.name}-{self.version}",
            )
        return self._batcher

    def retire(self) -> None:
        """Called in the event loop when a newer version replaced this one."""
        if self._batcher is not None:
            self._batcher.close_when_idle()

    def run(self, key: Hashable, columns: dict[str, list]) -> dict[str, np.ndarray]:
        """One signature call (on a batch thread).

        ``key`` is ``(signature, ((scalar, value), ...))``."""
        import tensorflow as tf

        signature_name, scalars = key
        info = self.signatures[signature_name]
        tensors = {
            name: tf.constant(values, dtype=info.inputs[name].dtype)
            for name, values in columns.items()
        }
        tensors.update(
            {name: tf.constant(value, dtype=info.inputs[name].dtype) for name, value in scalars}
        )
        outputs = self.module.signatures[signature_name](**tensors)
        return {name: value.numpy() for name, value in outputs.items()}

    def _trim(self, output: str, value: np.ndarray) -> np.ndarray:
        for info in self.signatures.values():
            if output in info.outputs and info.outputs[output].dynamic_axes:
                return trim_padding(value, info.outputs[output].dynamic_axes)
        return value

    def warm_up(self) -> None:
        """Runs every signature once on one short string (zero for every scalar)."""
        for key, info in self.signatures.items():
            if not info.batched_inputs or any(
                t.dtype != "string" for t in info.inputs.values() if t.batched
            ):
                continue
            scalars = tuple((n, 0) for n in info.scalar_inputs)
            try:
                self.run((key, scalars), {n: [b"warm up"] for n in info.batched_inputs})
            except Exception as error:  # noqa: BLE001  a failed warm-up only costs latency
                log.warning("warm-up of %s/%s %s failed: %s", self.name, self.version, key, error)


def _info(spec) -> TensorInfo:
    return TensorInfo(
        spec.dtype.name, tuple(spec.shape.as_list()) if spec.shape.rank is not None else (None,)
    )


def _signature_def_json(path: Path, keep: set[str]) -> dict:
    """The SignatureDefMap as TF Serving's metadata API prints it."""
    from google.protobuf import json_format
    from tensorflow.core.protobuf import saved_model_pb2

    saved = saved_model_pb2.SavedModel()
    saved.ParseFromString((path / "saved_model.pb").read_bytes())
    result = {}
    for key, signature in saved.meta_graphs[0].signature_def.items():
        if key in keep:
            result[key] = json_format.MessageToDict(
                signature,
                preserving_proto_field_name=True,
                always_print_fields_with_no_presence=True,
            )
    return {"signature_def": result}


@dataclasses.dataclass
class VersionState:
    state: str  # "LOADING", "AVAILABLE", "END" (unloaded or failed)
    error_code: str = "OK"
    error_message: str = ""
    attempts: int = 0


class Registry:
    """Every model under ``model_dir``; ``scan`` (re)loads what changed.

    Policy ``latest`` serves each model's newest version that loads (older ones are
    unloaded once it is available); ``all`` serves every version.
    """

    def __init__(
        self,
        model_dir: Path,
        policy: str = "latest",
        batching: BatchSettings | None = None,
        warm_up: bool = True,
    ):
        if policy not in ("latest", "all"):
            raise ValueError(f"unknown version policy {policy!r}")
        self.model_dir, self.policy = Path(model_dir), policy
        self.batching = batching or BatchSettings()
        self.warm = warm_up
        self.served: dict[str, dict[int, Servable]] = {}  # replaced whole, never mutated
        self.states: dict[str, dict[int, VersionState]] = {}
        self.retire_callback = None  # set by the app: hands retired servables to the loop
        self._lock = threading.Lock()

    def names(self) -> list[str]:
        return sorted(self.served)

    def get(self, name: str, version: int | None) -> Servable | None:
        versions = self.served.get(name)
        if not versions:
            return None
        if version is None:
            return versions[max(versions)]
        return versions.get(version)

    def _candidates(self) -> dict[str, list[int]]:
        found = {}
        if not self.model_dir.is_dir():
            return found
        for folder in sorted(self.model_dir.iterdir()):
            if folder.name.startswith(".") or not folder.is_dir():
                continue
            versions = sorted(
                int(p.name)
                for p in folder.iterdir()
                if p.name.isdigit() and (p / "saved_model.pb").is_file()
            )
            if versions:
                found[folder.name] = versions
        return found

    def scan(self) -> None:
        """Loads new versions and unloads the ones the policy no longer serves."""
        with self._lock:
            for name, versions in self._candidates().items():
                states = self.states.setdefault(name, {})
                served = dict(self.served.get(name, {}))
                wanted = versions if self.policy == "all" else versions[::-1]
                for version in wanted:
                    if version in served:
                        if self.policy == "latest":
                            break
                        continue
                    state = states.get(version)
                    if state is not None and (
                        state.state == "END"
                        and (state.error_code == "OK" or state.attempts >= LOAD_ATTEMPTS)
                    ):
                        continue  # unloaded on purpose, or given up on
                    loaded = self._load(name, version, states)
                    if loaded is not None:
                        served[version] = loaded
                        if self.policy == "latest":
                            break
                if self.policy == "latest" and served:
                    newest = max(served)
                    for version in [v for v in served if v != newest]:
                        self._unload(name, served.pop(version), states)
                for version in [v for v in served if v not in versions]:  # folder removed
                    self._unload(name, served.pop(version), states)
                self.served = {**self.served, name: served}
            gone = [name for name in self.served if not (self.model_dir / name).is_dir()]
            if gone:
                for name in gone:
                    for servable in self.served[name].values():
                        self._unload(name, servable, self.states.setdefault(name, {}))
                self.served = {k: v for k, v in self.served.items() if k not in gone}

    def _load(self, name: str, version: int, states: dict) -> Servable | None:
        path = self.model_dir / name / str(version)
        previous = states.get(version)
        attempts = (previous.attempts if previous else 0) + 1
        states[version] = VersionState("LOADING", attempts=attempts)
        started = time.monotonic()
        try:
            servable = Servable(name, version, path, self.batching)
            if self.warm:
                servable.warm_up()
        except Exception as error:  # noqa: BLE001  a broken folder must not stop the server
            message = str(error).strip().splitlines()[0] if str(error).strip() else repr(error)
            states[version] = VersionState("END", "UNKNOWN", f"cannot load: {message}", attempts)
            log.warning("cannot load %s (attempt %d): %s", path, attempts, message)
            return None
        states[version] = VersionState("AVAILABLE", attempts=attempts)
        log.warning(
            "serving %s version %d (%s; loaded in %.1f s)",
            name,
            version,
            ", ".join(servable.signatures),
            time.monotonic() - started,
        )
        return servable

    def _unload(self, name: str, servable: Servable, states: dict) -> None:
        states[servable.version] = VersionState("END")
        log.warning("unloaded %s version %d", name, servable.version)
        if self.retire_callback is not None:
            self.retire_callback(servable)

    def watch(self, poll_seconds: float, stop: threading.Event) -> threading.Thread:
        """Rescans every ``poll_seconds`` on a daemon thread until ``stop`` is set."""

        def loop():
            while not stop.wait(poll_seconds):
                try:
                    self.scan()
                except Exception as error:  # noqa: BLE001  keep watching
                    log.warning("model scan failed: %s", error)

        thread = threading.Thread(target=loop, name="model-watcher", daemon=True)
        thread.start()
        return thread
