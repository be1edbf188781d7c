"""The generator hosted on Ray Serve (ray.serve.llm) on 127.0.0.1, reached over real HTTP and through its deployment
handle (generator.backend=serve)."""

import time

import pytest

from clingen.config import load_config
from clingen.errors import ConfigError
from clingen.generation.job import run_generation
from clingen.runfolder.store import OutputStore
from tests.integration.conftest import free_port

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def serve_generator(ray_local, smollm2_dir):
    from ray import serve

    from clingen.serving.generator_app import build_generator_app
    port = free_port()
    serve.start(http_options={"host": "127.0.0.1", "port": port})
    serve.run(build_generator_app({"model_id": "clingen-generator", "max_model_len": 1536}), name="generator",
              route_prefix="/", blocking=False)
    _wait_ready(f"http://127.0.0.1:{port}/v1/models")
    yield f"http://127.0.0.1:{port}/v1"
    serve.delete("generator")
    serve.shutdown()


def _wait_ready(url: str, timeout: float = 300) -> None:
    import time

    import requests
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if requests.get(url, timeout=5).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(2)
    raise TimeoutError(f"the Serve generator at {url} was not ready in {timeout}s")


def test_the_generator_replica_holds_one_cpu(serve_generator):
    """Its engine's bundle and nothing for the replica actor, so that serve_config.yaml's generator and one
    classifier replica fit a 2-CPU machine (ray.serve.llm would add 1 CPU for the replica by default)."""
    from ray.util import placement_group_table
    groups = [group for group in placement_group_table().values()
              if "LLMServer" in group["name"] and group["state"] == "CREATED"]
    assert len(groups) == 1, [group["name"] for group in placement_group_table().values()]
    assert [bundle.get("CPU", 0) for bundle in groups[0]["bundles"].values()] == [1.0]


def test_generation_through_the_serve_endpoint(serve_generator, tmp_path):
    out = str(tmp_path / "http")
    config = load_config(overrides=["task=ncbi-disease", "generation.n=8", f"generation.out={out}",
                                    "generator.backend=http", f"generator.url={serve_generator}",
                                    "generator.model.source=clingen-generator"])
    report = run_generation(config)
    assert report.complete
    progress = OutputStore(out).scan()
    assert progress.rows == set(range(8))
    assert progress.completion_tokens > 0  # usage reported by the endpoint
    reasons = report.manifest.counts.parse_failures_by_reason
    assert "no_json" not in reasons, reasons  # response_format json_schema constrained the replies


def test_generation_through_the_serve_deployment_handle(serve_generator, tmp_path):
    out = str(tmp_path / "handle")
    config = load_config(overrides=["task=ncbi-disease", "generation.n=8", f"generation.out={out}",
                                    "generator.backend=serve", "generator.serve_app=generator",
                                    "generator.model.source=clingen-generator"])
    report = run_generation(config)
    store = OutputStore(out)
    errors = [f["detail"] for f in store.read_failures().to_pylist() if f["reason"] == "generation_error"]
    assert report.manifest.counts.generation_errors == 0, errors[:3]  # no error rows, no ErrorResponses
    assert report.complete
    progress = store.scan()
    assert progress.rows == set(range(8))
    assert progress.completion_tokens > 0  # usage from the ChatCompletionResponse
    reasons = report.manifest.counts.parse_failures_by_reason
    assert "no_json" not in reasons, reasons  # response_format json_schema constrained the replies


def test_a_missing_serve_app_fails_fast_naming_it(serve_generator, tmp_path):
    config = load_config(overrides=["task=ncbi-disease", "generation.n=4", f"generation.out={tmp_path / 'x'}",
                                    "generator.backend=serve", "generator.serve_app=missing",
                                    "generator.model.source=clingen-generator"])
    started = time.monotonic()
    with pytest.raises(ConfigError, match=r"generator.serve_app='missing': no Serve application of that name on "
                                          r"this Ray cluster \(applications: .*generator \(RUNNING\)"):
        run_generation(config)
    assert time.monotonic() - started < 60  # checked before the stream starts
    assert OutputStore(str(tmp_path / "x")).scan().rows == set()


def test_unreachable_endpoint_fails_fast_with_the_cause(ray_local, tmp_path):
    port = free_port()  # nothing listens there
    config = load_config(overrides=["task=ncbi-disease", "generation.n=4", f"generation.out={tmp_path / 'x'}",
                                    "generator.backend=http", f"generator.url=http://127.0.0.1:{port}/v1",
                                    "generator.model.source=clingen-generator"])
    started = time.monotonic()
    with pytest.raises(ConfigError, match=rf"generator.url http://127.0.0.1:{port}/v1 is not reachable"):
        run_generation(config)
    assert time.monotonic() - started < 60  # checked before Ray starts, not after minutes of retries
    assert OutputStore(str(tmp_path / "x")).scan().rows == set()
