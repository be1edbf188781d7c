"""The HTTP generation stage on a real local Ray against a real OpenAI-compatible stub on 127.0.0.1 (aiohttp, port
0, in a thread of the test): many requests in flight (never more than max_in_flight x workers), 429 with
Retry-After waited out with no row lost, 5xx retried and counted, every token the endpoint reported counted, and
an endpoint that dies mid-run failing the run within a minute, named."""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time

import pytest

from clingen.cli.generate import summary_line
from clingen.config import load_config
from clingen.generation.job import GenerationFailed, run_generation

pytestmark = pytest.mark.integration

RETRY_AFTER_S = 0.5
_TOPIC = re.compile(r"named '([^']+)'")


class Stub:
    """/v1/models and /v1/chat/completions. Of the chat requests, in arrival order, every `rate_limit_every`-th
    is answered 429 with Retry-After, every `fail_every`-th 503, and with `dead` every one drops its connection;
    the others after `latency` seconds with an NER reply naming the prompt's topic and its usage (with
    `keep_every` k, only every k-th answer: the others are chat, not JSON, so their rows are rejected). Records
    every arrival (time, prompt), each 429 (time, prompt), the most requests at once and the usage it reported."""

    def __init__(self, latency=0.0, rate_limit_every=0, fail_every=0, dead=False, keep_every=0):
        self.latency, self.rate_limit_every, self.fail_every, self.dead = latency, rate_limit_every, fail_every, dead
        self.keep_every = keep_every
        self.arrivals, self.rate_limited, self.failed = [], [], 0
        self.in_flight = self.most = self.prompt_tokens = self.completion_tokens = self.answered = 0
        self.ready = threading.Event()

    async def chat(self, request):
        from aiohttp import web
        body = await request.json()
        prompt = body["messages"][-1]["content"]
        self.arrivals.append((time.monotonic(), prompt))
        k = len(self.arrivals)
        if self.dead:
            request.transport.close()
            return web.Response()
        if self.rate_limit_every and k % self.rate_limit_every == 0:
            self.rate_limited.append((time.monotonic(), prompt))
            return web.json_response({"error": {"message": "rate limited"}}, status=429,
                                     headers={"Retry-After": str(RETRY_AFTER_S)})
        if self.fail_every and k % self.fail_every == 0:
            self.failed += 1
            return web.Response(status=503, text="overloaded")
        self.in_flight += 1
        self.most = max(self.most, self.in_flight)
        try:
            await asyncio.sleep(self.latency)
        finally:
            self.in_flight -= 1
        match = _TOPIC.search(prompt)
        topic = match.group(1) if match else "asthma"
        content = json.dumps({"sentence": f"In this cohort of adult patients, {topic} was confirmed by biopsy.",
                              "entities": [topic]})
        if self.keep_every and (self.answered + 1) % self.keep_every:
            content = "Sure! I am ready to help. What would you like me to write about?"
        usage = {"prompt_tokens": len(prompt) // 4, "completion_tokens": len(content) // 4}
        self.prompt_tokens += usage["prompt_tokens"]
        self.completion_tokens += usage["completion_tokens"]
        self.answered += 1
        return web.json_response({"object": "chat.completion", "usage": usage, "choices": [
            {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": content}}]})

    def __enter__(self):
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()
        assert self.ready.wait(30), "the stub did not start"
        return self

    def _serve(self):
        from aiohttp import web
        self.loop = asyncio.new_event_loop()
        app = web.Application()
        async def models(request):
            return web.json_response({"object": "list", "data": []})

        app.router.add_get("/v1/models", models)
        app.router.add_post("/v1/chat/completions", self.chat)
        self.runner = web.AppRunner(app, access_log=None)
        self.loop.run_until_complete(self.runner.setup())
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        self.loop.run_until_complete(site.start())
        self.url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}/v1"
        self.ready.set()
        self.loop.run_forever()

    def __exit__(self, *exc):
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(30)


def http_config(stub: Stub, out, n: int, *overrides):
    return load_config(overrides=["task=ncbi-disease", f"generation.n={n}", f"generation.out={out}",
                                  "generator.backend=http", f"generator.url={stub.url}", "generator.model.source=stub",
                                  *overrides])


def test_requests_in_flight_rate_limits_and_retries_lose_no_row_and_count_every_token(ray_local, tmp_path):
    with Stub(latency=0.3, rate_limit_every=7, fail_every=11) as stub:
        report = run_generation(http_config(stub, tmp_path / "out", 96, "generator.max_in_flight=16",
                                            "generator.http_concurrency=2", "generator.batch_size=16"))
    manifest = report.manifest
    assert 1 < stub.most <= 16 * 2
    assert manifest.complete and manifest.counts.rows_done == 96 and manifest.runs[-1].generation_errors == 0
    assert stub.answered == 96 and stub.rate_limited and stub.failed  # each row answered once, after its retries
    assert len(stub.arrivals) == 96 + len(stub.rate_limited) + stub.failed
    for limited_at, prompt in stub.rate_limited:  # asked again, no sooner than Retry-After said
        later = [at for at, again in stub.arrivals if again == prompt and at > limited_at]
        assert later and min(later) - limited_at >= RETRY_AFTER_S - 0.05
    assert (manifest.tokens.prompt, manifest.tokens.completion) == (stub.prompt_tokens, stub.completion_tokens)
    assert manifest.runs[-1].prompt_tokens == stub.prompt_tokens > 0
    requests = manifest.runs[-1].requests  # the retries are on record, in the manifest and the summary line
    assert requests["requests"] == len(stub.arrivals) and requests.get("failed_rows", 0) == 0
    assert requests["rate_limited"] == len(stub.rate_limited) and requests["retries"] == len(stub.rate_limited) + stub.failed
    assert f"{len(stub.arrivals):,} requests ({requests['retries']} retries" in summary_line(manifest)


def test_the_stage_records_its_retries_and_failed_rows(ray_local):
    import ray

    from clingen.generation.http_stage import HttpStage
    rows = [{"row_id": i, "messages": [{"role": "user", "content": f"Write about the disease named 'd{i}'."}],
             "json_schema": None} for i in range(40)]
    with Stub(latency=0.05, rate_limit_every=5, fail_every=3) as stub:
        config = load_config(overrides=["generator.backend=http", f"generator.url={stub.url}",
                                        "generator.model.source=stub", "generator.max_retries=0"]).generator
        stage = HttpStage(config, rows_per_block=10)
        out = stage(ray.data.from_items(rows, override_num_blocks=4)).take_all()
        totals = stage.totals()
    errors = [row for row in out if row["__inference_error__"]]
    assert sorted(row["row_id"] for row in out) == list(range(40))  # failed rows are rows, not lost
    assert len(errors) == stub.failed == totals.get("failed_rows", 0) > 0  # max_retries=0: a 503 ends its row
    for row in errors:  # one 503 ends the row; a 429 before it was waited out and counts as a try
        tries = 1 + sum(1 for _, prompt in stub.rate_limited if prompt == row["messages"][-1]["content"])
        assert row["__inference_error__"] == (f"POST {stub.url}/chat/completions failed after {tries} "
                                              f"tr{'y' if tries == 1 else 'ies'}: HTTP 503: overloaded")
    assert totals["rate_limited"] == len(stub.rate_limited) == totals["retries"]  # every 429 waited out, retried
    assert totals["requests"] == len(stub.arrivals)
    stage.close()  # its ledger actor ends with the stream (a run of several rounds starts one per round)
    with pytest.raises(ray.exceptions.RayActorError):
        ray.get(stage.ledger.totals.remote())


def test_an_endpoint_that_dies_mid_run_fails_it_within_a_minute_naming_the_url(ray_local, tmp_path):
    with Stub(dead=True) as stub:  # /v1/models answers, so the check before streaming passes
        started = time.monotonic()
        with pytest.raises(GenerationFailed, match=rf"first error: POST {re.escape(stub.url)}/chat/completions "
                                                   rf"failed after 6 tries: ServerDisconnectedError"):
            run_generation(http_config(stub, tmp_path / "dead", 64))
        assert time.monotonic() - started < 60
