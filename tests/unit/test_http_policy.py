"""The HTTP stage's pacing and retry rules (clingen/generation/http_policy.py), with the clock and the random draw
passed in: Retry-After in its forms, backoff with full jitter and its bounds, token buckets that take reservations,
the shared budget across workers and one worker's leases."""

from __future__ import annotations

from email.utils import format_datetime
from datetime import datetime, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clingen.generation.http_policy import (LEASE_S, Allowance, Bucket, RetryPolicy, SharedBudget, retry_after_s,
                                            retryable)

pytestmark = pytest.mark.unit

NOW = 1_800_000_000.0  # Unix seconds, 2027-01-15


def test_statuses_worth_another_try():
    assert all(retryable(status) for status in (408, 409, 425, 429, 500, 502, 503, 504, 520))
    assert not any(retryable(status) for status in (200, 400, 401, 403, 404, 413, 422))


@pytest.mark.parametrize("headers, seconds", [
    ({"Retry-After": "7"}, 7.0),
    ({"retry-after": " 2.5 "}, 2.5),
    ({"Retry-After": "120", "retry-after-ms": "1500"}, 1.5),  # the finer one wins (OpenAI sends both)
    ({"RETRY-AFTER-MS": "20"}, 0.02),
    ({"Retry-After": "-3"}, 0.0),
    ({"Retry-After": format_datetime(datetime.fromtimestamp(NOW + 30, timezone.utc), usegmt=True)}, 30.0),
    ({"Retry-After": format_datetime(datetime.fromtimestamp(NOW - 30, timezone.utc), usegmt=True)}, 0.0),
    ({}, None), (None, None), ({"Retry-After": "soon"}, None), ({"Retry-After": "nan"}, None),
    ({"Retry-After": ""}, None), ({"retry-after-ms": "inf", "Retry-After": "4"}, 4.0),
])
def test_retry_after_in_seconds_ms_and_http_dates(headers, seconds):
    assert retry_after_s(headers, NOW) == (pytest.approx(seconds) if seconds is not None else None)


@given(st.integers(min_value=0, max_value=10**7))
def test_an_http_date_gives_the_seconds_until_it(ahead):
    date = format_datetime(datetime.fromtimestamp(NOW + ahead, timezone.utc), usegmt=True)
    assert retry_after_s({"Retry-After": date}, NOW) == pytest.approx(ahead)


@given(st.integers(1, 12), st.floats(0.0, 1.0, exclude_max=True), st.floats(0.01, 5.0), st.floats(0.1, 100.0))
def test_backoff_is_a_full_jitter_draw_below_the_capped_exponential(errors, draw, base, cap):
    policy = RetryPolicy(max_retries=12, base_s=base, cap_s=cap)
    delay = policy.delay(errors, 0, None, draw)
    assert delay == pytest.approx(draw * min(cap, base * 2 ** (errors - 1)))
    assert 0.0 <= delay <= cap


@given(st.integers(0, 8))
def test_errors_are_retried_max_retries_times_then_given_up(max_retries):
    policy = RetryPolicy(max_retries=max_retries)
    tries = 1
    while policy.delay(tries, 0, None, 0.5) is not None:
        tries += 1
    assert tries == max_retries + 1  # the first try and max_retries retries


def test_a_429_with_retry_after_waits_as_told_and_does_not_use_up_the_error_retries():
    policy = RetryPolicy(max_retries=1, max_rate_limited=3, retry_after_cap_s=60)
    assert policy.delay(0, 1, 2.0, 0.99) == 2.0  # no jitter: the server said when
    assert policy.delay(1, 3, 0.0, 0.5) == 0.0
    assert policy.delay(1, 2, 600.0, 0.5) == 60  # an hour-long ask is capped, then tried again
    assert policy.delay(0, 4, 1.0, 0.5) is None  # a server that never lets the row through ends it
    assert policy.delay(2, 1, None, 0.5) is None


