"""The HTTP generation stage (generation stage edge): prompt rows -> replies from an OpenAI-compatible endpoint,
many requests in flight per worker.

Ray Data runs `ChatRequests` as an async callable class in an actor pool (`map_batches`): every block's requests
go out together on the actor's event loop through one aiohttp session, at most `generator.max_in_flight` at once
per worker, and several blocks are in flight per actor, so no CPU is held per request. Ray 2.60's own HTTP stage
awaited a batch's requests one after another, so requests in flight were its number of workers (issue #35).
Requests and tokens per minute (`generator.rpm`, `generator.tpm`) are shared by every worker through one small
actor (`StageLedger`), which workers lease budget from a few times a second and report their counts to once per
block. Pacing and retry rules are pure (http_policy); reply parsing is http.reply_from_response's."""

from __future__ import annotations

import asyncio
import json
import math
import random
import time
from collections import Counter

import pyarrow as pa

from clingen._batches import plain
from clingen._imports import require
from clingen.config import GeneratorConfig
from clingen.errors import ConfigError
from clingen.generation.contracts import GENERATE
from clingen.generation.rows import REPLY_COLUMNS
from clingen.generation.http import (chat_payload, failed_reply, reply_from_response, request_headers,
                                     token_counter, with_counted_tokens)
from clingen.generation.http_policy import RATE_LIMITED, Allowance, RetryPolicy, SharedBudget, retry_after_s, retryable
from clingen.generation.processors import LIGHT_STAGE_CPUS

# Blocks one worker works on at once (its actor's concurrent calls) beyond those that fill max_in_flight: the next
# block is already there when one finishes. Capped, since each call is a thread of the actor.
SPARE_BLOCKS = 2
MAX_BLOCKS_PER_WORKER = 64
# Arrow types of the reply columns (rows.REPLY_COLUMNS), so that a block whose rows all failed keeps them.
REPLY_TYPES = {"generated_text": pa.string(), "num_input_tokens": pa.int64(), "num_generated_tokens": pa.int64(),
               "finish_reason": pa.string(), "__inference_error__": pa.string()}
# Characters per token, to estimate a prompt's tokens against generator.tpm when no tokenizer is configured.
CHARS_PER_TOKEN = 4


class StageLedger:
    """The state the HTTP workers of one run share (one Ray actor): the request and token budget, and the counts of
    requests, retries, rate-limited replies, waits and failed rows."""

    def __init__(self, rpm: float | None, tpm: float | None):
        self.budget = SharedBudget(rpm, tpm, time.monotonic)
        self.counts: Counter = Counter()

    def lease(self, requests: float, tokens: float) -> float:
        return self.budget.lease(requests, tokens)

    def record(self, counts: dict) -> None:
        self.counts.update(counts)

    def totals(self) -> dict:
        return dict(self.counts)


def blocks_per_worker(max_in_flight: int, rows_per_block: int) -> int:
    """Concurrent calls of one worker: enough blocks to keep `max_in_flight` requests going, and spares."""
    return min(MAX_BLOCKS_PER_WORKER, math.ceil(max_in_flight / max(1, rows_per_block)) + SPARE_BLOCKS)


class HttpStage:
    """dataset of prompt rows -> dataset with the reply columns (rows.REPLY_COLUMNS); applied once per generation
    step, all steps sharing one ledger. `totals()`: the run's request counts so far (StageLedger.totals)."""

    def __init__(self, config: GeneratorConfig, rows_per_block: int):
        ray = require("ray")
        self.config, self.rows_per_block = config, rows_per_block
        self.headers = request_headers(config)  # read here: workers on other nodes lack the driver's environment
        self.ledger = ray.remote(num_cpus=0)(StageLedger).remote(config.rpm, config.tpm)

    def __call__(self, dataset):
        ray = require("ray")
        calls = blocks_per_worker(self.config.max_in_flight, self.rows_per_block)
        pool = ray.data.ActorPoolStrategy(min_size=1, max_size=self.config.http_concurrency,
                                          max_concurrent_calls_per_actor=calls)
        return dataset.map_batches(ChatRequests, fn_constructor_args=(self.config.model_dump_json(), self.headers,
                                                                     self.ledger),
                                   batch_size=None, batch_format="pyarrow", zero_copy_batch=True, compute=pool,
                                   num_cpus=LIGHT_STAGE_CPUS)

    def totals(self) -> dict:
        return require("ray").get(self.ledger.totals.remote())

    def close(self) -> None:
        """End the ledger actor: a run with several streams (generation.examples rounds) starts one per stream."""
        require("ray").kill(self.ledger)


