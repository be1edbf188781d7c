"""Benchmark: generation at the speed of the endpoint. Starts an OpenAI-compatible stub on 127.0.0.1 (aiohttp, its
own process) that answers every chat request after a fixed latency with a valid NER reply naming the prompt's topic,
runs the real `clingen generate` (generator.backend=http) through it, then, against the same stub, a plain asyncio
aiohttp client with the same in-flight limit (a semaphore), and compares the two.

    python benchmarks/endpoint.py --latency S --n N [--rate-limit-every K] [--max-concurrency C [--queue]]
                                  [--in-flight M] [--workers W] [--set KEY=VALUE ...]

Rows/s are measured at the stub, for both clients alike: replies answered 200 over the time from the first request
that reached it to the last reply it sent (so Ray's start-up is not counted; `clingen_wall_s` has it), and
`*_steady_rows_per_s` over the middle 80% of those replies. `--rate-limit-every K`: every K-th request is
answered 429 with `Retry-After: 1`; `--max-concurrency C`: requests beyond C at once are answered 503 (or, with
`--queue`, wait their turn). ClinGen runs with its default settings unless --in-flight, --workers or --set say
otherwise; the plain client's limit is generator.max_in_flight x generator.http_concurrency. The last line is
one JSON object with both rows/s and their ratio (clingen / plain).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pipeline_overhead import free_port, wait_for_stub  # noqa: E402 (a sibling script)

_TOPIC = re.compile(r"named '([^']+)'")
_WORDS = ("patients cohort study clinical trial onset symptoms diagnosis treatment therapy outcome follow-up "
          "adults children biopsy imaging serum levels genetic variant risk factor incidence prevalence mortality "
          "relapse remission dose response adverse events hospital admission chronic acute severe mild early late "
          "family history screening marker expression pathway mutation carriers siblings twins registry").split()


def ner_completion(body: dict) -> dict:
    """A chat.completion naming the prompt's topic in one sentence, with usage."""
    prompt = body["messages"][-1]["content"]
    match = _TOPIC.search(prompt)
    topic = match.group(1) if match else "asthma"
    filler = " ".join(random.Random(prompt).sample(_WORDS, 12))
    content = json.dumps({"sentence": f"In this {filler} report, {topic} was confirmed in most patients.",
                          "entities": [topic]})
    return {"id": "stub", "object": "chat.completion", "model": body.get("model"),
            "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": content}}],
            "usage": {"prompt_tokens": len(prompt) // 4, "completion_tokens": len(content) // 4}}


def serve_stub(port: int, latency: float, rate_limit_every: int, max_concurrency: int, queue: bool) -> None:
    """The stub: GET /v1/models, POST /v1/chat/completions, GET /stats (what it saw), POST /reset."""
    from aiohttp import web
    stats: dict = {}
    gate = asyncio.Semaphore(max_concurrency) if queue and max_concurrency else None

    def reset() -> None:
        stats.update(requests=0, answered=0, rate_limited=0, refused=0, in_flight=0, max_in_flight=0,
                     first_arrival=None, last_reply=None, replies_at=[])

    async def chat(request):
        stats["requests"] += 1
        stats["first_arrival"] = stats["first_arrival"] or time.monotonic()
        if rate_limit_every and stats["requests"] % rate_limit_every == 0:
            stats["rate_limited"] += 1
            return web.json_response({"error": {"message": "rate limited"}}, status=429, headers={"Retry-After": "1"})
        if max_concurrency and not queue and stats["in_flight"] >= max_concurrency:
            stats["refused"] += 1
            return web.json_response({"error": {"message": "overloaded"}}, status=503)
        body = await request.json()
        stats["in_flight"] += 1
        stats["max_in_flight"] = max(stats["max_in_flight"], stats["in_flight"])
        try:
            if gate is not None:
                async with gate:
                    await asyncio.sleep(latency)
            elif latency:
                await asyncio.sleep(latency)
            reply = ner_completion(body)
        finally:
            stats["in_flight"] -= 1
        stats["answered"] += 1
        stats["last_reply"] = time.monotonic()
        stats["replies_at"].append(stats["last_reply"])
        return web.json_response(reply)

    async def report(request):
        return web.json_response({**stats, "replies_at": None, **rates(stats)})

    async def restart(request):
        reset()
        return web.json_response({})

    reset()
    app = web.Application()
    async def models(request):
        return web.json_response({"object": "list", "data": []})

    app.router.add_get("/v1/models", models)
    app.router.add_post("/v1/chat/completions", chat)
    app.router.add_get("/stats", report)
    app.router.add_post("/reset", restart)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None, backlog=4096)


