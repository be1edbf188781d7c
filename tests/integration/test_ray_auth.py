"""The local Ray instance ClinGen starts guards its control plane with token authentication: Ray 2.60's gRPC
servers listen on every interface, so a process without the token must be refused, and the token file must be
private to its owner."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

START = """
import json, sys, ray
from clingen.config import load_config
from clingen.cluster import ensure_ray
ensure_ray(load_config(overrides=["cluster.num_cpus=1"]))
print("GCS=" + json.dumps({"gcs": ray.get_runtime_context().gcs_address}), flush=True)
sys.stdin.read()  # keep the instance up until the test closes stdin
"""
JOIN = "import ray; ray.init(address='{gcs}'); print('JOINED', ray.get(ray.remote(lambda: 6 * 7).remote()))"


def test_a_process_without_the_token_cannot_join_the_local_instance(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("RAY_AUTH_MODE", "RAY_ADDRESS", "RAY_AUTH_TOKEN")}
    owner = subprocess.Popen([sys.executable, "-c", START], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, text=True, env=env)
    try:
        lines = iter(owner.stdout.readline, "")
        gcs = next(json.loads(line[4:])["gcs"] for line in lines if line.startswith("GCS="))
        token_file = Path(os.environ.get("RAY_AUTH_TOKEN_PATH") or Path.home() / ".ray" / "auth_token")
        assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
        intruder = subprocess.run([sys.executable, "-c", JOIN.format(gcs=gcs)], capture_output=True, text=True,
                                  timeout=120, env={**env, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": "0" * 32})
        assert intruder.returncode != 0 and "JOINED" not in intruder.stdout
        member = subprocess.run([sys.executable, "-c", JOIN.format(gcs=gcs)], capture_output=True, text=True,
                                timeout=120, env={**env, "RAY_AUTH_MODE": "token"})
        assert "JOINED 42" in member.stdout, member.stderr[-2000:]
    finally:
        owner.stdin.close()
        owner.wait(timeout=60)
