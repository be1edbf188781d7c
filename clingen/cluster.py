"""Ray plumbing shared by every stage (generation, training, quality, serving): joining the configured cluster or
starting a fresh local instance, keeping Ray's own output quiet, and refusing node-local paths on a cluster."""

from __future__ import annotations

import logging
import math
import os
import warnings
from collections.abc import Mapping
from pathlib import Path

from clingen._imports import require
from clingen.config import ClinGenConfig, is_local_path
from clingen.errors import ConfigError

log = logging.getLogger("clingen.cluster")


def check_shared_paths(config: ClinGenConfig, **paths: str | None) -> None:
    """On a cluster of several nodes a local path is on one node's disk only: refuse it (by name)."""
    ray = require("ray")
    nodes = sum(1 for node in ray.nodes() if node["Alive"])
    local = {name: path for name, path in paths.items() if path and is_local_path(str(path))}
    if nodes > 1 and local and not config.cluster.local_paths_are_shared:
        raise ConfigError(f"this Ray cluster has {nodes} nodes but {local} is a local path that only one node "
                          f"sees; use shared storage (s3://..., gs://...) or, if every node mounts the same "
                          f"filesystem, set cluster.local_paths_are_shared=true")


def ensure_ray(config: ClinGenConfig, quiet: bool = False, min_cpus: float = 0.0) -> None:
    """Join the configured cluster, or start a fresh local Ray instance with at least `min_cpus` logical CPUs
    (what the caller's stream holds at once). `quiet`: worker output (vLLM, Ray Train) stays in Ray's log files
    and Ray Data prints no progress of its own."""
    ray = require("ray")
    if quiet:
        _quiet_ray_data()
    if ray.is_initialized():
        return
    address, num_cpus = ray_target(config, os.environ, os.cpu_count(), min_cpus)
    if address:  # a cluster (or the one a submitted job runs in)
        ray.init(address=address, log_to_driver=not quiet)
        return
    start_local_ray(num_cpus, quiet)


def ray_target(config: ClinGenConfig, environ: Mapping[str, str], cores: int | None,
               min_cpus: float = 0.0) -> tuple[str | None, int]:
    """(address to join, or None for a fresh local instance; that instance's logical CPUs): cluster.address,
    else RAY_ADDRESS from `environ`; cluster.num_cpus, else the machine's `cores` but at least 8 and at least
    `min_cpus` (rounded up)."""
    address = config.cluster.address or environ.get("RAY_ADDRESS") or None
    # Ray Data's LLM stages need logical CPUs beside each engine (a pair task runs two) even on a 2-core
    # machine; the engines are the only busy actors, so oversubscribing logical CPUs is safe.
    return address, config.cluster.num_cpus or max(8, cores or 1, math.ceil(min_cpus))


def start_local_ray(num_cpus: int, quiet: bool = False) -> None:
    """A fresh local Ray instance with `num_cpus` logical CPUs, its dashboard off and its auth token private to
    its owner. `quiet`: worker output stays in Ray's log files (Ray's session folder)."""
    ray = require("ray")
    # Ray 2.60's GCS, raylet and worker gRPC servers listen on every interface whatever node address is given
    # (GrpcServer is built with listen_to_localhost_only=false), so the control plane is guarded by Ray's token
    # authentication instead, which ray.init turns on for a fresh local instance when RAY_AUTH_MODE is unset
    # (every connection must then present the token in ~/.ray/auth_token). Setting the variable here would not
    # do: Ray reads it once at import.
    # address="local": a fresh instance, never a stale or foreign cluster found on this machine (join a
    # running cluster explicitly with cluster.address=auto).
    ray.init(address="local", num_cpus=num_cpus, include_dashboard=False, log_to_driver=not quiet,
             logging_level=logging.WARNING if quiet else logging.INFO)
    _restrict_token_file()


def save_ray_logs(out: str | Path, started: float | None = None) -> Path | None:
    """Copy the Ray session's log files (raylet, GCS, and each worker's .out/.err, which hold vLLM's and Ray
    Train's own output) changed since `started` (a time.time(); None: all) into <out>/logs/ray-<time>/, so a
    run's logs stay with its results after /tmp is cleared. Returns that folder, or None when Ray is not
    running here, `out` is not a local path, or nothing could be copied. Never raises: a run's result
    must not be lost to its logs."""
    import shutil
    import time
    if not is_local_path(str(out)):
        return None
    try:
        import ray._private.worker as worker
        node = worker._global_node  # None for a ray:// client: the logs are on the head, not here
        source = Path(node.get_logs_dir_path()) if node is not None else None
        if source is None or not source.is_dir():
            return None
        dest = Path(out) / "logs" / f"ray-{time.strftime('%Y%m%d-%H%M%S')}"
        copied = 0
        for path in sorted(source.rglob("*")):
            if path.is_file() and not path.is_symlink() and (started is None or path.stat().st_mtime >= started):
                target = dest / path.relative_to(source)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, target)
                copied += 1
        return dest if copied else None
    except (OSError, ImportError, AttributeError) as exc:
        log.warning("could not copy Ray's logs into %s: %s", out, exc)
        return None


def _quiet_ray_data() -> None:
    """Ray Data's per-10-s execution summaries and bars count blocks, not rows; ClinGen shows its own progress."""
    import ray.data
    ray.data.DataContext.get_current().enable_progress_bars = False
    ray.data.DataContext.get_current().print_on_execution_start = False
    for name in ("ray.data", "ray.llm", "ray.train", "ray.tune"):
        logging.getLogger(name).setLevel(logging.WARNING)
    # ray.data.llm calls ray.init again (INFO: "Calling ray.init() again ..."), and Ray Data warns that the
    # progress bars that ClinGen switched off for its own are off.
    logging.getLogger("ray._private.worker").setLevel(logging.WARNING)
    logging.getLogger("ray.data._internal.progress").setLevel(logging.ERROR)
    # Said at every start of the local instance ClinGen starts with token authentication on purpose
    # (test_ray_auth.py): advice to opt out is noise on a user's console.
    logging.getLogger("ray._private.authentication.authentication_token_setup").setLevel(logging.ERROR)
    # ray.llm's modules give themselves a console handler at INFO ("No cloud storage mirror configured") unless
    # "ray.llm" already has one: give it a silent one, and lower those already made.
    llm = logging.getLogger("ray.llm")
    if not llm.handlers:
        llm.addHandler(logging.NullHandler())
    for name in list(logging.root.manager.loggerDict):
        if name.startswith("ray.llm."):
            logging.getLogger(name).setLevel(logging.WARNING)
    # Ray Data's advice to add blocks when a small run gives a map stage fewer inputs than its task pool.
    warnings.filterwarnings("ignore", message="The maximum number of concurrent tasks", category=UserWarning)


def _restrict_token_file() -> None:
    """Ray writes its generated token world-readable (0644); only its owner should be able to join."""
    path = Path(os.environ.get("RAY_AUTH_TOKEN_PATH") or Path.home() / ".ray" / "auth_token")
    try:
        if path.is_file() and path.stat().st_uid == os.getuid() and path.stat().st_mode & 0o077:
            path.chmod(0o600)
    except OSError as exc:  # a read-only home: the token still works, only its mode is left as Ray wrote it
        log.warning("could not make %s private: %s", path, exc)
