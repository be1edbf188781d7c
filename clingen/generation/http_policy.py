"""How the HTTP generation stage paces and retries its requests (generation stage edge, pure): which outcomes are
retried and after how long (Retry-After, exponential backoff with full jitter), request and token budgets per
minute as reservations on token buckets, and the leases a worker takes from the shared budget. No clock and no
random source of their own: the stage passes the time and the random draw in, the tests a fake clock."""

from __future__ import annotations

import math
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

# Statuses worth another try: the request may succeed later (RFC 9110 408, 425, 429, 5xx; 409 is what some
# OpenAI-compatible gateways answer while a model loads). Every other status is the row's final answer.
RETRY_STATUSES = frozenset({408, 409, 425, 429})
RATE_LIMITED = 429
# A budget lease covers this many seconds of the shared rate, so a worker calls the shared limiter a few times a
# second at most, not once per request.
LEASE_S = 0.5
# A fresh bucket may spend this many seconds of its rate at once (then it paces at the rate).
BURST_S = 1.0


def retryable(status: int) -> bool:
    return status in RETRY_STATUSES or status >= 500


def retry_after_s(headers, now_epoch: float) -> float | None:
    """Seconds the server asks to wait, from `retry-after-ms` (OpenAI, Azure) or `Retry-After` (RFC 9110:
    delay-seconds or an HTTP-date, compared with `now_epoch`, Unix seconds). None when neither is given or
    neither parses; never negative. `headers`: a case-insensitive mapping (aiohttp's) or a plain dict."""
    lowered = {str(k).lower(): str(v).strip() for k, v in dict(headers or {}).items()}
    milliseconds = _number(lowered.get("retry-after-ms"))
    if milliseconds is not None:
        return max(0.0, milliseconds / 1000)
    value = lowered.get("retry-after")
    if not value:
        return None
    seconds = _number(value)
    if seconds is not None:
        return max(0.0, seconds)
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - now_epoch)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def _number(text: str | None) -> float | None:
    try:
        value = float(text) if text else None
    except ValueError:
        return None
    return value if value is not None and math.isfinite(value) else None


@dataclass(frozen=True)
class RetryPolicy:
    """When a failed try is tried again. `max_retries` bounds the retries of errors (5xx, timeouts, dropped
    connections, a 429 without Retry-After); a 429 that says how long to wait is honoured `max_rate_limited`
    times more, since waiting as told is what the server asked for. Backoff is exponential with full jitter
    (AWS Architecture Blog, "Exponential Backoff and Jitter"): a random wait in [0, min(cap, base * 2^k)]."""

    max_retries: int = 5
    base_s: float = 0.5
    cap_s: float = 30.0
    max_rate_limited: int = 20
    retry_after_cap_s: float = 60.0

    def delay(self, errors: int, rate_limited: int, retry_after: float | None, draw: float) -> float | None:
        """Seconds to wait before the next try, or None to give up. `errors`, `rate_limited`: the failed tries so
        far by kind, the last one included; `retry_after`: what the last reply asked (rate-limited tries only);
        `draw`: a uniform random number in [0, 1)."""
        if retry_after is not None:
            return min(retry_after, self.retry_after_cap_s) if rate_limited <= self.max_rate_limited else None
        if errors > self.max_retries:
            return None
        return draw * min(self.cap_s, self.base_s * 2 ** (errors - 1))


@dataclass
class Bucket:
    """A token bucket that takes reservations: `reserve` always succeeds and says how long the caller must wait
    before it may spend what it reserved (the level goes below zero; a debt is repaid at the rate). Reservations
    are served in the order they were made, and over any window of T seconds at most rate * T + capacity is
    spent."""

    rate_per_s: float
    capacity: float
    level: float
    updated: float | None = None

    @classmethod
    def per_minute(cls, limit: float) -> Bucket:
        rate = limit / 60.0
        return cls(rate, rate * BURST_S, rate * BURST_S)

    def reserve(self, amount: float, now: float) -> float:
        """Take `amount` at time `now` (seconds, any monotonic clock); returns the seconds to wait (0 or more)."""
        if self.updated is not None:
            self.level = min(self.capacity, self.level + max(0.0, now - self.updated) * self.rate_per_s)
        self.updated = now
        self.level -= amount
        return max(0.0, -self.level / self.rate_per_s)


class SharedBudget:
    """Requests and tokens per minute across every worker of a run (the stage runs it as one Ray actor). A worker
    leases a share and waits as long as `lease` says before spending it; `clock` is passed in (time.monotonic)."""

    def __init__(self, rpm: float | None, tpm: float | None, clock):
        self.requests = Bucket.per_minute(rpm) if rpm else None
        self.tokens = Bucket.per_minute(tpm) if tpm else None
        self.clock = clock

    def lease(self, requests: float, tokens: float) -> float:
        """Reserve `requests` and `tokens`; returns the seconds to wait before spending them."""
        now = self.clock()
        waits = [bucket.reserve(amount, now) for bucket, amount in ((self.requests, requests), (self.tokens, tokens))
                 if bucket is not None and amount > 0]
        return max(waits, default=0.0)


@dataclass
class Allowance:
    """What one worker holds of the shared budget: requests and tokens it has leased and not spent yet. A request
    is charged its estimate (prompt tokens plus max_tokens) up front and settled with the reply's usage."""

    rpm: float | None
    tpm: float | None
    requests: float = 0.0
    tokens: float = 0.0

    def shortfall(self, estimate: float, max_in_flight: int) -> tuple[float, float]:
        """(requests, tokens) to lease before a request that needs `estimate` tokens may go: nothing while the
        allowance covers it, else a lease of LEASE_S seconds of the rate (at least what is missing; requests at
        most `max_in_flight`, the most this worker can spend at once)."""
        requests = tokens = 0.0
        if self.rpm and self.requests < 1:
            requests = max(1.0 - self.requests, min(float(max_in_flight), self.rpm / 60.0 * LEASE_S))
        if self.tpm and self.tokens < estimate:
            tokens = max(estimate - self.tokens, self.tpm / 60.0 * LEASE_S)
        return requests, tokens

    def add(self, requests: float, tokens: float) -> None:
        self.requests += requests
        self.tokens += tokens

    def spend(self, estimate: float) -> None:
        self.requests -= 1 if self.rpm else 0
        self.tokens -= estimate if self.tpm else 0

    def settle(self, estimate: float, used: int) -> None:
        """A reply used `used` tokens (prompt and completion) of the `estimate` charged: the difference comes back
        (or is owed). Without usage (0) the estimate stands."""
        if self.tpm and used > 0:
            self.tokens += estimate - used