class ChatRequests:
    """One HTTP worker (an actor of the stage's pool): a block of prompt rows -> the block with its replies. Every
    row ends with a reply or a recorded failure (`__inference_error__`, naming the URL and the last cause); the
    block never fails for a row's sake."""

    def __init__(self, config_json: str, headers: dict | None, ledger=None):
        self.config = config = GeneratorConfig.model_validate_json(config_json)
        self.url = config.url.rstrip("/") + "/chat/completions"
        self.headers = {"Content-Type": "application/json", **(headers or {})}
        self.counter = token_counter(config.model.tokenizer_for_counting)
        self.policy = RetryPolicy(max_retries=config.max_retries)
        self.allowance = Allowance(config.rpm, config.tpm)
        self.ledger = ledger
        self.jitter = random.Random()  # waits only: they never change a row
        self.counts: Counter = Counter()
        self.paused_until = 0.0  # loop time before which no request goes out (a 429's Retry-After)
        self._session = self._slots = self._lease_lock = None

    def _open(self) -> None:
        """The session and locks belong to the actor's event loop, so they are made on it, at the first block."""
        if self._session is None:
            aiohttp = require("aiohttp")
            _allow_open_files(self.config.max_in_flight + 64)
            timeout = aiohttp.ClientTimeout(total=self.config.request_timeout_s,
                                            sock_connect=min(self.config.request_timeout_s, 20.0))
            self._session = aiohttp.ClientSession(timeout=timeout, connector=aiohttp.TCPConnector(
                limit=self.config.max_in_flight, limit_per_host=0))
            self._slots = asyncio.Semaphore(self.config.max_in_flight)
            self._lease_lock = asyncio.Lock()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def __call__(self, block):
        GENERATE.check(block)
        self._open()
        rows = block.select([name for name in ("messages", "json_schema", "placeholder")
                             if name in block.column_names]).to_pylist()
        replies = await asyncio.gather(*(self.reply(row) for row in rows))
        if self.ledger is not None and self.counts:
            counts, self.counts = dict(self.counts), Counter()
            await self.ledger.record.remote(counts)  # once per block; recorded before the block is handed on
        block = block.drop_columns([name for name in REPLY_COLUMNS if name in block.column_names])
        for name in REPLY_COLUMNS:
            block = block.append_column(name, pa.array([reply[name] for reply in replies], type=REPLY_TYPES[name]))
        return block

    async def reply(self, row: dict) -> dict:
        """The reply columns of one prompt row, after as many tries as the retry policy allows."""
        row = {**row, "messages": plain(row["messages"])}
        payload = chat_payload(self.config, row)
        body = json.dumps(payload)
        estimate = self._estimate(row["messages"], payload) if self.config.tpm else 0
        errors = limited = 0
        while True:
            await self._admit(estimate)
            status, text, headers = await self._post(body)
            final = self._final(status, text)
            if final is not None:
                reply = with_counted_tokens(final, row["messages"], self.counter)
                self.allowance.settle(estimate, reply["num_input_tokens"] + reply["num_generated_tokens"])
                return reply
            wait = retry_after_s(headers, time.time()) if status == RATE_LIMITED else None
            limited, errors = limited + (wait is not None), errors + (wait is None)
            delay = self.policy.delay(errors, limited, wait, self.jitter.random())
            if delay is None:
                self.counts["failed_rows"] += 1
                tries = errors + limited
                return failed_reply(f"POST {self.url} failed after {tries} tr{'y' if tries == 1 else 'ies'}: "
                                    f"{_cause(status, text)}")
            self.counts["retries"] += 1
            if wait is not None:
                self.counts["rate_limited"] += 1
                self.counts["rate_limited_wait_s"] += delay
                loop_now = asyncio.get_running_loop().time()
                self.paused_until = max(self.paused_until, loop_now + delay)  # the whole worker waits as told
            await asyncio.sleep(delay)

    async def _post(self, body: str) -> tuple[int | None, str, dict]:
        """(HTTP status or None, body text or the exception, headers) of one try."""
        aiohttp = require("aiohttp")
        async with self._slots:
            await self._pause()
            self.counts["requests"] += 1
            try:
                async with self._session.post(self.url, data=body, headers=self.headers) as response:
                    return response.status, await response.text(), dict(response.headers)
            except (asyncio.TimeoutError, aiohttp.ClientError) as exc:
                return None, f"{type(exc).__name__}: {str(exc) or 'no reply within the timeout'}", {}

    def _final(self, status: int | None, text: str) -> dict | None:
        """The row's reply columns when this try ends it (a reply, or an answer not worth another try); None
        when it should be tried again."""
        if status is None or retryable(status):
            return None
        try:
            response = json.loads(text)
        except ValueError:
            response = None
        if status == 200:
            return reply_from_response(response)
        if isinstance(response, dict) and (response.get("error") or response.get("object") == "error"):
            return reply_from_response(response)  # the endpoint's own message (prompt too long, unknown model)
        return failed_reply(f"POST {self.url}: {_cause(status, text)}")

    async def _pause(self) -> None:
        loop = asyncio.get_running_loop()
        while (left := self.paused_until - loop.time()) > 0:
            await asyncio.sleep(left)

    async def _admit(self, estimate: float) -> None:
        """Wait until the shared budget covers one more request of `estimate` tokens (no limits: at once)."""
        if not (self.config.rpm or self.config.tpm):
            return
        async with self._lease_lock:
            requests, tokens = self.allowance.shortfall(estimate, self.config.max_in_flight)
            if requests or tokens:
                wait = await self.ledger.lease.remote(requests, tokens)
                self.allowance.add(requests, tokens)
                if wait > 0:
                    self.counts["budget_wait_s"] += wait
                    await asyncio.sleep(wait)
            self.allowance.spend(estimate)

    def _estimate(self, messages: list[dict], payload: dict) -> float:
        """Tokens a request may use: its prompt (counted, or estimated from its length) and its max_tokens."""
        texts = [str(message.get("content") or "") for message in messages]
        prompt = (sum(self.counter(text) for text in texts) if self.counter is not None
                  else sum(len(text) for text in texts) / CHARS_PER_TOKEN)
        return prompt + payload["max_tokens"]


def _allow_open_files(needed: int) -> None:
    """Raise this process's soft limit on open files towards `needed` (one socket per request in flight), up to
    the hard limit: many systems start processes at a soft limit of 1024, which 1024 requests in flight beside
    Ray's own files would pass ("Too many open files" on every request past it)."""
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


def _cause(status: int | None, text: str) -> str:
    return text[:500] if status is None else f"HTTP {status}: {text[:300] or '(empty body)'}"


def build_http_processor(config: GeneratorConfig, rows_per_block: int):
    """The HTTP stage (HttpStage) for this endpoint; run_generation has called check_endpoint before Ray
    started."""
    if not config.url:
        raise ConfigError("generator.backend=http needs generator.url, e.g. http://127.0.0.1:8000/v1")
    return HttpStage(config, rows_per_block)
