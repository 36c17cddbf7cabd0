"""The benchmark scripts still import against the library (they are not run here), and
the parts of them that shape what they measure do what they say."""

import importlib.util
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"


@pytest.mark.parametrize("script", sorted(p.name for p in BENCH.glob("*.py")))
def test_benchmark_script_imports(script, monkeypatch):
    if script == "torch_lstm_peer.py":
        pytest.importorskip("torch", reason="the PyTorch peer needs the bench extra")
    module = load_script(script[:-3], monkeypatch)
    if script != "timing.py":  # the shared timing helpers; every other script runs main()
        assert callable(getattr(module, "main", None)), f"{script} has no main()"


def load_script(name: str, monkeypatch):
    """Imports ``bench/<name>.py`` (scripts import their sibling timing.py)."""
    monkeypatch.syspath_prepend(str(BENCH))
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_step_profile_sorts_ops_into_shares(monkeypatch):
    profile = load_script("step_profile", monkeypatch)
    loop = "model/lstm/scan/while/body/_36/model/lstm/scan/while"
    assert profile.share(f"{loop}/MatMul", "_MklMatMul") == "matrix"
    assert profile.share(f"{loop}/Sigmoid_1", "Sigmoid") == "elementwise"
    assert profile.share(f"{loop}/TensorArrayV2Read/TensorListGetItem", "TensorListGetItem") == (
        "loop"
    )
    assert profile.share("adam/Sqrt", "Sqrt") == "optimizer"
    assert profile.share("aten::mkldnn_rnn_layer", "aten::mkldnn_rnn_layer") == "fused_lstm"
    assert profile.share("aten::addmm", "aten::addmm") == "matrix"
    assert profile.share("loss/SparseSoftmaxCrossEntropyWithLogits", "Sparse...") == "other"


def test_step_profile_counts_overlapping_ops_once(monkeypatch):
    profile = load_script("step_profile", monkeypatch)
    assert profile.covered([(0.0, 2.0), (1.0, 3.0), (5.0, 6.0), (5.5, 5.7)]) == 4.0
    per_step, wall = profile.split_steps(
        [(0.0, 10.0), (10.0, 20.0)],
        [((1.0, 4.0), "matrix"), ((2.0, 5.0), "elementwise"), ((11.0, 19.0), "matrix")],
    )
    assert wall == 10.0
    assert per_step["matrix"] == 5.5 and per_step["elementwise"] == 1.5
    assert per_step["idle"] == 4.0  # step 1: 10 - 4 covered; step 2: 10 - 8


def test_padded_translation_batches_are_right_padded_pairs(monkeypatch):
    speed = load_script("training_speed", monkeypatch)
    args = SimpleNamespace(model="translation", vocab=50, batch=4, seq=10, padded=True)
    data = speed.batches(args, 2)
    (sources, target_inputs), targets = next(iter(data))
    for side in (sources.numpy(), targets.numpy()):
        lengths = (side > 0).sum(1)
        assert lengths.min() >= 5 and lengths.max() <= 10
        assert ((side > 0) == (np.arange(10)[None] < lengths[:, None])).all()  # right-padded
    target_inputs = target_inputs.numpy()
    assert (target_inputs[:, 0] == 1).all()  # a start id, then the targets shifted by one
    assert ((target_inputs[:, 1:] == targets.numpy()[:, :-1]) | (targets.numpy()[:, 1:] == 0)).all()
    tokens = speed.real_tokens_per_batch(args, data, 2)
    assert 2 * 4 * 5 <= tokens <= 2 * 4 * 10
