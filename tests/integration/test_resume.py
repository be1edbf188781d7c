"""A killed generation run resumes without duplicates or gaps (a real run, killed with SIGKILL), at another scale,
grown to a larger n, and with a damaged shard set aside and regenerated."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from clingen.config import load_config
from clingen.errors import ConfigError
from clingen.generation.job import run_generation
from clingen.runfolder.store import OutputStore
from tests.helpers_load import assert_loads_as_folder

pytestmark = [pytest.mark.integration, pytest.mark.slow]
N = 48


GROWN = N + 4


def command(out: Path, n: int = N, shard_rows: int = 4, batch_size: int = 4) -> list[str]:
    return [sys.executable, "-m", "clingen", "generate", "--task", "gad", "--n", str(n), "--out", str(out),
            "--set", f"generation.shard_rows={shard_rows}", "--set", f"generator.batch_size={batch_size}",
            "--set", "generator.max_concurrent_batches=2",
            "--set", "generator.model.max_model_len=1536"]


def test_killed_run_resumes_without_duplicates_or_gaps(smollm2_dir, tmp_path):
    out = tmp_path / "gad"
    env = {**os.environ, "RAY_AUTH_MODE": "token", "VLLM_HOST_IP": "127.0.0.1"}
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
    started = OutputStore(str(out)).read_manifest()  # written before the first shard
    assert started.complete is False and started.runs == []
    with pytest.raises(ConfigError, match="settings that differ: seed"):
        run_generation(load_config(overrides=["task=gad", f"generation.out={out}", f"generation.n={N}", "seed=1",
                                              "generator.model.max_model_len=1536"]))
    # Damage the first committed shard: the resume sets it aside and regenerates its rows.
    damaged = out / "data/part-000000.parquet"
    damaged.write_bytes(damaged.read_bytes()[:-16])
    lost = set(OutputStore(str(out), create=False).read_json(str(out / "progress/part-000000.json"))["rows"])

    # Resume at another scale (batches, shard size) and grow the dataset by 4 rows.
    second = subprocess.run([*command(out, n=GROWN, shard_rows=6, batch_size=8), "--json"], capture_output=True,
                            text=True, env=env, timeout=900)
    assert second.returncode == 0, second.stdout[-2000:] + second.stderr[-3000:]
    assert "set aside part-000000: data/part-000000.parquet differs from its marker" in second.stderr
    # A quiet console: Ray's and vLLM's logs stay in Ray's log folder; stdout is one JSON summary.
    # Off a terminal the progress line is repeated every 30 s, so a slow machine prints more of them: count the rest.
    progress = [line for line in second.stderr.splitlines() if line.startswith("gad: ") and " rows | " in line]
    others = [line for line in second.stderr.splitlines() if line not in progress]
    assert progress and len(second.stdout.splitlines()) + len(others) <= 40, second.stderr[-4000:]
    summary = json.loads(second.stdout)
    assert summary["counts"]["rows_done"] == GROWN and summary["set_aside"][0]["part"] == "part-000000"
    # ... and are copied into the run folder: the engine's own output (vLLM's startup lines) is among them.
    logs = Path(summary["logs"])
    assert logs.parent == out / "logs" and (logs / "raylet.out").is_file()
    assert any("vllm" in path.read_text(errors="replace").lower() for path in logs.glob("worker-*"))
    store = OutputStore(str(out))
    progress = store.scan()
    assert progress.rows == set(range(GROWN)) and progress.set_aside == []
    examples = store.read_examples()
    example_rows = examples.column("row_id").to_pylist()
    assert len(example_rows) == len(set(example_rows)) == progress.examples
    failure_rows = set(store.read_failures().column("row_id").to_pylist())
    assert set(example_rows) | failure_rows == set(range(GROWN))
    manifest = store.read_manifest()
    assert manifest.complete and manifest.counts.rows_done == GROWN
    assert manifest.fingerprint == started.fingerprint
    assert manifest.runs[-1].rows == GROWN - len(killed.rows) + len(lost)
    # The kill's half-written shards were set aside (never deleted) by the scan above; the damaged one by the resume.
    [aside] = [entry for entry in manifest.set_aside if "differs from its marker" in entry["problem"]]
    assert all("no progress marker" in entry["problem"] or "partial write" in entry["problem"]
               for entry in manifest.set_aside if entry is not aside)
    assert aside["part"] == "part-000000" and aside["rows"] == len(lost)
    assert (out / aside["moved_to"] / "data/part-000000.parquet").is_file()
    assert_loads_as_folder(out)
