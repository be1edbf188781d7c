"""Ctrl-C during a real `clingen generate` (Ray and vLLM streaming): one line and exit status 130, no traceback;
while it ran, a second generate on its folder was refused at once naming it; its committed shards stay and
read back whole."""

import os
import signal
import subprocess
import sys
import time

import pytest

from clingen.runfolder.store import OutputStore

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def command(out) -> list[str]:
    return [sys.executable, "-m", "clingen", "generate", "--task", "gad", "--n", "400", "--out", str(out),
            "--set", "generation.shard_rows=4", "--set", "generator.batch_size=4",
            "--set", "generator.max_concurrent_batches=2", "--set", "generator.model.max_model_len=1536"]


def test_ctrl_c_during_a_real_generate_is_one_line_and_exit_130(smollm2_dir, tmp_path):
    out = tmp_path / "gad"
    env = {**os.environ, "RAY_AUTH_MODE": "token", "VLLM_HOST_IP": "127.0.0.1"}
    log = open(tmp_path / "first.log", "w")
    first = subprocess.Popen(command(out), stdout=subprocess.DEVNULL, stderr=log, env=env, start_new_session=True)
    try:
        deadline = time.time() + 420  # the engine starts, then shards of 4 rows are committed
        while time.time() < deadline and len(list((out / "progress").glob("*.json"))) < 1:
            assert first.poll() is None, (tmp_path / "first.log").read_text()[-3000:]
            time.sleep(0.5)
        second = subprocess.run(command(out), capture_output=True, text=True, env=env, timeout=300)
        assert second.returncode == 2
        assert second.stderr.splitlines()[-1].startswith(
            f"clingen: error: {out} is being written by `clingen generate` (pid {first.pid}, "), second.stderr[-2000:]
        os.killpg(first.pid, signal.SIGINT)  # as a terminal's Ctrl-C: to the whole foreground process group
        first.wait(timeout=300)
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
            first.wait()
    err = (tmp_path / "first.log").read_text()
    assert first.returncode == 130, err[-3000:]
    assert "Traceback" not in err, err[-3000:]
    ours = [line for line in err.splitlines() if line.startswith("clingen: ")]
    assert ours[-1].startswith(f"clingen: interrupted: committed shards are kept in {out}; run the same command "
                               "again to resume"), err[-3000:]
    store = OutputStore(str(out))
    committed = store.scan()
    assert committed.rows and store.read_examples(["row_id"]).num_rows == committed.examples