@given(st.floats(1, 10_000), st.lists(st.tuples(st.floats(0, 5), st.floats(0.1, 50)), min_size=1, max_size=60))
def test_a_bucket_spends_at_most_rate_times_window_plus_capacity(limit, takes):
    """Whatever the reservations, the amounts spent (each at its reservation time plus its wait) in any window
    [a, b] add up to at most rate * (b - a) + capacity, and reservations are served in order."""
    bucket = Bucket.per_minute(limit)
    now, spent = 0.0, []
    for gap, amount in takes:
        now += gap
        amount = min(amount, bucket.capacity)  # a larger take is fine too, but then it alone exceeds a window
        spent.append((now + bucket.reserve(amount, now), amount))
    times = [at for at, _ in spent]
    assert all(later >= earlier - 1e-9 for earlier, later in zip(times, times[1:]))
    for i, (start, _) in enumerate(spent):
        for j in range(i, len(spent)):
            total = sum(amount for _, amount in spent[i:j + 1])
            assert total <= bucket.rate_per_s * (spent[j][0] - start) + bucket.capacity + 1e-6


def test_a_bucket_paces_at_its_rate_after_its_burst():
    bucket = Bucket.per_minute(60)  # one a second, a burst of one
    assert [bucket.reserve(1, 0.0) for _ in range(4)] == [0.0, 1.0, 2.0, 3.0]
    assert bucket.reserve(1, 10.0) == 0.0  # refilled, never above its capacity
    assert bucket.reserve(1, 10.0) == pytest.approx(1.0)


def test_the_shared_budget_waits_for_the_scarcer_of_requests_and_tokens():
    clock = [0.0]
    budget = SharedBudget(rpm=600, tpm=6_000, clock=lambda: clock[0])  # 10 requests/s, 100 tokens/s
    assert budget.lease(10, 100) == 0.0  # the first second's burst
    assert budget.lease(1, 300) == pytest.approx(3.0)  # tokens are the scarcer
    clock[0] = 3.0
    assert budget.lease(30, 0) == pytest.approx(2.0)  # refilled to its burst of 10 only: 20 more at 10/s
    assert SharedBudget(None, None, clock=lambda: 0.0).lease(10**6, 10**9) == 0.0


@given(st.integers(1, 6), st.sampled_from([60, 1_200, 30_000]), st.integers(1, 300))
def test_workers_share_one_budget_through_leases(workers, rpm, sends):
    """Workers that each send as soon as their allowance lets them, drawing on one budget: the k-th request of the
    run goes out no earlier than the rate allows (k <= rate * t + burst), and a worker leases half a second of the
    rate at a time, not one request at a time."""
    clock = [0.0]
    budget = SharedBudget(rpm=rpm, tpm=None, clock=lambda: clock[0])
    allowances = [Allowance(rpm=rpm, tpm=None) for _ in range(workers)]
    free_at, sent, leases = [0.0] * workers, [], 0
    while len(sent) < sends:
        worker = min(range(workers), key=lambda index: free_at[index])
        clock[0] = free_at[worker]
        requests, tokens = allowances[worker].shortfall(0, max_in_flight=256)
        if requests:
            leases += 1
            free_at[worker] = clock[0] + budget.lease(requests, tokens)
            allowances[worker].add(requests, tokens)
        allowances[worker].spend(0)
        sent.append(free_at[worker])
    rate, burst = rpm / 60, rpm / 60 * 1.0
    for k, at in enumerate(sorted(sent), start=1):
        assert k <= rate * at + burst + 1e-6
    per_lease = max(1.0, rate * LEASE_S)
    assert leases <= workers + sends / per_lease


@given(st.floats(1, 5000), st.integers(1, 1024), st.integers(1, 20_000))
def test_a_lease_covers_the_request_and_half_a_second_of_the_rate(tpm, max_in_flight, estimate):
    allowance = Allowance(rpm=6_000, tpm=tpm)
    requests, tokens = allowance.shortfall(estimate, max_in_flight)
    assert requests == max(1.0, min(max_in_flight, 6_000 / 60 * LEASE_S))
    assert tokens >= estimate and tokens >= tpm / 60 * LEASE_S
    allowance.add(requests, tokens)
    assert allowance.shortfall(estimate, max_in_flight) == (0.0, 0.0)


def test_a_reply_settles_its_estimate_with_its_usage():
    allowance = Allowance(rpm=None, tpm=1_000)
    allowance.add(0, 600)
    allowance.spend(500)  # 100 prompt tokens + max_tokens 400 charged up front
    allowance.settle(500, 180)  # the reply used 180
    assert allowance.tokens == pytest.approx(420)
    allowance.settle(500, 0)  # no usage reported: the estimate stands
    assert allowance.tokens == pytest.approx(420)
    unlimited = Allowance(rpm=None, tpm=None)
    assert unlimited.shortfall(10**6, 1) == (0.0, 0.0)
