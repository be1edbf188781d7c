"""Training stage (training -> console): rank 0 posts its progress after every optimizer step to a small Ray actor,
and a driver thread polls it, so that the console shows step and loss while `TorchTrainer.fit` blocks."""

from __future__ import annotations

import threading
from collections.abc import Callable

from clingen._imports import require


class TrainingProgress:
    """The newest progress record of a training run (a Ray actor; see `start_progress_actor`). A record is
    {"stage": "fewshot" | "synthetic", "stage_index", "stages", "epoch" (0-based), "epochs" (planned),
    "stage_steps" (optimizer steps done in the stage), "total_steps" (the stage's budget, or None),
    "loss" (mean over the epoch so far)}."""

    def __init__(self):
        self._latest: dict | None = None

    def post(self, record: dict) -> None:
        self._latest = record

    def latest(self) -> dict | None:
        return self._latest


def start_progress_actor():
    """A TrainingProgress actor that takes no CPU (it only holds one dict), to pass to the workers."""
    ray = require("ray")
    return ray.remote(num_cpus=0)(TrainingProgress).remote()


class ProgressPoller:
    """Polls a TrainingProgress actor every `interval_s` seconds in a daemon thread and calls `on_progress` with
    each new record, until the `with` block ends."""

    def __init__(self, actor, on_progress: Callable[[dict], None], interval_s: float = 1.0):
        self.actor, self.on_progress, self.interval_s = actor, on_progress, interval_s
        self._last: dict | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="clingen-training-progress", daemon=True)

    def __enter__(self) -> "ProgressPoller":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> bool:
        self._stop.set()
        self._thread.join()
        self._poll_once()  # the last steps, posted after the previous poll
        return False

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self._poll_once()

    def _poll_once(self) -> None:
        ray = require("ray")
        try:
            record = ray.get(self.actor.latest.remote(), timeout=10)
        except Exception:  # noqa: BLE001 - the progress display must never fail a training run
            return
        if record is not None and record != self._last:
            self._last = record
            self.on_progress(record)
