"""A killed generation run resumes without duplicates or gaps (a real run, killed with SIGKILL)."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from clingen.generation.store import OutputStore

pytestmark = [pytest.mark.integration, pytest.mark.slow]
N = 48


def command(out: Path) -> list[str]:
    return [sys.executable, "-m", "clingen", "generate", "--task", "gad", "--n", str(N), "--out", str(out),
            "--set", "generation.shard_rows=4", "--set", "generator.batch_size=4",
            "--set", "generator.max_concurrent_batches=2",
            "--set", "generator.model.max_model_len=1536"]


def test_killed_run_resumes_without_duplicates_or_gaps(smollm2_dir, tmp_path):
    out = tmp_path / "gad"
    env = {**os.environ, "RAY_AUTH_MODE": "disabled", "VLLM_HOST_IP": "127.0.0.1"}
    log = open(tmp_path / "first.log", "w")
    first = subprocess.Popen(command(out), stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    try:
        deadline = time.time() + 420
        while time.time() < deadline and len(list((out / "progress").glob("*.json"))) < 2:
            assert first.poll() is None, (tmp_path / "first.log").read_text()[-3000:]
            time.sleep(0.5)
    finally:
        os.killpg(first.pid, signal.SIGKILL)  # the driver and the Ray processes it started
        first.wait()
    killed = OutputStore(str(out)).scan()
    assert 0 < len(killed.rows) < N, "the kill should land part-way through the run"
    committed_before = sorted(p.name for p in (out / "progress").glob("*.json"))

    second = subprocess.run(command(out), capture_output=True, text=True, env=env, timeout=600)
    assert second.returncode == 0, second.stdout[-2000:] + second.stderr[-3000:]
    store = OutputStore(str(out))
    progress = store.scan()
    assert progress.rows == set(range(N))
    examples = store.read_examples()
    example_rows = examples.column("row_id").to_pylist()
    assert len(example_rows) == len(set(example_rows)) == progress.examples
    failure_rows = set(store.read_failures().column("row_id").to_pylist())
    assert set(example_rows) | failure_rows == set(range(N))
    assert set(committed_before) <= {p.name for p in (out / "progress").glob("*.json")}
    manifest = store.read_manifest()
    assert manifest["complete"] and manifest["counts"]["rows_done"] == N
    assert manifest["runs"][-1]["rows"] == N - len(killed.rows)
