"""One HTTP worker (http_stage.ChatRequests) against a real aiohttp endpoint on 127.0.0.1, without Ray: its
requests go out together up to generator.max_in_flight, a 429 pauses the worker as Retry-After says, 5xx and
dropped connections are retried, every final failure is a row with its cause and the URL, never a lost row, and
requests and tokens per minute are kept through the shared budget."""

from __future__ import annotations

import asyncio
import json
import time

import pyarrow as pa
import pytest
from aiohttp import web

from clingen.config import GeneratorConfig
from clingen.generation.http import with_counted_tokens
from clingen.generation.rows import REPLY_COLUMNS
from clingen.generation.http_policy import RetryPolicy, SharedBudget
from clingen.generation.http_stage import ChatRequests, blocks_per_worker

pytestmark = pytest.mark.unit

FAST = RetryPolicy(max_retries=2, base_s=0.01, cap_s=0.02)


def completion(text: str, prompt_tokens: int = 11, completion_tokens: int = 5) -> dict:
    return {"object": "chat.completion", "choices": [{"index": 0, "finish_reason": "stop",
                                                      "message": {"role": "assistant", "content": text}}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens}}


class Endpoint:
    """An OpenAI-compatible endpoint whose answer to each request is `answer(endpoint, body)` (a coroutine that
    returns a web.Response); it records every arrival (monotonic time, row) and the most requests at once."""

    def __init__(self, answer):
        self.answer, self.arrivals, self.in_flight, self.most = answer, [], 0, 0

    async def chat(self, request):
        body = await request.json()
        self.arrivals.append((time.monotonic(), body["messages"][-1]["content"]))
        self.in_flight += 1
        self.most = max(self.most, self.in_flight)
        try:
            return await self.answer(self, body, request)
        finally:
            self.in_flight -= 1

    async def __aenter__(self):
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self.chat)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}/v1"
        return self

    async def __aexit__(self, *exc):
        await self.runner.cleanup()


def block(n: int) -> pa.Table:
    return pa.table({"row_id": list(range(n)), "topic": [f"topic {i}" for i in range(n)],
                     "messages": [[{"role": "user", "content": f"row {i}"}] for i in range(n)],
                     "json_schema": [None] * n})


class Remote:
    """A Ray actor method stand-in: `.remote(...)` calls it and returns an awaitable result."""

    def __init__(self, fn):
        self.fn = fn

    def remote(self, *args):
        future = asyncio.get_running_loop().create_future()
        future.set_result(self.fn(*args))
        return future


class FakeLedger:
    def __init__(self, rpm=None, tpm=None):
        self.budget, self.counts, self.leased = SharedBudget(rpm, tpm, time.monotonic), {}, []
        self.lease = Remote(lambda requests, tokens: self.leased.append((requests, tokens)) or
                            self.budget.lease(requests, tokens))
        self.record = Remote(lambda counts: [self.counts.__setitem__(k, self.counts.get(k, 0) + v)
                                             for k, v in counts.items()])


async def run_block(endpoint: Endpoint, rows: int, ledger=None, policy=FAST, **settings) -> tuple[pa.Table, dict]:
    config = GeneratorConfig(backend="http", url=endpoint.url, model={"source": "stub"}, **settings)
    worker = ChatRequests(config.model_dump_json(), {"Authorization": "Bearer k"}, ledger or FakeLedger())
    worker.policy = policy
    try:
        out = await asyncio.wait_for(worker(block(rows)), timeout=60)
    finally:
        await worker.close()
    return out, (ledger or worker.ledger).counts


def run(coroutine):
    return asyncio.run(coroutine)


def test_a_blocks_requests_go_out_together_up_to_max_in_flight():
    async def answer(endpoint, body, request):
        if endpoint.in_flight >= 8:
            endpoint.full.set()
        await endpoint.full.wait()  # held until 8 are in flight at once: a client that sends fewer times out
        return web.json_response(completion(f"reply to {body['messages'][-1]['content']}"))

    async def scenario():
        async with Endpoint(answer) as endpoint:
            endpoint.full = asyncio.Event()
            out, counts = await run_block(endpoint, 40, max_in_flight=8)
        return endpoint, out, counts

    endpoint, out, counts = run(scenario())
    assert endpoint.most == 8
    rows = out.to_pylist()
    assert [row["generated_text"] for row in rows] == [f"reply to row {i}" for i in range(40)]  # in block order
    assert all(row["__inference_error__"] is None and row["num_input_tokens"] == 11 for row in rows)
    assert out.column_names == ["row_id", "topic", "messages", "json_schema", *REPLY_COLUMNS]
    assert counts == {"requests": 40}


