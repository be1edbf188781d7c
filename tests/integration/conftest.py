"""Integration fixtures: one local Ray instance per session (8 logical CPUs: a pair task runs two engines
plus light stages; logical oversubscription of the 2 cores is what the pipeline does by default too)."""

from __future__ import annotations

import os
import socket

import pytest


@pytest.fixture(scope="session")
def ray_local():
    import ray
    os.environ.setdefault("RAY_AUTH_MODE", "token")
    os.environ.setdefault("VLLM_HOST_IP", "127.0.0.1")
    if not ray.is_initialized():
        ray.init(address="local", num_cpus=8, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


@pytest.fixture(scope="session")
def smollm2_dir():
    """The embedded generator, converted once into the cache (about 20 s the first time)."""
    from clingen.generation.smollm2 import ensure_smollm2_hf
    return str(ensure_smollm2_hf())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
