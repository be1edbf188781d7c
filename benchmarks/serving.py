"""Benchmark: a bounded load test of the classifier service on 127.0.0.1, with dynamic batching on and off,
at concurrency 1, 8 and 32, in one run: requests/s, p50/p99 latency and errors.

    python benchmarks/serving.py --model runs/sanity/gad [--requests 200] [--seconds 30]

Each level sends at most --requests requests or runs at most --seconds, whichever ends first; every request
carries one GAD-style sentence. Only 127.0.0.1 is ever contacted.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import threading
import time

os.environ.setdefault("RAY_AUTH_MODE", "disabled")

SENTENCE = "Polymorphisms of @GENE$ were associated with an increased risk of @DISEASE$ in this cohort."


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def load(url: str, concurrency: int, max_requests: int, max_seconds: float) -> dict:
    """`concurrency` threads share a request budget; each keeps one request in flight."""
    import requests
    latencies, errors, lock = [], [0], threading.Lock()
    budget = [max_requests]
    deadline = time.perf_counter() + max_seconds

    def worker() -> None:
        session = requests.Session()
        while time.perf_counter() < deadline:
            with lock:
                if budget[0] == 0:
                    return
                budget[0] -= 1
            started = time.perf_counter()
            try:
                ok = session.post(url, json={"inputs": [{"text": SENTENCE}]}, timeout=60).status_code == 200
            except requests.RequestException:
                ok = False
            with lock:
                latencies.append(time.perf_counter() - started) if ok else None
                errors[0] += not ok

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    ordered = sorted(latencies) or [float("nan")]
    return {"requests_per_s": len(latencies) / wall, "p50_ms": 1000 * statistics.median(ordered),
            "p99_ms": 1000 * ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))], "errors": errors[0],
            "done": len(latencies)}


def run_level_set(model: str, batching: bool, args) -> dict[int, dict]:
    from ray import serve

    from clingen.serving.classifier_app import build_app
    port = free_port()
    serve.start(http_options={"host": "127.0.0.1", "port": port})
    app = build_app({"models": {"m": model}, "max_batch_size": 32 if batching else 1,
                     "batch_wait_timeout_s": args.wait, "max_ongoing_requests": 64})
    serve.run(app, name="bench", route_prefix="/")
    url = f"http://127.0.0.1:{port}/v1/models/m/predict"
    load(url, 4, 20, 10)  # warm-up
    results = {level: load(url, level, args.requests, args.seconds) for level in (1, 8, 32)}
    serve.delete("bench")
    serve.shutdown()
    return results


def main() -> None:
    import ray
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="a `clingen train` output folder")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--wait", type=float, default=0.005, help="batch_wait_timeout_s with batching on")
    args = parser.parse_args()
    ray.init(address="local", num_cpus=4, include_dashboard=False, log_to_driver=False)
    table = {mode: run_level_set(args.model, mode == "on", args) for mode in ("off", "on")}
    print(f"{'batching':<9}{'concurrency':>12}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}")
    for mode, levels in table.items():
        for level, r in levels.items():
            print(f"{mode:<9}{level:>12}{r['requests_per_s']:>9.1f}{r['p50_ms']:>9.1f}{r['p99_ms']:>9.1f}{r['errors']:>8}")
    gain = table["on"][32]["requests_per_s"] / table["off"][32]["requests_per_s"]
    print(f"throughput at concurrency 32, batching on / off: {gain:.2f}x; "
          f"errors in all: {sum(r['errors'] for levels in table.values() for r in levels.values())}")
    ray.shutdown()


if __name__ == "__main__":
    main()