def test_a_429_pauses_the_worker_as_retry_after_says_and_loses_no_row():
    async def answer(endpoint, body, request):
        if len(endpoint.arrivals) % 3 == 0:
            return web.json_response({"error": {"message": "slow down"}}, status=429, headers={"Retry-After": "0.3"})
        return web.json_response(completion("ok"))

    async def scenario():
        async with Endpoint(answer) as endpoint:
            out, counts = await run_block(endpoint, 10, max_in_flight=1, policy=RetryPolicy(max_retries=0))
        return endpoint, out, counts

    endpoint, out, counts = run(scenario())
    assert all(row["__inference_error__"] is None for row in out.to_pylist())
    limited = [index for index in range(len(endpoint.arrivals)) if (index + 1) % 3 == 0]
    assert counts["rate_limited"] == len(limited) == counts["retries"] and counts["requests"] == 10 + len(limited)
    for index in limited:  # the next request waited as it was told, although max_retries is 0
        assert endpoint.arrivals[index + 1][0] - endpoint.arrivals[index][0] >= 0.3 - 0.02
        assert endpoint.arrivals[index][1] in [row for _, row in endpoint.arrivals[index + 1:]]  # asked again


def test_5xx_and_dropped_connections_are_retried_and_the_last_failure_names_the_url():
    async def answer(endpoint, body, request):
        content, tries = body["messages"][-1]["content"], sum(1 for _, row in endpoint.arrivals
                                                              if row == body["messages"][-1]["content"])
        if content == "row 0" and tries == 1:
            request.transport.close()  # a dropped connection
            return web.Response()
        if content == "row 1" and tries <= 2:
            return web.Response(status=503, text="overloaded")
        if content == "row 2":
            return web.Response(status=502, text="bad gateway")  # every try
        return web.json_response(completion(content))

    async def scenario():
        async with Endpoint(answer) as endpoint:
            out, counts = await run_block(endpoint, 4)
        return out, counts

    out, counts = run(scenario())
    rows = out.to_pylist()
    assert [row["generated_text"] for row in rows] == ["row 0", "row 1", "", "row 3"]
    error = rows[2]["__inference_error__"]
    assert "/v1/chat/completions failed after 3 tries: HTTP 502: bad gateway" in error and error.startswith("POST http://127.0.0.1:")
    assert counts["retries"] == 1 + 2 + 2 and counts["failed_rows"] == 1 and counts["requests"] == 2 + 3 + 3 + 1


def test_an_error_the_endpoint_explains_is_the_rows_answer_without_retries():
    async def answer(endpoint, body, request):
        if body["messages"][-1]["content"] == "row 1":
            return web.json_response({"object": "error", "message": "prompt is too long"}, status=400)
        if body["messages"][-1]["content"] == "row 2":
            return web.Response(status=404, text="no such route")
        return web.Response(text="not json", content_type="text/plain")

    async def scenario():
        async with Endpoint(answer) as endpoint:
            return await run_block(endpoint, 3)

    out, counts = run(scenario())
    errors = [row["__inference_error__"] for row in out.to_pylist()]
    assert errors[0] == "no JSON response (got NoneType)"
    assert errors[1] == "endpoint error: prompt is too long"
    assert errors[2].startswith("POST http://127.0.0.1:") and errors[2].endswith(": HTTP 404: no such route")
    assert counts == {"requests": 3}


def test_a_dead_endpoint_fails_every_row_naming_it():
    async def scenario():
        async with Endpoint(None) as endpoint:
            url = endpoint.url
        config = GeneratorConfig(backend="http", url=url, model={"source": "stub"})  # the port is closed now
        worker = ChatRequests(config.model_dump_json(), None, None)
        worker.policy = FAST
        try:
            return url, await asyncio.wait_for(worker(block(3)), timeout=30)
        finally:
            await worker.close()

    url, out = run(scenario())
    for row in out.to_pylist():
        assert row["__inference_error__"].startswith(f"POST {url}/chat/completions failed after 3 tries: "
                                                     f"ClientConnectorError")
        assert row["generated_text"] == "" and row["num_input_tokens"] == 0


