"""The cluster path, tested on one machine: `ray job submit` to a real local head, several raylets standing in
for GPU node types (ray.cluster_utils.Cluster), a worker node killed mid-generation, and the autoscaler's
fake multi-node provider adding and removing nodes. These run last (see conftest): they replace the
session's Ray instance."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

from clingen.config import load_config
from clingen.errors import ConfigError
from clingen.generation.job import GenerationFailed, run_generation
from tests.integration.conftest import free_port
from tests.integration.test_generation import check_no_gaps_no_duplicates

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.cluster]
ROOT = Path(__file__).resolve().parents[2]
# The venv's `ray` command, whether or not the venv is activated (CI runs .venv/bin/python -m pytest).
RAY_CLI = str(Path(sys.executable).parent / "ray")
# The job-submit test's head runs without token auth, like its driver (the job CLI, with this same env): Ray
# 2.60's job CLI could not reach a token-auth head's dashboard here (ConnectionError at its version check).
# ClinGen's own local instances keep Ray's token auth (test_ray_auth.py).
ENV = {**os.environ, "RAY_AUTH_MODE": "disabled", "VLLM_HOST_IP": "127.0.0.1",
       "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}


def generation_config(out: Path, n: int, *extra: str):
    return load_config(overrides=["task=ncbi-disease", f"generation.n={n}", f"generation.out={out}",
                                  "generation.shard_rows=4", "generator.batch_size=4",
                                  "generator.max_concurrent_batches=2", "generator.model.max_model_len=1536",
                                  "cluster.local_paths_are_shared=true", *extra])  # several raylets, one disk


def test_ray_job_submit_to_a_local_head(smollm2_dir, tmp_path):
    import ray
    # The session's Ray instance (earlier tests) holds the default agent ports; the head's job agent must
    # not lose that race, or the dashboard has "No available agent to submit job".
    ray.shutdown()
    port, dashboard, agent, agent_grpc = free_port(), free_port(), free_port(), free_port()
    head = subprocess.Popen([RAY_CLI, "start", "--head", "--block", f"--port={port}", "--num-cpus=8",
                             "--dashboard-host=127.0.0.1", f"--dashboard-port={dashboard}",
                             f"--dashboard-agent-listen-port={agent}", f"--dashboard-agent-grpc-port={agent_grpc}",
                             "--include-dashboard=true"],
                            env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        address = f"http://127.0.0.1:{dashboard}"
        _wait_for_dashboard(address, head)
        deadline = time.time() + 120
        while True:
            submission = f"clingen-test-{uuid.uuid4().hex[:8]}"
            job = subprocess.run([RAY_CLI, "job", "submit", "--address", address, "--working-dir", str(ROOT),
                                  "--runtime-env", str(ROOT / "ray_jobs/runtime_env.yaml"), "--submission-id",
                                  submission, "--", "python", "ray_jobs/generate.py", "--task", "ncbi-disease",
                                  "--n", "8", "--out", str(tmp_path / "job-out")],
                                 env=ENV, capture_output=True, text=True, timeout=600)
            # The dashboard answers before the head's job agent has registered; Ray says so and asks
            # for a retry, which is what a user would do too.
            if "No available agent" not in job.stdout + job.stderr or time.time() > deadline:
                break
            time.sleep(2)
        assert job.returncode == 0, job.stdout[-3000:] + job.stderr[-2000:]
        assert f"Job '{submission}' succeeded" in job.stdout + job.stderr
        manifest = check_no_gaps_no_duplicates(str(tmp_path / "job-out"), 8)
        assert manifest.complete and manifest.counts.prompts == 8
    finally:
        os.killpg(head.pid, signal.SIGKILL)  # the head and every process it started, whatever happened
        head.wait()


def _wait_for_dashboard(address: str, head: subprocess.Popen, timeout: float = 120) -> None:
    import requests
    deadline = time.time() + timeout
    while time.time() < deadline:
        assert head.poll() is None, "ray start --head exited early"
        try:
            # With token authentication (Ray's default) the API answers 401 without the token: it is up.
            if requests.get(f"{address}/api/version", timeout=2).status_code in (200, 401):
                return
        except requests.RequestException:
            pass
        time.sleep(1)
    raise TimeoutError(f"the Ray dashboard at {address} did not come up in {timeout}s")


class ResourceWatch:
    """Samples, once a second, how much of a custom resource is in use across the cluster and how many
    nodes are alive, so a test can show replicas or workers ran on several nodes at once."""

    def __init__(self, resource: str):
        self.resource, self.samples, self._stop = resource, [], threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        import ray
        while not self._stop.is_set():
            try:
                total = ray.cluster_resources().get(self.resource, 0)
                used = total - ray.available_resources().get(self.resource, 0)
                alive = sum(1 for node in ray.nodes() if node["Alive"])
                self.samples.append({"t": time.time(), "used": used, "total": total, "nodes": alive})
            except Exception:  # the cluster is changing under us; the next sample will do
                pass
            time.sleep(1)

    @property
    def peak_used(self) -> float:
        return max((s["used"] for s in self.samples), default=0)


@pytest.fixture
def three_node_cluster():
    """A head (4 CPUs) and two worker nodes, each standing in for one GPU node of every kind."""
    import ray
    from ray.cluster_utils import Cluster
    ray.shutdown()
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 4})
    nodes = [cluster.add_node(num_cpus=2, resources={"generator_gpu": 1, "trainer_gpu": 1}) for _ in range(2)]
    ray.init(address=cluster.address)
    yield cluster, nodes
    ray.shutdown()
    cluster.shutdown()


def test_generation_and_training_spread_across_nodes(three_node_cluster, smollm2_dir, tmp_path):
    out = tmp_path / "spread"
    with ResourceWatch("generator_gpu") as watch:
        report = run_generation(generation_config(out, 16, "generator.replicas=2",
                                                  "generator.replica_resources={generator_gpu: 1}"))
    assert report.complete
    assert watch.peak_used == 2  # two engine replicas at once: one per node, as each node has one unit

    from clingen.training.run import run_training
    from tests.integration.synthetic_sets import relation_records, write_generation_output
    write_generation_output(str(tmp_path / "gad"), "gad", relation_records(48))
    config = load_config(overrides=["task=gad", "training.num_workers=2", "training.epochs=1",
                                    "training.batch_size=8", "training.max_length=32",
                                    "training.worker_resources={trainer_gpu: 1}",
                                    "cluster.local_paths_are_shared=true", f"training.storage_path={tmp_path / 'ray'}"])
    with ResourceWatch("trainer_gpu") as watch:
        run_training(config, str(tmp_path / "gad"), None, tmp_path / "model")
    assert watch.peak_used == 2 and (tmp_path / "model/model_card.json").is_file()


def test_local_output_paths_are_refused_on_a_multi_node_cluster(three_node_cluster, tmp_path):
    config = load_config(overrides=[f"generation.out={tmp_path / 'x'}", "generation.n=4"])
    with pytest.raises(ConfigError, match=r"this Ray cluster has 3 nodes but \{'generation.out': .*\} is a local path"):
        run_generation(config)


def test_killing_a_worker_node_mid_generation_loses_nothing(three_node_cluster, smollm2_dir, tmp_path):
    cluster, nodes = three_node_cluster
    out, n = tmp_path / "kill", 48
    config = generation_config(out, n, "generator.replicas=2", "generator.replica_resources={generator_gpu: 1}")
    outcome = {}

    def generate():
        try:
            outcome["report"] = run_generation(config)
        except GenerationFailed as exc:
            outcome["error"] = exc

    runner = threading.Thread(target=generate)
    runner.start()
    deadline = time.time() + 300
    while time.time() < deadline and not list((out / "progress").glob("*.json")):
        time.sleep(0.5)
    cluster.remove_node(nodes[1])  # a GPU node dies mid-run
    cluster.add_node(num_cpus=2, resources={"generator_gpu": 1, "trainer_gpu": 1})  # the autoscaler's replacement
    runner.join(timeout=600)
    assert not runner.is_alive(), "the job neither finished nor failed after losing a node"
    if "error" in outcome:  # the job failed fast; the resume path finishes it
        run_generation(config)
    manifest = check_no_gaps_no_duplicates(str(out), n)
    assert manifest.complete


def test_autoscaler_adds_nodes_for_replicas_and_removes_them_when_idle(smollm2_dir, tmp_path):
    """Ray's fake multi-node provider launches generation nodes when two replicas ask for more
    generator_gpu than the head has, and removes them after the idle timeout."""
    import ray
    ray.shutdown()
    import yaml
    port = free_port()
    config = yaml.safe_load((ROOT / "tests/fixtures/autoscaler/fake_multinode.yaml").read_text())
    # Launched nodes must find this head's GCS, which is not on the default port.
    config["provider"]["gcs_address"] = f"{ray.util.get_node_ip_address()}:{port}"
    (tmp_path / "autoscaler.yaml").write_text(yaml.safe_dump(config))
    # This head is joined by the test's own driver, which runs with token auth (tests/conftest.py); a head
    # without it let the driver connect but cancelled its first actor's creation (ActorDiedError, "never ran").
    env = {**ENV, "RAY_AUTH_MODE": "token", "AUTOSCALER_UPDATE_INTERVAL_S": "1", "RAY_FAKE_CLUSTER": "1"}
    head = subprocess.Popen([RAY_CLI, "start", "--head", "--block", f"--port={port}", "--num-cpus=4",
                             f"--autoscaling-config={tmp_path / 'autoscaler.yaml'}"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _connect(f"127.0.0.1:{port}", head)
        with ResourceWatch("generator_gpu") as watch:
            report = run_generation(generation_config(tmp_path / "auto", 8, "generator.replicas=2",
                                                      "generator.replica_resources={generator_gpu: 1}"))
            deadline = time.time() + 180
            while time.time() < deadline and (len(watch.samples) < 2 or watch.samples[-1]["nodes"] > 1):
                time.sleep(2)
        timeline = [{"t": round(s["t"] - watch.samples[0]["t"], 1), "nodes": s["nodes"], "used": s["used"]}
                    for s in watch.samples]
        (tmp_path / "node_timeline.json").write_text(json.dumps(timeline))
        print("node count over time (s, nodes):", [(s["t"], s["nodes"]) for s in timeline[::5]])
        assert report.complete
        assert max(s["nodes"] for s in timeline) == 3  # head + two generation nodes launched on demand
        assert timeline[-1]["nodes"] == 1  # both removed after the idle timeout
    finally:
        ray.shutdown()
        os.killpg(head.pid, signal.SIGKILL)
        head.wait()


def _connect(address: str, head: subprocess.Popen, timeout: float = 120) -> None:
    import ray
    deadline = time.time() + timeout
    while True:
        assert head.poll() is None, "ray start --head exited early"
        try:
            ray.init(address=address)
            return
        except (ConnectionError, RuntimeError):
            if time.time() > deadline:
                raise
            time.sleep(2)
