"""`clingen generate --examples N` against a real OpenAI-compatible stub on 127.0.0.1 and a real local Ray: rows
are asked for in rounds until N examples are kept; a run killed with SIGKILL resumes to the goal, and a larger
goal grows the same dataset, with no duplicate and no gap; a goal nothing reaches stops, said and recorded."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from clingen.config import load_config
from clingen.generation.job import run_generation
from clingen.generation.rounds import RoundsExhausted
from clingen.runfolder.store import OutputStore
from tests.helpers_load import assert_loads_as_folder
from tests.integration.test_http_stage import Stub

pytestmark = pytest.mark.integration
GOAL, GROWN = 24, 40
SETTINGS = ["generation.shard_rows=8", "generator.http_batch_size=8", "generator.max_in_flight=4"]


def goal_config(stub: Stub, out, examples: int, *overrides):
    return load_config(overrides=["task=ncbi-disease", f"generation.out={out}", f"generation.examples={examples}",
                                  "generator.backend=http", f"generator.url={stub.url}", "generator.model.source=stub",
                                  *SETTINGS, *overrides])


def assert_whole(out) -> tuple[set[int], list[int]]:
    """Done rows without a gap below generation.n, and example rows without a duplicate; both returned."""
    store = OutputStore(str(out))
    progress, manifest = store.scan(), store.read_manifest()
    assert progress.rows == set(range(manifest.counts.prompts)) and manifest.complete
    rows = store.read_examples(["row_id"]).column("row_id").to_pylist()
    assert len(rows) == len(set(rows)) == manifest.counts.examples == progress.examples
    return progress.rows, rows


def test_a_killed_run_reaches_its_goal_and_a_larger_goal_grows_the_same_rows(ray_local, tmp_path):
    out = tmp_path / "goal"
    with Stub(latency=0.25, keep_every=3) as stub:  # a third of the rows kept: more than one round
        command = [sys.executable, "-m", "clingen", "generate", "--task", "ncbi-disease", "--examples", str(GOAL),
                   "--out", str(out), "--set", "generator.backend=http", "--set", f"generator.url={stub.url}",
                   "--set", "generator.model.source=stub", *[a for s in SETTINGS for a in ("--set", s)]]
        log = open(tmp_path / "first.log", "w")
        first = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                 env={**os.environ, "RAY_AUTH_MODE": "token"})
        try:  # killed once its first shard is committed
            deadline = time.time() + 300
            while time.time() < deadline and not list((out / "progress").glob("*.json")):
                assert first.poll() is None, (tmp_path / "first.log").read_text()[-3000:]
                time.sleep(0.2)
        finally:
            os.killpg(first.pid, signal.SIGKILL)
            first.wait()
        killed = OutputStore(str(out)).scan()
        assert 0 < killed.examples < GOAL, "the kill should land before the goal"

        report = run_generation(goal_config(stub, out, GOAL))
        assert report.manifest.counts.examples >= GOAL and report.manifest.runs[-1].examples_goal == GOAL
        rows, examples = assert_whole(out)
        assert killed.rows <= rows
        assert_loads_as_folder(out)

        asked_before = len(stub.arrivals)
        grown = run_generation(goal_config(stub, out, GROWN))
    last = grown.manifest.runs[-1]
    assert grown.manifest.counts.examples >= GROWN and last.examples_goal == GROWN and last.rounds >= 1
    grown_rows, grown_examples = assert_whole(out)
    assert rows < grown_rows and set(examples) < set(grown_examples)
    # Growing asked for each new row once, and for no row that was there (the stub answers every request at once).
    assert len(stub.arrivals) - asked_before == len(grown_rows) - len(rows)
    assert_loads_as_folder(out)


def test_a_goal_no_row_reaches_stops_with_the_reason_and_keeps_what_it_made(ray_local, tmp_path):
    out = tmp_path / "never"
    with Stub(keep_every=10_000) as stub:  # every reply is chat: no row is ever kept
        with pytest.raises(RoundsExhausted, match=r"0 of \d+ rows gave an example, so no number of rows reaches 10"):
            run_generation(goal_config(stub, out, 10))
    manifest = OutputStore(str(out)).read_manifest()
    assert manifest.counts.examples == 0 and manifest.counts.rows_done > 0 and manifest.runs[-1].examples_goal == 10
    assert_loads_as_folder(out)