def test_requests_per_minute_are_kept_across_the_block():
    async def answer(endpoint, body, request):
        return web.json_response(completion("ok"))

    async def scenario():
        async with Endpoint(answer) as endpoint:
            ledger = FakeLedger(rpm=1_200)  # 20 a second, a burst of 20
            out, counts = await run_block(endpoint, 30, ledger=ledger, rpm=1_200)
        return endpoint, out, counts

    endpoint, out, counts = run(scenario())
    times = sorted(at for at, _ in endpoint.arrivals)
    start = times[0]
    for k, at in enumerate(times, start=1):
        assert k <= 20 * (at - start) + 20 + 10 + 1  # the rate, its burst, a lease in hand, timer slack
    assert times[-1] - start >= (30 - 20 - 10) / 20  # and it did wait: 30 requests need more than the burst
    assert counts["requests"] == 30 and out.num_rows == 30


def test_tokens_per_minute_charge_the_estimate_and_settle_with_usage():
    async def answer(endpoint, body, request):
        return web.json_response(completion("ok", prompt_tokens=3, completion_tokens=2))

    async def scenario():
        async with Endpoint(answer) as endpoint:
            ledger = FakeLedger(tpm=60_000)
            config = GeneratorConfig(backend="http", url=endpoint.url, model={"source": "stub"}, tpm=60_000)
            worker = ChatRequests(config.model_dump_json(), None, ledger)
            try:
                await worker(block(5))
            finally:
                await worker.close()
        return worker, ledger

    worker, ledger = run(scenario())
    estimate = len("row 0") / 4 + worker.config.model.sampling.max_tokens
    assert ledger.leased[0] == (0.0, max(estimate, 60_000 / 60 * 0.5))  # half a second of the rate, or one request
    assert all(tokens >= 500 for _, tokens in ledger.leased)
    # each request was charged its estimate and then settled with the 3 + 2 tokens its reply used
    assert worker.allowance.tokens == pytest.approx(sum(tokens for _, tokens in ledger.leased) - 5 * 5)


def test_tokens_are_counted_locally_only_when_the_endpoint_gives_no_usage():
    def words(text):
        return len(text.split())

    messages = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "name a disease"}]
    without = {"generated_text": "gout is common", "num_input_tokens": 0, "num_generated_tokens": 0,
               "finish_reason": "stop", "__inference_error__": None}
    assert with_counted_tokens(without, messages, words) == {**without, "num_input_tokens": 5,
                                                             "num_generated_tokens": 3}
    reported = {**without, "num_input_tokens": 40, "num_generated_tokens": 9}
    assert with_counted_tokens(reported, messages, words) == reported
    assert with_counted_tokens(without, messages, None) == without
    failed = {**without, "generated_text": "", "__inference_error__": "HTTP 500"}
    assert with_counted_tokens(failed, messages, words) == failed


@pytest.mark.parametrize("in_flight, rows, calls", [(256, 16, 18), (256, 128, 4), (8, 512, 3), (4096, 1, 64)])
def test_a_worker_takes_enough_blocks_at_once_to_fill_max_in_flight(in_flight, rows, calls):
    assert blocks_per_worker(in_flight, rows) == calls


def test_the_reply_columns_keep_their_types_when_every_row_failed():
    async def scenario():
        async with Endpoint(None) as endpoint:
            url = endpoint.url
        config = GeneratorConfig(backend="http", url=url, model={"source": "stub"}, max_retries=0)
        worker = ChatRequests(config.model_dump_json(), None, None)
        try:
            return await worker(block(2))
        finally:
            await worker.close()

    out = run(scenario())
    assert out.schema.field("num_input_tokens").type == pa.int64()
    assert out.schema.field("finish_reason").type == pa.string()
    assert json.loads(json.dumps(out.to_pylist()))[0]["finish_reason"] is None


def test_a_worker_raises_its_open_file_limit_to_hold_its_requests_in_flight():
    import subprocess
    import sys
    code = ("import resource\nfrom clingen.generation.http_stage import _allow_open_files\n"
            "hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]\n"
            "resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))\n"
            "_allow_open_files(1088)\nprint(resource.getrlimit(resource.RLIMIT_NOFILE)[0], hard)")
    soft, hard = map(int, subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                         check=True).stdout.split())
    assert soft == (1088 if hard < 0 else min(1088, hard))  # never past the hard limit
