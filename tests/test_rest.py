"""``nlp-lstm serve``: TF Serving's REST API against a real server process on loopback,
over tiny real exports of the three recipes (trained once per pytest process)."""

import asyncio
import base64
import concurrent.futures
import json
import os
import shutil
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest

LIMITS = {
    "max_body_bytes": 65_536,
    "max_string_bytes": 2_000,
    "max_rows": 50,
    "max_new_chars": 200,
    "max_beam_size": 4,
    "max_length": 100,
}
GENERATION = {"max_new_chars": 12, "temperature": 0.0, "top_k": 0, "top_p": 1.0, "seed": 1}


class Server:
    """``python -m nlp_lstm.rest`` on a free loopback port, stopped by ``close``."""

    def __init__(self, model_dir: Path, *flags: str, timeout: float = 120):
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "KERAS_BACKEND": "tensorflow"}
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "nlp_lstm.rest",
                "--model-dir",
                str(model_dir),
                "--port",
                "0",
                *flags,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
        self.log: list[str] = []
        found = threading.Event()

        def read():
            for line in self.process.stdout:
                self.log.append(line)
                if line.startswith("serving ") and " on http://" in line:
                    self.url = line.split(" on ")[1].split("/ ")[0]
                    found.set()

        threading.Thread(target=read, daemon=True).start()
        deadline = time.monotonic() + timeout
        while not found.wait(0.2):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.close()
                raise RuntimeError("the server did not start:\n" + "".join(self.log))
        self.wait_ready()

    def wait_ready(self):
        for _ in range(100):
            try:
                urllib.request.urlopen(self.url + "/", timeout=5).read()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("the server does not answer")

    def request(
        self, path: str, body=None, method: str | None = None, headers: dict | None = None
    ) -> tuple[int, dict]:
        data = body if isinstance(body, (bytes, type(None))) else json.dumps(body).encode()
        request = urllib.request.Request(
            self.url + path,
            data=data,
            method=method,
            headers={"Content-Type": "application/json", **(headers or {})},
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    def predict(self, model: str, body, path: str = "") -> dict:
        status, payload = self.request(f"/v1/models/{model}{path}:predict", body)
        assert status == 200, payload
        return payload

    def close(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()


@pytest.fixture(scope="session")
def exports(tiny_exports) -> Path:
    return tiny_exports


@pytest.fixture(scope="module")
def server(exports, tmp_path_factory):
    served = tmp_path_factory.mktemp("served")
    shutil.copytree(exports, served, dirs_exist_ok=True)
    flags = [f"--{name.replace('_', '-')}={value}" for name, value in LIMITS.items()]
    process = Server(served, *flags, "--poll-seconds", "0.5", "--max-batch-size", "8")
    process.model_dir = served
    yield process
    process.close()


@pytest.fixture(scope="module")
def signatures(exports):
    import tensorflow as tf
    import tensorflow_text  # noqa: F401

    return {
        name: tf.saved_model.load(str(exports / name / "1")).signatures
        for name in ("sentiment", "generation", "translation")
    }


# Status and metadata ---------------------------------------------------------------------

AVAILABLE = {"state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}}


@pytest.mark.parametrize("name", ["sentiment", "generation", "translation"])
def test_status_as_tf_serving_reports_it(server, name):
    status, payload = server.request(f"/v1/models/{name}")
    assert status == 200
    assert payload["model_version_status"][-1] == {"version": "1", **AVAILABLE}
    assert server.request(f"/v1/models/{name}/versions/1") == (
        200,
        {"model_version_status": [{"version": "1", **AVAILABLE}]},
    )


def test_metadata_lists_signatures_with_dtypes_and_shapes(server):
    status, payload = server.request("/v1/models/translation/metadata")
    assert status == 200
    assert payload["model_spec"] == {"name": "translation", "signature_name": "", "version": "1"}
    defs = payload["metadata"]["signature_def"]["signature_def"]
    assert set(defs) == {"serving_default", "translate"}
    source = defs["translate"]["inputs"]["source"]
    assert source["dtype"] == "DT_STRING"
    assert source["tensor_shape"] == {"dim": [{"size": "-1", "name": ""}], "unknown_rank": False}
    assert defs["translate"]["inputs"]["beam_size"]["tensor_shape"]["dim"] == []
    assert defs["translate"]["outputs"]["attention"]["dtype"] == "DT_FLOAT"
    assert len(defs["translate"]["outputs"]["attention"]["tensor_shape"]["dim"]) == 3
    assert defs["serving_default"]["method_name"] == "tensorflow/serving/predict"
    generation = server.request("/v1/models/generation/versions/1/metadata")[1]
    inputs = generation["metadata"]["signature_def"]["signature_def"]["serving_default"]["inputs"]
    assert {k: v["dtype"] for k, v in inputs.items()} == {
        "prompt": "DT_STRING",
        "max_new_chars": "DT_INT32",
        "temperature": "DT_FLOAT",
        "top_k": "DT_INT32",
        "top_p": "DT_FLOAT",
        "seed": "DT_INT64",
    }


# Predict -----------------------------------------------------------------------------------

TEXTS = ["A warm, funny and beautifully acted film.", "Tedious and overlong.", "", "Zürich ☃"]


def test_sentiment_row_and_columnar_forms_match_the_export(server, signatures):
    import tensorflow as tf

    expected = signatures["sentiment"]["serving_default"](text=tf.constant(TEXTS))
    rows = server.predict("sentiment", {"instances": TEXTS})["predictions"]
    assert [r["label"] for r in rows] == [t.decode() for t in expected["label"].numpy()]
    assert [r["label_id"] for r in rows] == expected["label_id"].numpy().tolist()
    np.testing.assert_allclose(
        [r["probabilities"] for r in rows], expected["probabilities"].numpy(), atol=1e-5
    )
    columns = server.predict("sentiment", {"inputs": {"text": TEXTS}})["outputs"]
    assert set(columns) == {"label", "label_id", "probabilities"}
    assert columns["label"] == [r["label"] for r in rows]
    # Other spellings TF Serving accepts: objects per instance, a bare columnar tensor,
    # base64 strings, an explicit signature name and version.
    objects = server.predict(
        "sentiment",
        {"instances": [{"text": t} for t in TEXTS], "signature_name": "serving_default"},
        path="/versions/1",
    )["predictions"]
    assert [r["label"] for r in objects] == columns["label"]
    bare = server.predict("sentiment", {"inputs": TEXTS})["outputs"]
    assert bare["label"] == columns["label"]
    b64 = [{"b64": base64.b64encode(t.encode()).decode()} for t in TEXTS]
    assert server.predict("sentiment", {"instances": b64})["predictions"] == rows
    assert server.predict("sentiment", {"instances": []}) == {"predictions": []}


def test_generation_single_output_is_unwrapped(server, signatures):
    import tensorflow as tf

    prompts = ["ROMEO:\n", "Zürich ☃", ""]
    out = server.predict("generation", {"inputs": {"prompt": prompts, **GENERATION}})
    expected = signatures["generation"]["serving_default"](
        prompt=tf.constant(prompts),
        max_new_chars=tf.constant(12),
        temperature=tf.constant(0.0),
        top_k=tf.constant(0),
        top_p=tf.constant(1.0),
        seed=tf.constant(1, tf.int64),
    )["text"].numpy()
    assert out == {"outputs": [t.decode("utf-8") for t in expected]}  # a list, not {"text": }
    assert all(t.startswith(p) for t, p in zip(out["outputs"], prompts))
    sampled = {
        "prompt": ["KING:"],
        **GENERATION,
        "temperature": 0.9,
        "top_k": 20,
        "top_p": 0.9,
        "seed": 42,
    }
    first = server.predict("generation", {"inputs": sampled})["outputs"]
    assert first == server.predict("generation", {"inputs": sampled})["outputs"]


def test_generation_rows_with_different_arguments_are_grouped(server):
    instances = [
        {"prompt": "A", **GENERATION, "max_new_chars": 3},
        {"prompt": "B", **GENERATION, "max_new_chars": 9},
        {"prompt": "C", **GENERATION, "max_new_chars": 3},
    ]
    predictions = server.predict("generation", {"instances": instances})["predictions"]
    assert [len(p) for p in predictions] == [4, 10, 4]
    assert [p[0] for p in predictions] == ["A", "B", "C"]


def test_translation_signatures(server, signatures):
    import tensorflow as tf

    sources = ["Where is the station?", "I don't know."]
    rows = server.predict("translation", {"instances": sources})["predictions"]
    expected = signatures["translation"]["serving_default"](source=tf.constant(sources))
    assert [r["translation"] for r in rows] == [t.decode() for t in expected["translation"].numpy()]
    np.testing.assert_allclose([r["score"] for r in rows], expected["score"].numpy(), atol=1e-4)
    out = server.predict(
        "translation",
        {
            "signature_name": "translate",
            "inputs": {"source": sources[:1], "beam_size": 1, "max_length": 6},
        },
    )["outputs"]
    assert set(out) == {"translation", "score", "source_pieces", "target_pieces", "attention"}
    attention = np.array(out["attention"])
    assert attention.shape == (1, len(out["target_pieces"][0]), len(out["source_pieces"][0]))
    assert len(out["target_pieces"][0]) <= 6


def test_concurrent_requests_get_their_own_results(server):
    """Merged into batches (``--max-batch-size 8``), each request still gets exactly
    what it gets alone, also where outputs are padded to the batch's longest row."""
    sources = ["Hi.", "Where is the big old station in this town?", "Tom is here.", "No!"] * 4
    body = lambda s: {
        "signature_name": "translate",  # noqa: E731
        "inputs": {"source": [s], "beam_size": 2, "max_length": 12},
    }
    alone = {s: server.predict("translation", body(s))["outputs"] for s in set(sources)}
    texts = TEXTS * 8
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        merged = list(
            pool.map(lambda s: server.predict("translation", body(s))["outputs"], sources)
        )
        labels = list(pool.map(lambda t: server.predict("sentiment", {"instances": [t]}), texts))
    for source, out in zip(sources, merged):
        assert out["translation"] == alone[source]["translation"]
        assert out["source_pieces"] == alone[source]["source_pieces"]
        assert np.array(out["attention"]).shape == np.array(alone[source]["attention"]).shape
    solo = server.predict("sentiment", {"instances": TEXTS})["predictions"]
    assert [r["predictions"][0]["label"] for r in labels] == [r["label"] for r in solo] * 8


# Errors: the docs' table (docs/serving.md), one case each -----------------------------------

S, G, T = "/v1/models/sentiment", "/v1/models/generation", "/v1/models/translation"
GEN = lambda **changes: {"inputs": {"prompt": ["A"], **GENERATION, **changes}}  # noqa: E731

ERRORS = [
    # (case, path, method, body, status, words in the error)
    ("malformed JSON", S + ":predict", "POST", b'{"instances": [', 400, "malformed JSON"),
    ("body not a JSON object", S + ":predict", "POST", b"[1, 2]", 400, "JSON object"),
    ("body not UTF-8", S + ":predict", "POST", b'{"instances": ["\xff\xfe"]}', 400, "not UTF-8"),
    (
        "b64 string not UTF-8",
        S + ":predict",
        "POST",
        {"instances": [{"b64": base64.b64encode(b"\xff").decode()}]},
        400,
        "not UTF-8",
    ),
    ("invalid base64", S + ":predict", "POST", {"instances": [{"b64": "%%%"}]}, 400, "base64"),
    ("unpaired surrogate", S + ":predict", "POST", b'{"instances": ["\\ud800"]}', 400, "surrogate"),
    ("nested too deeply", S + ":predict", "POST", b"[" * 20_000, 400, "malformed JSON"),
    (
        "neither instances nor inputs",
        S + ":predict",
        "POST",
        {"signature_name": ""},
        400,
        "'instances'",
    ),
    (
        "both instances and inputs",
        S + ":predict",
        "POST",
        {"instances": [], "inputs": []},
        400,
        "not both",
    ),
    ("instances not a list", S + ":predict", "POST", {"instances": "text"}, 400, "list"),
    (
        "wrong type (number for string)",
        S + ":predict",
        "POST",
        {"instances": [3]},
        400,
        "must be a string",
    ),
    (
        "wrong type (null)",
        S + ":predict",
        "POST",
        {"inputs": {"text": [None]}},
        400,
        "must be a string",
    ),
    (
        "columnar input not a list",
        S + ":predict",
        "POST",
        {"inputs": {"text": "x"}},
        400,
        "must be a list",
    ),
    (
        "unknown input",
        S + ":predict",
        "POST",
        {"inputs": {"txt": ["x"]}},
        400,
        "unknown input 'txt'",
    ),
    (
        "missing input",
        G + ":predict",
        "POST",
        {"inputs": {"prompt": ["A"], "max_new_chars": 5}},
        400,
        "missing input",
    ),
    (
        "missing input in an instance",
        G + ":predict",
        "POST",
        {"instances": [{"prompt": "A", **GENERATION}, {"prompt": "B"}]},
        400,
        "instance 1: missing input",
    ),
    (
        "plain value where inputs are named",
        G + ":predict",
        "POST",
        {"instances": ["A"]},
        400,
        "must be an object",
    ),
    ("list for a scalar argument", G + ":predict", "POST", GEN(seed=[1]), 400, "scalar"),
    (
        "float for an integer",
        G + ":predict",
        "POST",
        GEN(max_new_chars=2.5),
        400,
        "must be an integer",
    ),
    ("boolean for a number", G + ":predict", "POST", GEN(top_k=True), 400, "must be a number"),
    ("integer out of int64", G + ":predict", "POST", GEN(seed=2**64), 400, "does not fit int64"),
    ("integer out of int32", G + ":predict", "POST", GEN(top_k=2**40), 400, "does not fit int32"),
    ("negative temperature", G + ":predict", "POST", GEN(temperature=-0.5), 400, "out of range"),
    (
        "temperature NaN",
        G + ":predict",
        "POST",
        json.dumps(GEN(temperature=float("nan"))).encode(),
        400,
        "finite",
    ),
    ("top_p above 1", G + ":predict", "POST", GEN(top_p=1.5), 400, "out of range"),
    ("negative top_k", G + ":predict", "POST", GEN(top_k=-1), 400, "out of range"),
    (
        "max_new_chars over --max-new-chars",
        G + ":predict",
        "POST",
        GEN(max_new_chars=201),
        400,
        "out of range",
    ),
    (
        "beam_size over --max-beam-size",
        T + ":predict",
        "POST",
        {
            "signature_name": "translate",
            "inputs": {"source": ["a"], "beam_size": 5, "max_length": 0},
        },
        400,
        "out of range",
    ),
    (
        "negative max_length",
        T + ":predict",
        "POST",
        {
            "signature_name": "translate",
            "inputs": {"source": ["a"], "beam_size": 1, "max_length": -1},
        },
        400,
        "out of range",
    ),
    (
        "unknown signature",
        T + ":predict",
        "POST",
        {"signature_name": "nope", "instances": ["a"]},
        400,
        "unknown signature",
    ),
    (
        "signature_name not a string",
        T + ":predict",
        "POST",
        {"signature_name": 1, "instances": ["a"]},
        400,
        "must be a string",
    ),
    (
        "string over --max-string-bytes",
        S + ":predict",
        "POST",
        {"instances": ["é" * 1001]},
        413,
        "limit",
    ),
    ("rows over --max-rows", S + ":predict", "POST", {"instances": ["a"] * 51}, 413, "limit"),
    (
        "body over --max-body-bytes",
        S + ":predict",
        "POST",
        {"instances": ["a" * 1000] * 70},
        413,
        "limit",
    ),
    (
        "unknown model",
        "/v1/models/nope:predict",
        "POST",
        {"instances": ["a"]},
        404,
        "Servable not found",
    ),
    (
        "unknown version",
        S + "/versions/7:predict",
        "POST",
        {"instances": ["a"]},
        404,
        "Servable not found",
    ),
    (
        "version not a number",
        S + "/versions/latest:predict",
        "POST",
        {"instances": ["a"]},
        400,
        "version",
    ),
    ("unknown label", S + "/labels/stable", "GET", None, 404, "label"),
    ("status of an unknown model", "/v1/models/nope", "GET", None, 404, "nope"),
    (
        "metadata of an unknown version",
        S + "/versions/7/metadata",
        "GET",
        None,
        404,
        "Servable not found",
    ),
    ("classify / regress", S + ":classify", "POST", {"examples": []}, 400, "not supported"),
    ("GET on :predict", S + ":predict", "GET", None, 405, "use POST"),
    ("unknown endpoint", "/v2/anything", "GET", None, 404, "no such endpoint"),
]


@pytest.mark.parametrize(
    "case, path, method, body, status, words", ERRORS, ids=[e[0] for e in ERRORS]
)
def test_bad_request_gets_a_4xx_json_error(server, case, path, method, body, status, words):
    got, payload = server.request(path, body, method)
    assert (got, set(payload)) == (status, {"error"}), payload
    assert words in payload["error"]


def test_server_survives_the_bad_requests(server):
    for case, path, method, body, status, _ in ERRORS:
        assert server.request(path, body, method)[0] == status, case
    assert server.process.poll() is None
    assert server.predict("sentiment", {"instances": ["still here"]})["predictions"]
    assert not [line for line in server.log if "Traceback" in line or "internal error" in line]


def test_new_version_is_served_without_a_restart(server):
    """Atomic publication, as ``nlp_lstm.export.write_version`` does: copy, then rename."""
    folder = server.model_dir / "sentiment"
    staging = folder / ".incomplete-test"
    shutil.copytree(folder / "1", staging)
    staging.rename(folder / "2")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        payload = server.request("/v1/models/sentiment")[1]
        if payload["model_version_status"][0] == {"version": "2", **AVAILABLE}:
            break
        time.sleep(0.3)
    assert server.request("/v1/models/sentiment")[1]["model_version_status"] == [
        {"version": "2", **AVAILABLE},
        {"version": "1", "state": "END", "status": {"error_code": "OK", "error_message": ""}},
    ]
    assert server.request("/v1/models/sentiment/metadata")[1]["model_spec"]["version"] == "2"
    assert server.predict("sentiment", {"instances": ["a new version"]})["predictions"]
    assert server.request(f"{S}/versions/1:predict", {"instances": ["a"]})[0] == 404


def test_playground_page_is_served(server):
    with urllib.request.urlopen(server.url + "/") as response:
        page = response.read().decode()
        assert response.headers["Content-Type"].startswith("text/html")
    assert "/v1/models/" in page and "<canvas" in page
    assert "http://" not in page.replace("http://www.w3.org", "")  # nothing fetched from outside


# The batcher on its own --------------------------------------------------------------------


def test_batcher_merges_concurrent_requests_by_key():
    from nlp_lstm.rest.batching import Batcher

    calls = []

    def run(key, columns):
        calls.append((key, len(columns["x"])))
        time.sleep(0.01)
        return {
            "y": np.array([f"{key}:{x}" for x in columns["x"]], dtype=object),
            "w": np.ones((len(columns["x"]), 3)),
        }

    async def main():
        batcher = Batcher(run, max_batch_size=8, batch_timeout=0.02)
        jobs = [batcher.submit("a" if i % 2 else "b", {"x": [i, i]}) for i in range(10)]
        jobs.append(batcher.submit("a", {"x": list(range(20))}))  # larger than a batch
        results = await asyncio.gather(*jobs)
        batcher.close_when_idle()
        return results

    results = asyncio.run(main())
    assert [list(r["y"]) for r in results[:2]] == [["b:0", "b:0"], ["a:1", "a:1"]]
    assert list(results[-1]["y"]) == [f"a:{i}" for i in range(20)]
    assert all(size <= 8 for _, size in calls)
    assert len(calls) < 10  # merged: 40 rows in a handful of calls, not one per request
    assert sum(size for _, size in calls) == 40


def test_serve_command_module_imports_neither_tensorflow_nor_starlette():
    code = (
        "import sys, argparse; from nlp_lstm.rest.command import add_arguments, serve; "
        "p = argparse.ArgumentParser(); add_arguments(p); p.parse_args([]); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('tensorflow', 'starlette', 'uvicorn', 'keras')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_missing_model_dir_exits_with_an_error(tmp_path):
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "nlp_lstm.rest",
            "--model-dir",
            str(tmp_path / "none"),
            "--port",
            "0",
        ],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 2 and "no such folder" in out.stderr
