"""Safety: no pickle, Keras files in safe mode, runs that refuse code-carrying models."""

import json
import re
from pathlib import Path

import keras
import pytest

from nlp_lstm import export as export_lib
from nlp_lstm.errors import NlpLstmError
from nlp_lstm.training import RunDirectory

PACKAGE = Path(__file__).resolve().parents[1] / "nlp_lstm"
UNSAFE = re.compile(
    r"\bimport pickle\b|\bpickle\.|allow_pickle\s*=\s*True|safe_mode\s*=\s*False"
    r"|\byaml\.load\(|(?<![.\w])eval\(|(?<![.\w])exec\("
)


def test_no_module_unpickles_evaluates_or_disables_safe_mode():
    offenders = [
        f"{path.relative_to(PACKAGE)}:{number}: {line.strip()}"
        for path in sorted(PACKAGE.rglob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if UNSAFE.search(line)
    ]
    assert offenders == []


def model_with_code(path: Path) -> Path:
    """A Keras file whose Lambda layer would run arbitrary Python when deserialised."""
    inputs = keras.Input((3,))
    outputs = keras.layers.Lambda(lambda x: x * 2)(inputs)
    keras.Model(inputs, outputs).save(path)
    return path


def test_an_export_whose_keras_model_carries_code_is_refused(tmp_path):
    version = tmp_path / "sentiment" / "1"
    (version / export_lib.KERAS_DIR).mkdir(parents=True)
    (version / "saved_model.pb").write_bytes(b"")
    (version / export_lib.METADATA_FILE).write_text(json.dumps({"task": "sentiment"}))
    model_with_code(version / export_lib.KERAS_DIR / export_lib.KERAS_FILE)
    with pytest.raises(NlpLstmError, match="safe_mode"):
        export_lib.load_trainable(tmp_path / "sentiment", "sentiment")


def test_a_run_whose_keras_model_carries_code_is_refused(tmp_path):
    run = RunDirectory(tmp_path / "run")
    run.write_json("config.json", {"task": "sentiment", "config": {}})
    model_with_code(run.keras_model)
    with pytest.raises(NlpLstmError, match="safe_mode"):
        run.load_finished("sentiment")
