"""Shard commits written by Ray tasks beside the driver (generation.commits.RayCommits): the same shards as
written in the driver, a failed write fails the run naming its cause, and the commits in flight stay bounded."""

import json

import pytest

from clingen.generation.commits import MAX_COMMITS_IN_FLIGHT, InlineCommits, RayCommits, ShardBuffer
from clingen.runfolder.store import OutputStore

pytestmark = pytest.mark.integration


def buffers(n: int) -> list[ShardBuffer]:
    out = []
    for part in range(n):
        rows = list(range(part * 3, part * 3 + 3))
        example = {"id": f"ncbi-disease-{rows[0]:08d}", "text": "Gout flared.", "tokens": ["Gout", "flared", "."],
                   "ner_tags": ["B-Disease", "O", "O"], "strategy": "clingen-kg", "topic": "gout"}
        failure = [{"row_id": rows[1], "reason": "too_short", "detail": "2 words", "raw": "{}", "step": 1,
                    "reply_record": None}]
        out.append(ShardBuffer(examples=[json.dumps(example)], failures=[json.dumps(failure)], rows=rows,
                               prompt_tokens=30, completion_tokens=9, rejected_rows={"too_short": 1, "no_example": 1}))
    return out


def test_ray_commits_write_the_same_shards_as_the_driver(ray_local, tmp_path):
    inline_store, ray_store = OutputStore(str(tmp_path / "inline")), OutputStore(str(tmp_path / "ray"))
    inline, remote = InlineCommits(inline_store, "ner"), RayCommits(ray_store, "ner")
    for part, buffer in enumerate(buffers(5)):
        inline.submit(part, buffer)
        remote.submit(part, buffer)
        assert len(remote._pending) <= MAX_COMMITS_IN_FLIGHT
    remote.wait()
    assert not remote._pending
    for name in ("progress/part-000004.json", "data/part-000000.parquet", "failures/part-000003.parquet"):
        assert (tmp_path / "inline" / name).read_bytes() == (tmp_path / "ray" / name).read_bytes(), name
    progress = ray_store.scan()
    assert sorted(progress.rows) == list(range(15)) and progress.examples == 5
    assert progress.failures == {"too_short": 5} and progress.rejected_rows == {"too_short": 5, "no_example": 5}


def test_a_failed_commit_fails_the_wait_with_its_cause(ray_local, tmp_path):
    store = OutputStore(str(tmp_path / "run"))
    commits = RayCommits(store, "ner")
    bad = buffers(1)[0]
    bad.examples = [json.dumps({"id": "x", "text": 3})]  # not the NER schema: the task's table build fails
    commits.submit(0, bad)
    with pytest.raises(Exception, match="ArrowTypeError|ArrowInvalid"):
        commits.wait()
    assert store.scan().rows == set()  # nothing half committed
