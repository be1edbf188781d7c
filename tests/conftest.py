"""Shared pytest fixtures: fixture paths, the optional ../shared data, and small graphs built in the test."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

FIXTURES = Path(__file__).parent / "fixtures"
SHARED = Path(__file__).resolve().parents[1].parent / "shared"

# Local Ray test clusters with token authentication, as ClinGen starts them, and vLLM's internal queue on loopback.
os.environ.setdefault("RAY_AUTH_MODE", "token")
os.environ.setdefault("VLLM_HOST_IP", "127.0.0.1")

# Property tests: no per-example deadline (a loaded 2-core CI machine makes timings meaningless) and, under CI,
# a fixed search (derandomize) so that a landing never depends on the draw; locally each run explores anew and a
# found failure is replayed from the example database.
settings.register_profile("clingen", deadline=None, max_examples=100,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("ci", parent=settings.get_profile("clingen"), derandomize=True, database=None)
settings.load_profile("ci" if os.environ.get("CI") else "clingen")


def pytest_collection_modifyitems(items):
    """The fast unit tests first (a broken core fails in a minute, not after the slow suite); cluster tests
    last, because they replace the session's Ray instance (and the autoscaler's test cluster stops every Ray
    process on the machine)."""
    def order(item) -> int:
        if item.get_closest_marker("cluster") is not None:
            return 2
        return 1 if item.get_closest_marker("integration") is not None else 0
    items.sort(key=order)


@pytest.fixture
def fixtures_dir() -> Path:
    return FIXTURES


@pytest.fixture
def shared_dir() -> Path:
    if not (SHARED / "data").is_dir():
        pytest.skip(f"the shared data folder {SHARED} is absent (only development machines have it)")
    return SHARED
