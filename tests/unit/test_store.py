import json

import pyarrow as pa
import pytest

from clingen.errors import DataFormatError
from clingen.runfolder.store import OutputStore

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
    store.commit(1, examples([]), [], [2], 1, 1)
    marker = json.loads((tmp_path / "progress/part-000001.json").read_text())
    (tmp_path / "progress/part-000001.json").write_text(json.dumps({**marker, "rows": [1, 2]}))
    with pytest.raises(DataFormatError, match=r"shard part-000001.json repeats rows \[1\]"):
        store.scan()


def test_no_manifest_reads_as_none(tmp_path):
    assert OutputStore(str(tmp_path)).read_manifest() is None


def test_a_shard_whose_file_changed_is_set_aside_and_its_rows_count_as_not_done(tmp_path):
    store = OutputStore(str(tmp_path))
    store.commit(0, examples([0, 1]), [failure(2)], [0, 1, 2], 1, 1)
    store.commit(1, examples([3]), [], [3, 4], 1, 1)
    marker = json.loads((tmp_path / "progress/part-000001.json").read_text())
    assert marker["files"]["data"]["rows"] == 1 and len(marker["files"]["data"]["sha256"]) == 64
    data = tmp_path / "data/part-000001.parquet"
    data.write_bytes(data.read_bytes()[:-20])  # truncated, as by a full disk or a bad copy
    progress = store.scan()
    assert progress.rows == {0, 1, 2} and progress.examples == 2
    [aside] = progress.set_aside
    assert aside["part"] == "part-000001" and aside["rows"] == 2
    assert "data/part-000001.parquet differs from its marker" in aside["problem"]
    kept = tmp_path / aside["moved_to"]
    assert sorted(p.relative_to(kept).as_posix() for p in kept.rglob("*.*")) == [
        "SET_ASIDE.json", "data/part-000001.parquet", "failures/part-000001.parquet", "progress/part-000001.json"]
    assert json.loads((kept / "SET_ASIDE.json").read_text())["problem"] == aside["problem"]
    assert not data.exists() and store.read_examples(["id"]).column("id").to_pylist() == ["e0", "e1"]
    assert store.scan().set_aside == []  # set aside once; the next run regenerates rows 3 and 4


def test_missing_files_and_unreadable_markers_are_set_aside_too(tmp_path):
    store = OutputStore(str(tmp_path))
    for part in range(3):
        store.commit(part, examples([part]), [], [part], 1, 1)
    (tmp_path / "failures/part-000000.parquet").unlink()
    (tmp_path / "progress/part-000002.json").write_text('{"rows": [2], "exa')
    progress = store.scan()
    assert progress.rows == {1}
    problems = sorted(a["problem"] for a in progress.set_aside)
    assert problems == ["failures/part-000000.parquet is missing", "progress/part-000002.json is unreadable (JSONDecodeError)"]


def test_markers_without_checksums_are_checked_by_their_parquet_footer(tmp_path):
    store = OutputStore(str(tmp_path))
    store.commit(0, examples([0, 1]), [], [0, 1], 1, 1)
    store.commit(1, examples([2]), [], [2], 1, 1)
    for part in (0, 1):  # as written before markers held checksums
        path = tmp_path / f"progress/part-00000{part}.json"
        marker = json.loads(path.read_text())
        del marker["files"]
        path.write_text(json.dumps(marker))
    data = tmp_path / "data/part-000001.parquet"
    data.write_bytes(data.read_bytes()[:40])
    progress = store.scan()
    assert progress.rows == {0, 1}
    assert progress.set_aside[0]["problem"].startswith("data/part-000001.parquet is unreadable (ArrowInvalid")
    assert store.scan(verify=False).rows == {0, 1}
