"""Runs the pipeline's steps in flow order (orchestration): skips each step whose result for the same key is
already on disk, records every step's outputs in `<out>/<step>-<key>/step.json`, and stops at the first failure
with the earlier results kept."""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from clingen.config import ClinGenConfig
from clingen.datasets.readers import check_real_files
from clingen.pipeline.steps import STEPS, Step, StepContext, real_data_files, step_key, task_spec

logger = logging.getLogger("clingen.pipeline")

DONE_FILE = "step.json"


@dataclass(frozen=True)
class StepRecord:
    """What `<folder>/step.json` holds: one finished step's result, the only file a rerun trusts. Written by
    the runner after the step's body returns; read back (`read`) to reuse the result for the same key."""

    step: str
    key: str  # the step key (steps.step_key) the result was produced under
    finished_at: str  # UTC, ISO 8601
    wall_s: float  # seconds the body ran
    outputs: dict  # the body's return value: paths and counts the downstream steps read
    # Digest of the committed shards (OutputStore.committed_digest) of each run folder the result was made from,
    # by step, its own folder included (generate, filter). Step keys hash the config, not the data, so this is
    # what notices a set re-checked by `clingen reparse` (or regenerated) under the same key. Records written
    # before this field have none and are trusted as they are.
    data: dict = field(default_factory=dict)

    def write(self, folder: Path) -> None:
        (folder / DONE_FILE).write_text(json.dumps(asdict(self), indent=2, default=str))

    @classmethod
    def read(cls, folder: Path) -> "StepRecord | None":
        """The folder's record, or None when the step never finished there.

        Raises ValueError naming the file when it is not a step record (hand-edited or cut off)."""
        path = folder / DONE_FILE
        if not path.is_file():
            return None
        try:
            data = json.loads(path.read_text())
            return cls(**{name: data[name] for name in _REQUIRED_KEYS}, data=dict(data.get("data") or {}))
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{path} is not a step record ({type(exc).__name__}: {exc}); expected the keys "
                             f"{sorted(_REQUIRED_KEYS)}. Delete the folder to rerun the step") from exc

    def stale_data(self, current: dict[str, str]) -> list[str]:
        """The steps whose recorded data `current` (data_digests now) no longer matches."""
        return sorted(name for name, digest in self.data.items() if current.get(name) != digest)


_REQUIRED_KEYS = ("step", "key", "finished_at", "wall_s", "outputs")


def data_digests(folders: dict[str, Path]) -> dict[str, str]:
    """{step: digest of its folder's committed shards} for the folders that hold a run (progress markers);
    model folders and the like are left out."""
    from clingen.runfolder.store import OutputStore
    digests = {}
    for name, folder in folders.items():
        digest = OutputStore(str(folder), create=False).committed_digest() if (folder / "progress").is_dir() else None
        if digest:
            digests[name] = digest
    return digests


@dataclass
class StepOutcome:
    name: str
    status: str  # ran, cached, skipped, failed, not run
    key: str | None = None
    folder: str | None = None
    wall_s: float = 0.0
    outputs: dict = field(default_factory=dict)
    reason: str | None = None


@dataclass
class PipelineReport:
    out: Path
    steps: list[StepOutcome]

    @property
    def failed(self) -> StepOutcome | None:
        return next((s for s in self.steps if s.status == "failed"), None)

    def outputs(self, name: str) -> dict:
        return next((s.outputs for s in self.steps if s.name == name), {})


def ordered_steps(steps: list[str]) -> list[str]:
    """The listed steps in flow order (the YAML order does not matter)."""
    return [name for name in STEPS if name in steps]


def step_config(config: ClinGenConfig, step: Step, folder: Path, upstream: dict[str, dict]) -> ClinGenConfig:
    """The config a step runs with: upstream outputs (styles and topics files) and the step's folder filled in."""
    updates = {}
    if "styles" in upstream:
        updates["styles_file"] = Path(upstream["styles"]["styles_file"])
    if "topics" in upstream:
        updates["topics_file"] = Path(upstream["topics"]["topics_file"])
    prompts = config.prompts.model_copy(update=updates)
    generation = config.generation.model_copy(update={"out": str(folder)}) if step.is_generation else config.generation
    return config.model_copy(update={"prompts": prompts, "generation": generation})


def read_done(folder: Path, key: str, data: dict[str, str] | None = None) -> dict | None:
    """The outputs of the step finished in `folder` under `key` from the same data (`data`: data_digests of the
    folders it depends on now; None skips that check), else None."""
    record = StepRecord.read(folder)
    if record is None or record.key != key or (data is not None and record.stale_data(data)):
        return None
    return record.outputs


