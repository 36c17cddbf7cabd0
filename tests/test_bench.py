"""The benchmark scripts still import against the library (they are not run here)."""

import importlib.util
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"


@pytest.mark.parametrize("script", sorted(p.name for p in BENCH.glob("*.py")))
def test_benchmark_script_imports(script, monkeypatch):
    if script == "torch_lstm_peer.py":
        pytest.importorskip("torch", reason="the PyTorch peer needs the bench extra")
    monkeypatch.syspath_prepend(str(BENCH))  # scripts import their sibling timing.py
    spec = importlib.util.spec_from_file_location(f"bench_{script[:-3]}", BENCH / script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if script != "timing.py":  # the shared timing helpers; every other script runs main()
        assert callable(getattr(module, "main", None)), f"{script} has no main()"
    sys.modules.pop(spec.name, None)
