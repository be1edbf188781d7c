import json

import pyarrow as pa
import pytest

from clingen.errors import DataFormatError
from clingen.generation.store import OutputStore

pytestmark = pytest.mark.unit


def examples(ids):
    return pa.table({"id": [f"e{i}" for i in ids], "text": [f"text {i}" for i in ids]})


def failure(row, reason="no_json"):
    return {"row_id": row, "reason": reason, "detail": "d", "raw": "r", "step": 1}


def test_commit_then_scan_sums_progress(tmp_path):
    store = OutputStore(str(tmp_path / "out"))
    store.commit(0, examples([0, 1]), [failure(2)], [0, 1, 2], prompt_tokens=30, completion_tokens=12)
    store.commit(1, examples([3]), [failure(4, "too_short"), failure(5)], [3, 4, 5], 20, 8)
    progress = OutputStore(str(tmp_path / "out")).scan()
    assert progress.rows == {0, 1, 2, 3, 4, 5}
    assert (progress.examples, progress.prompt_tokens, progress.completion_tokens) == (3, 50, 20)
    assert progress.failures == {"no_json": 2, "too_short": 1}
    assert progress.next_part == 2
    assert store.read_examples(["id"]).column("id").to_pylist() == ["e0", "e1", "e3"]
    assert store.read_failures().column("row_id").to_pylist() == [2, 4, 5]


def test_orphan_shards_of_a_killed_run_are_removed(tmp_path):
    store = OutputStore(str(tmp_path))
    store.commit(0, examples([0]), [], [0], 1, 1)
    (tmp_path / "data/part-000001.parquet").write_bytes(b"half written")
    (tmp_path / "data/part-000001.parquet.tmp-1234").write_bytes(b"x")
    progress = store.scan()
    assert progress.rows == {0}
    assert not (tmp_path / "data/part-000001.parquet").exists()
    assert progress.next_part == 1


def test_overlapping_markers_are_an_error(tmp_path):
    store = OutputStore(str(tmp_path))
    store.commit(0, examples([0]), [], [0, 1], 1, 1)
    (tmp_path / "progress/part-000001.json").write_text(json.dumps(
        {"rows": [1, 2], "examples": 0, "failures": {}, "prompt_tokens": 0, "completion_tokens": 0}))
    with pytest.raises(DataFormatError, match=r"shard part-000001.json repeats rows \[1\]"):
        store.scan()


def test_manifest_round_trip(tmp_path):
    store = OutputStore(str(tmp_path))
    assert store.read_manifest() is None
    store.write_manifest({"a": 1})
    assert store.read_manifest() == {"a": 1}