def rates(stats: dict) -> dict:
    """rows/s from the first request to the last reply, and over the middle 80% of the replies."""
    times, first = stats["replies_at"], stats["first_arrival"]
    if not times or first is None:
        return {"rows_per_s": 0.0, "steady_rows_per_s": 0.0}
    overall = len(times) / max(times[-1] - first, 1e-9)
    low, high = times[len(times) // 10], times[max(len(times) * 9 // 10 - 1, 0)]
    steady = (len(times) * 9 // 10 - len(times) // 10) / (high - low) if high > low else overall
    return {"rows_per_s": round(overall, 1), "steady_rows_per_s": round(steady, 1)}


def start_stub(args) -> tuple[subprocess.Popen, str]:
    port = free_port()
    stub = subprocess.Popen([sys.executable, __file__, "--serve-stub", str(port), "--latency", str(args.latency),
                             "--rate-limit-every", str(args.rate_limit_every), "--max-concurrency",
                             str(args.max_concurrency), *(["--queue"] if args.queue else [])])
    url = f"http://127.0.0.1:{port}"
    wait_for_stub(stub, f"{url}/v1")
    return stub, url


def stub_call(url: str, path: str, method: str = "GET") -> dict:
    request = urllib.request.Request(url + path, method=method, data=b"" if method == "POST" else None)
    return json.loads(urllib.request.urlopen(request, timeout=10).read())


def run_clingen(url: str, n: int, out: Path, overrides: list[str]) -> dict:
    """`clingen generate --json` through the stub: its summary and wall time."""
    command = [sys.executable, "-m", "clingen", "generate", "--task", "ncbi-disease", "--n", str(n), "--out",
               str(out), "--json", "--set", "generator.backend=http", "--set", f"generator.url={url}/v1",
               "--set", "generator.model.source=stub", *[arg for o in overrides for arg in ("--set", o)]]
    started = time.monotonic()
    done = subprocess.run(command, capture_output=True, text=True)
    wall = time.monotonic() - started
    if done.returncode not in (0, 3):
        raise SystemExit(f"clingen generate failed ({done.returncode}):\n{done.stderr[-4000:]}")
    return {**json.loads(done.stdout.strip().splitlines()[-1]), "wall_s": round(wall, 1)}


async def plain_client(url: str, n: int, in_flight: int) -> None:
    """N chat requests through one aiohttp session, at most `in_flight` at once, each 429 waited out."""
    import aiohttp
    slots = asyncio.Semaphore(in_flight)
    timeout = aiohttp.ClientTimeout(total=300)
    async with aiohttp.ClientSession(timeout=timeout, connector=aiohttp.TCPConnector(limit=in_flight)) as session:
        async def one(i: int) -> None:
            body = {"model": "stub", "messages": [{"role": "user", "content": f"Write about the disease named "
                                                                              f"'disease {i}'."}], "max_tokens": 256}
            while True:
                async with slots, session.post(f"{url}/v1/chat/completions", json=body) as response:
                    await response.read()
                    wait = float(response.headers.get("Retry-After", 1)) if response.status in (429, 503) else None
                if wait is None:
                    return
                await asyncio.sleep(wait)
        await asyncio.gather(*(one(i) for i in range(n)))


def setting(overrides: list[str], key: str) -> int:
    from clingen.config import load_config
    return int(getattr(load_config(overrides=overrides).generator, key))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=1.0, help="seconds the stub takes per reply")
    parser.add_argument("--n", type=int, default=256, help="prompt rows")
    parser.add_argument("--rate-limit-every", type=int, default=0, help="answer every K-th request 429")
    parser.add_argument("--max-concurrency", type=int, default=0, help="the stub's cap on requests at once")
    parser.add_argument("--queue", action="store_true", help="requests over the cap wait instead of a 503")
    parser.add_argument("--in-flight", type=int, help="generator.max_in_flight (default: ClinGen's)")
    parser.add_argument("--workers", type=int, help="generator.http_concurrency (default: ClinGen's)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], help="more KEY=VALUE for ClinGen")
    parser.add_argument("--serve-stub", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_stub:
        serve_stub(args.serve_stub, args.latency, args.rate_limit_every, args.max_concurrency, args.queue)
        return
    overrides = [*args.overrides, *([f"generator.max_in_flight={args.in_flight}"] if args.in_flight else []),
                 *([f"generator.http_concurrency={args.workers}"] if args.workers else [])]
    limit = setting(overrides, "max_in_flight") * setting(overrides, "http_concurrency")
    stub, url = start_stub(args)
    try:
        with tempfile.TemporaryDirectory() as folder:
            summary = run_clingen(url, args.n, Path(folder) / "out", overrides)
        clingen = stub_call(url, "/stats")
        stub_call(url, "/reset", "POST")
        started = time.monotonic()
        asyncio.run(plain_client(url, args.n, limit))
        plain_wall = time.monotonic() - started
        plain = stub_call(url, "/stats")
    finally:
        stub.kill()
        stub.wait()
    result = {"latency_s": args.latency, "n": args.n, "in_flight_limit": limit, "rate_limit_every": args.rate_limit_every,
              "max_concurrency": args.max_concurrency, "clingen_rows_per_s": clingen["rows_per_s"],
              "plain_rows_per_s": plain["rows_per_s"],
              "ratio": round(clingen["rows_per_s"] / max(plain["rows_per_s"], 1e-9), 3),
              "clingen_steady_rows_per_s": clingen["steady_rows_per_s"],
              "plain_steady_rows_per_s": plain["steady_rows_per_s"],
              "clingen_max_concurrent": clingen["max_in_flight"], "plain_max_concurrent": plain["max_in_flight"],
              "clingen_requests": clingen["requests"], "clingen_rate_limited": clingen["rate_limited"],
              "clingen_refused": clingen["refused"], "clingen_wall_s": summary["wall_s"],
              "plain_wall_s": round(plain_wall, 1), "rows_done": summary["counts"]["rows_done"],
              "examples": summary["counts"]["examples"], "tokens": summary["tokens"],
              "generation_errors": summary["run"]["generation_errors"]}
    print(f"{args.n} rows at {args.latency} s latency, {limit} in flight: clingen {result['clingen_rows_per_s']} "
          f"rows/s ({result['clingen_steady_rows_per_s']} steady, at most {result['clingen_max_concurrent']} at once, "
          f"{result['clingen_wall_s']} s with start-up), plain aiohttp {result['plain_rows_per_s']} rows/s "
          f"(at most {result['plain_max_concurrent']} at once): {result['ratio']}x")
    print(json.dumps(result))


if __name__ == "__main__":
    os.environ.setdefault("VLLM_HOST_IP", "127.0.0.1")
    main()
