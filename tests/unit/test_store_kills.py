"""SIGKILL lands inside `OutputStore.commit` (between a shard's data, failures and marker writes, or inside one
write): every resume sees whole shards only, sets what the kill left aside (never deletes it), and loses or
repeats no row."""

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from clingen.runfolder.store import OutputStore

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[2]
WRITER = ROOT / "tests/fixtures/commit_shards_until_killed.py"
MIN_KILLS, MAX_KILLS = 12, 40


def half_done_files(out: Path) -> list[str]:
    """What a kill inside a commit leaves: partial writes, and shard files whose marker was not written."""
    markers = {p.stem for p in (out / "progress").glob("part-*.json")}
    leftovers = [str(p.relative_to(out)) for p in out.rglob("*.tmp-*") if "set_aside" not in p.relative_to(out).parts]
    for folder in ("data", "failures"):
        leftovers += [f"{folder}/{p.name}" for p in (out / folder).glob("part-*.parquet") if p.stem not in markers]
    return leftovers


def test_kills_inside_shard_commits_lose_and_repeat_nothing(tmp_path):
    out, rng, inside_a_commit, files_half_written = tmp_path / "out", random.Random(0), 0, 0
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    kills = 0
    # At least MIN_KILLS, and on until two of them left files half written (~1 in 3 does).
    while kills < MIN_KILLS or (files_half_written < 2 and kills < MAX_KILLS):
        kills += 1
        before = len(list((out / "progress").glob("part-*.json"))) if out.exists() else 0
        writer = subprocess.Popen([sys.executable, str(WRITER), str(out)], env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
        # Wait for this writer's first commit so the kill lands while it is writing, not while Python starts.
        deadline = time.time() + 60
        while len(list((out / "progress").glob("part-*.json"))) <= before and time.time() < deadline:
            assert writer.poll() is None, writer.stderr.read()[-2000:]
            time.sleep(0.01)
        time.sleep(rng.uniform(0.0, 0.3))
        writer.send_signal(signal.SIGKILL)
        writer.wait()
        inside_a_commit += writer.stdout.read().splitlines()[-1].startswith("begin")
        left = half_done_files(out)
        files_half_written += bool(left)

        store = OutputStore(str(out))
        progress = store.scan()
        # What the kill left half written is set aside, not deleted: every such file, once, and nothing else.
        moved = [str(p.relative_to(out / entry["moved_to"])) for entry in progress.set_aside
                 for p in (out / entry["moved_to"]).rglob("*") if p.is_file() and p.name != "SET_ASIDE.json"]
        assert half_done_files(out) == [] and sorted(moved) == sorted(left)
        shards = sorted((out / "data").glob("part-*.parquet"))
        assert progress.next_part == len(shards) and progress.rows == set(range(4 * len(shards)))
        row_ids = store.read_examples(columns=["row_id"]).column("row_id").to_pylist()
        assert sorted(row_ids) == list(range(4 * len(shards)))  # no gap, no duplicate
        assert all(pq.read_metadata(shard).num_rows == 4 for shard in shards)
    # Without kills that land inside a commit this test would prove nothing (~3 in 4 do: a commit takes ~20 ms
    # here, making the next shard's text ~7 ms).
    print(f"{inside_a_commit} of {kills} kills inside a commit, {files_half_written} left files half written")
    assert inside_a_commit >= 3 and files_half_written >= 2, (kills, inside_a_commit, files_half_written)