def run_pipeline(config: ClinGenConfig, log: Callable[[str], None] | None = None, step_functions: dict | None = None,
                 cached_only: bool = False, check_data: bool = True) -> PipelineReport:
    """Every configured step, in flow order; a step whose folder holds a finished result for its key is reused.
    `step_functions` ({name: function}) replaces those steps' bodies (tests of the orchestration itself); `cached_only`
    runs nothing and stops at the first step without a finished result (status "not run"). Every real split
    the steps will read is read first (`check_data`; off when the caller has done it), so a file with an
    unknown label or format fails before any step starts. Each step's status line goes to `log` (default: the
    "clingen.pipeline" logger at INFO, which the CLI prints on stdout)."""
    log = log or logger.info
    functions = {name: step.run for name, step in STEPS.items()} | (step_functions or {})
    spec = task_spec(config)  # an unknown task fails here, before any step starts
    if check_data and not cached_only:
        check_real_files(spec, real_data_files(config, spec))
    out = Path(config.pipeline.out)
    out.mkdir(parents=True, exist_ok=True)
    outcomes: list[StepOutcome] = []
    outputs: dict[str, dict] = {}
    keys: dict[str, str] = {}
    digests: dict[str, str] = {}  # data_digests of the finished steps' folders, each read once
    for name in ordered_steps(config.pipeline.steps):
        step = STEPS[name]
        reason = step.unused(config)
        if reason:
            outcomes.append(StepOutcome(name, "skipped", reason=reason))
            log(f"[{name}] skipped: {reason}")
            continue
        upstream = {u: outputs[u] for u in step.upstream if u in outputs}
        key = step_key(name, step_config(config, step, out / "unkeyed", upstream), {u: keys[u] for u in upstream})
        folder = out / f"{name}-{key}"
        conf = step_config(config, step, folder, upstream)
        made_from = {u: digests[u] for u in _ancestors(name) if u in digests}
        if cached_only and read_done(folder, key, made_from | data_digests({name: folder})) is None:
            outcomes.append(StepOutcome(name, "not run", key, str(folder), reason="no finished result yet"))
            break
        outcome = _run_step(step, functions[name], key, made_from, StepContext(conf, spec, folder, upstream), log)
        outcomes.append(outcome)
        if outcome.status == "failed":
            break
        outputs[name], keys[name] = outcome.outputs, key
        digests |= data_digests({name: folder})
    report = PipelineReport(out, outcomes)
    (out / "pipeline.json").write_text(json.dumps(
        {"task": spec.name, "steps": [vars(s) for s in outcomes]}, indent=2, default=str))
    return report


def _ancestors(name: str) -> set[str]:
    """Every step `name` is made from, directly or through its upstream steps (evaluate: train, generate...)."""
    seen, todo = set(), list(STEPS[name].upstream)
    while todo:
        upstream = todo.pop()
        if upstream not in seen:
            seen.add(upstream)
            todo.extend(STEPS[upstream].upstream)
    return seen


def _run_step(step: Step, function, key: str, made_from: dict[str, str], ctx: StepContext, log) -> StepOutcome:
    """Reuse the step's finished result when its key and the data it was made from match, else run its body.
    `made_from`: data_digests of the finished steps it is made from (directly or through its upstream steps)."""
    name, folder = step.name, ctx.folder
    record = StepRecord.read(folder) if step.cacheable else None
    if record is not None and record.key == key:
        stale = record.stale_data(made_from | data_digests({name: folder}))
        if not stale:
            log(f"[{name}] cached: {folder}")
            return StepOutcome(name, "cached", key, str(folder), outputs=record.outputs)
        log(f"[{name}] the data of {', '.join(stale)} changed since it finished (e.g. `clingen reparse`): rerun")
    log(f"[{name}] running in {folder}")
    folder.mkdir(parents=True, exist_ok=True)
    started = time.time()
    try:
        produced = function(ctx)
    except Exception as exc:  # the report names the failed step; earlier steps' results stay on disk
        trace = _keep_traceback(folder)
        log(f"[{name}] failed after {time.time() - started:.0f}s: {type(exc).__name__}: {exc} (traceback: {trace})")
        return StepOutcome(name, "failed", key, str(folder), round(time.time() - started, 1),
                           reason=f"{type(exc).__name__}: {exc} (traceback: {trace})")
    wall = round(time.time() - started, 1)
    StepRecord(name, key, time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), wall, produced,
               made_from | data_digests({name: folder})).write(folder)
    log(f"[{name}] done in {wall:.0f}s")
    return StepOutcome(name, "ran", key, str(folder), wall, produced)


def _keep_traceback(folder: Path) -> Path:
    """The current exception's traceback beside the failed step's folder, in <pipeline.out>/errors/<folder>-<time>
    .txt (a new file each time; not inside the step's folder, whose command refuses files it did not write), for
    the bug report the one-line reason cannot be; its path."""
    import traceback
    errors = folder.parent / "errors"
    errors.mkdir(parents=True, exist_ok=True)
    path = errors / f"{folder.name}-{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}-{os.getpid()}.txt"
    path.write_text(traceback.format_exc(), encoding="utf-8")
    return path
