"""Benchmark: the three generator backends on the same prompts, in one run: `serve` (Ray Data calls the Ray Serve
generator's deployment handle), `http` (the same Serve application over its OpenAI-compatible HTTP route) and
`vllm` (an engine owned by the job, started after the Serve application is deleted, so that the two engines do
not share the cores).

    python benchmarks/backends.py [--task ncbi-disease] [--n 64] [--json]

Per backend: wall time, start-up (from the call to the first parsed row reaching the driver), steady-state rows/s
and output tokens/s (the window from the first row to the last), and examples kept. The Serve application's own
start-up (its engine) is left out of `serve` and `http`: a long-lived deployment pays it once. With --json the last
line is one JSON object, one entry per backend.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import tempfile
import time
import urllib.request

os.environ.setdefault("VLLM_HOST_IP", "127.0.0.1")
os.environ.setdefault("RAY_AUTH_MODE", "disabled")

from generation import SteadyWindow  # noqa: E402  (benchmarks/generation.py, beside this file)

APP, MODEL_ID = "generator", "clingen-generator"


def start_serve_generator(port: int, max_model_len: int) -> str:
    """The Serve generator app on 127.0.0.1:`port`, ready; returns its OpenAI base URL."""
    from ray import serve

    from clingen.serving.generator_app import build_generator_app
    serve.start(http_options={"host": "127.0.0.1", "port": port})
    serve.run(build_generator_app({"model_id": MODEL_ID, "max_model_len": max_model_len}), name=APP,
              route_prefix="/", blocking=False)
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.time() + 600
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/models", timeout=5) as response:
                if response.status == 200:
                    return url
        except OSError:
            pass
        time.sleep(2)
    raise TimeoutError(f"the Serve generator at {url} was not ready in 600 s")


def run_backend(name: str, base: list[str], work: str, path: str | None) -> dict:
    from clingen.config import load_config
    from clingen.generation.job import run_generation
    config = load_config(path if path and os.path.exists(path) else None, [*base, f"generation.out={work}/{name}"])
    window = SteadyWindow()
    started = time.perf_counter()
    manifest = run_generation(config, on_row=window, quiet=True).manifest
    wall = time.perf_counter() - started
    rows_per_s, tokens_per_s = window.rows_per_s(), window.tokens_per_s()
    return {"backend": name, "wall_s": round(wall, 1), "startup_s": round(window.first_s - started, 1),
            "steady_rows_per_s": None if rows_per_s is None else round(rows_per_s, 2),
            "steady_tokens_per_s": None if tokens_per_s is None else round(tokens_per_s, 1),
            "examples": manifest.counts.examples,
            "completion_tokens": manifest.tokens.completion, "generation_errors": manifest.counts.generation_errors}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="ncbi-disease")
    parser.add_argument("--n", type=int, default=96)
    parser.add_argument("--config", default="configs/ncbi-disease.cpu.yaml")
    parser.add_argument("--max-model-len", type=int, default=1536)
    parser.add_argument("--json", action="store_true", help="end with one JSON line of the figures")
    args = parser.parse_args()
    import ray
    from ray import serve
    ray.init(address="local", num_cpus=8, include_dashboard=False, log_to_driver=False)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = start_serve_generator(port, args.max_model_len)
    work = tempfile.mkdtemp(prefix="clingen-backends-")
    base = [f"task={args.task}", f"generation.n={args.n}", f"generator.model.max_model_len={args.max_model_len}"]
    served = [*base, f"generator.model.source={MODEL_ID}"]
    results = [run_backend("serve", [*served, "generator.backend=serve", f"generator.serve_app={APP}"], work, args.config),
               run_backend("http", [*served, "generator.backend=http", f"generator.url={url}"], work, args.config)]
    serve.delete(APP)
    serve.shutdown()
    results.append(run_backend("vllm", [*base, "generator.backend=vllm"], work, args.config))
    for r in results:
        print(f"{r['backend']:>5}: {r['wall_s']:.1f}s wall, first row after {r['startup_s']:.1f}s, then "
              f"{r['steady_rows_per_s']} rows/s, {r['steady_tokens_per_s']} output tokens/s; {r['examples']} "
              f"examples, {r['generation_errors']} generation errors")
    vllm = results[-1]["steady_tokens_per_s"] or float("nan")
    print("steady output tokens/s against the job-owned engine: "
          + ", ".join(f"{r['backend']} {(r['steady_tokens_per_s'] or float('nan')) / vllm:.2f}x" for r in results[:2]))
    if args.json:
        print(json.dumps({"task": args.task, "n": args.n, "backends": results}))


if __name__ == "__main__":
    main()
