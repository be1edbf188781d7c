"""Shared pytest fixtures: fixture paths, the optional ../shared data, and small graphs built in the test."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
SHARED = Path(__file__).resolve().parents[1].parent / "shared"

# Local Ray test clusters with token authentication, as ClinGen starts them, and vLLM's internal queue on loopback.
os.environ.setdefault("RAY_AUTH_MODE", "token")
os.environ.setdefault("VLLM_HOST_IP", "127.0.0.1")


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
