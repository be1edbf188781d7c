"""Benchmark: what the generation pipeline itself costs (Ray Data stream, prompt composition, the HTTP stage,
parsing, label checks, deduplication, shard commits), measured against a generator that costs nothing: an
OpenAI-compatible stub on 127.0.0.1 (aiohttp, its own process) that answers every request at once with a valid
NER reply naming the prompt's topic.

    python benchmarks/pipeline_overhead.py [--n 3000] [--concurrency 32] [--batch-size 64] [--json]

Reports start-up (from the call to the first committed shard) and steady-state rows/s (rows after the first
commit over the time after it) separately, and a profile of the driver's main thread: a sampler records its stack
every 5 ms, and the table gives the share of samples each function was on the stack (cumulative) or on top
(self). With --json the last line is one JSON object holding at least `steady_rows_per_s`.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import random
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

os.environ.setdefault("VLLM_HOST_IP", "127.0.0.1")

_TOPIC = re.compile(r"named '([^']+)'")
_WORDS = ("patients cohort study clinical trial onset symptoms diagnosis treatment therapy outcome follow-up "
          "adults children biopsy imaging serum levels genetic variant risk factor incidence prevalence mortality "
          "relapse remission dose response adverse events hospital admission chronic acute severe mild early late "
          "family history screening marker expression pathway mutation carriers siblings twins registry").split()


def serve_stub(port: int) -> None:
    """The stub endpoint: GET /v1/models and POST /v1/chat/completions, answered without delay."""
    from aiohttp import web

    async def models(request):
        return web.json_response({"object": "list", "data": []})

    async def chat(request):
        body = await request.json()
        prompt = body["messages"][-1]["content"]
        match = _TOPIC.search(prompt)
        topic = match.group(1) if match else "asthma"
        rng = random.Random(hash(prompt))
        filler = " ".join(rng.sample(_WORDS, 12))
        sentence = f"In this {filler} report, {topic} was confirmed in most patients."
        content = json.dumps({"sentence": sentence, "entities": [topic]})
        return web.json_response({"id": "stub", "object": "chat.completion", "model": body.get("model"),
                                  "choices": [{"index": 0, "finish_reason": "stop",
                                               "message": {"role": "assistant", "content": content}}],
                                  "usage": {"prompt_tokens": len(prompt) // 4, "completion_tokens": len(content) // 4}})

    app = web.Application()
    app.router.add_get("/v1/models", models)
    app.router.add_post("/v1/chat/completions", chat)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


class StackSampler:
    """Samples one thread's stack every `interval_s` seconds; counts, per function, the samples it was on the stack
    (cumulative) and on top (self)."""

    def __init__(self, thread_id: int, interval_s: float = 0.005):
        self.thread_id, self.interval_s = thread_id, interval_s
        self.samples, self.cumulative, self.self_ = 0, collections.Counter(), collections.Counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> "StackSampler":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> bool:
        self._stop.set()
        self._thread.join()
        return False

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            frame = sys._current_frames().get(self.thread_id)
            if frame is None:
                continue
            self.samples += 1
            self.self_[_name(frame)] += 1
            seen = set()
            while frame is not None:
                seen.add(_name(frame))
                frame = frame.f_back
            self.cumulative.update(seen)

    def table(self, top: int = 15) -> list[dict]:
        total = max(self.samples, 1)
        return [{"function": name, "cumulative": round(count / total, 3), "self": round(self.self_[name] / total, 3)}
                for name, count in self.cumulative.most_common(top)]


def _name(frame) -> str:
    path = frame.f_code.co_filename
    for marker in ("site-packages/", "clingen/", "benchmarks/"):
        if marker in path:
            path = path[path.index(marker) + len(marker) if marker == "site-packages/" else path.index(marker):]
            break
    return f"{frame.f_code.co_name} ({path}:{frame.f_code.co_firstlineno})"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_stub() -> tuple[subprocess.Popen, str]:
    port = free_port()
    stub = subprocess.Popen([sys.executable, __file__, "--serve-stub", str(port)])
    url = f"http://127.0.0.1:{port}/v1"
    wait_for_stub(stub, url)
    return stub, url


def wait_for_stub(stub: subprocess.Popen, url: str) -> None:
    """Until the stub at `url` (its /v1 base) answers /models: the event it needs, within 60 s, else SystemExit."""
    deadline = time.time() + 60
    while True:
        try:
            urllib.request.urlopen(f"{url}/models", timeout=2).read()
            return
        except OSError:
            if time.time() > deadline or stub.poll() is not None:
                stub.kill()
                raise SystemExit(f"the stub endpoint on {url} did not start")
            time.sleep(0.2)


def run(n: int, concurrency: int, batch_size: int, out: Path) -> dict:
    from clingen.config import load_config
    from clingen.generation.job import run_generation
    stub, url = start_stub()
    try:
        config = load_config(overrides=["task=ncbi-disease", "generator.backend=http", f"generator.url={url}",
                                        "generator.model.source=stub", f"generation.n={n}", f"generation.out={out}",
                                        f"generator.http_concurrency={concurrency}",
                                        f"generator.batch_size={batch_size}"])
        marks = {"first_commit": None, "rows_at_first_commit": 0, "last_row": None}
        progress = out / "progress"

        def on_row(counters, todo: int) -> None:
            now = time.perf_counter()
            marks["last_row"] = now
            if marks["first_commit"] is None and progress.is_dir() and any(progress.glob("part-*.json")):
                marks["first_commit"], marks["rows_at_first_commit"] = now, counters.rows

        started = time.perf_counter()
        with StackSampler(threading.get_ident()) as sampler:
            report = run_generation(config, on_row=on_row, quiet=True)
        ended = time.perf_counter()
    finally:
        stub.kill()
        stub.wait()
    first = marks["first_commit"] or ended
    steady_rows = n - marks["rows_at_first_commit"]
    steady_s = max((marks["last_row"] or ended) - first, 1e-9)
    return {"n": n, "concurrency": concurrency, "batch_size": batch_size, "examples": report.manifest.counts.examples,
            "total_s": round(ended - started, 2), "startup_s": round(first - started, 2),
            "overall_rows_per_s": round(n / (ended - started), 1),
            "steady_rows": steady_rows, "steady_rows_per_s": round(steady_rows / steady_s, 1),
            "driver_profile": sampler.table()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=3000, help="prompt rows")
    parser.add_argument("--concurrency", type=int, default=32, help="generator.http_concurrency")
    parser.add_argument("--batch-size", type=int, default=64, help="generator.batch_size")
    parser.add_argument("--json", action="store_true", help="end with one JSON line of the results")
    parser.add_argument("--serve-stub", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_stub:
        serve_stub(args.serve_stub)
        return
    with tempfile.TemporaryDirectory() as folder:
        result = run(args.n, args.concurrency, args.batch_size, Path(folder) / "out")
    print(f"{result['n']} rows, {result['examples']} examples: start-up {result['startup_s']} s to the first "
          f"committed shard, then {result['steady_rows_per_s']} rows/s steady ({result['overall_rows_per_s']} rows/s "
          f"overall, {result['total_s']} s)")
    print("driver main thread, share of samples  cumulative  self")
    for entry in result["driver_profile"]:
        print(f"  {entry['function'][:90]:<90} {entry['cumulative']:>6.1%} {entry['self']:>6.1%}")
    if args.json:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
