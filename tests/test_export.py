import json
import threading

import pytest

from nlp_lstm import export
from nlp_lstm.errors import NlpLstmError


def fake_export(directory, task="sentiment"):
    (directory / "saved_model.pb").write_bytes(b"graph")
    (directory / export.METADATA_FILE).write_text(json.dumps({"task": task}))


def test_versions_count_up_and_the_newest_is_resolved(tmp_path):
    first = export.write_version(tmp_path, fake_export)
    second = export.write_version(tmp_path, fake_export)
    assert (first.name, second.name) == ("1", "2")
    assert export.resolve(tmp_path)[0] == second
    assert export.resolve(first)[0] == first
    (tmp_path / "3").mkdir()  # a folder someone made by hand is not an export
    assert export.resolve(tmp_path)[0] == second


def test_a_failed_export_leaves_no_version_and_no_debris(tmp_path):
    def crash(directory):
        (directory / "saved_model.pb").write_bytes(b"half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        export.write_version(tmp_path, crash)
    assert list(tmp_path.iterdir()) == []
    assert export.write_version(tmp_path, fake_export).name == "1"


def test_concurrent_exports_get_distinct_versions(tmp_path):
    results = []
    threads = [
        threading.Thread(
            target=lambda: results.append(export.write_version(tmp_path, fake_export).name)
        )
        for _ in range(6)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results, key=int) == [str(i) for i in range(1, 7)]


def test_resolve_explains_what_is_wrong(tmp_path):
    with pytest.raises(NlpLstmError, match="no such export directory"):
        export.resolve(tmp_path / "missing")
    with pytest.raises(NlpLstmError, match="holds no numbered versions"):
        export.resolve(tmp_path)
    version = export.write_version(tmp_path, fake_export)
    with pytest.raises(NlpLstmError, match="is a 'sentiment' model, not 'generation'"):
        export.resolve(tmp_path, "generation")
    (version / export.METADATA_FILE).write_text("{not json")
    with pytest.raises(NlpLstmError, match="corrupt nlp_lstm.json"):
        export.resolve(version)
    (version / export.METADATA_FILE).write_text("[1, 2]")
    with pytest.raises(NlpLstmError, match="corrupt nlp_lstm.json: not a JSON object"):
        export.resolve(version)
