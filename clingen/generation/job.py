"""The generation job (kg -> prompts -> generation -> parsing/filtering -> datasets): streams prompt rows
through the generator with Ray Data, parses and filters the replies, and commits Parquet shards that a
killed run resumes from."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from clingen import __version__
from clingen.cluster import check_shared_paths, ensure_ray
from clingen.config import ClinGenConfig, changed_paths, config_from_dict
from clingen.datasets.readers import check_real_files
from clingen.errors import ClinGenError, ConfigError, cause_line
from clingen.generation.commits import RayCommits, ShardBuffer
from clingen.generation.rounds import RoundsExhausted, next_round
from clingen.parsing.checker import text_of
from clingen.parsing.dedup import Deduplicator
from clingen.runfolder.card import write_card
from clingen.runfolder.manifest import Manifest, build_manifest
from clingen.runfolder.progress import Progress
from clingen.runfolder.reasons import NO_EXAMPLE, failure_record, level_of
from clingen.runfolder.store import OutputStore, writing
from clingen.tasks.registry import get_task
from clingen.tasks.spec import TaskSpec

class GenerationFailed(ClinGenError):
    """The generator failed (engine death, unreachable endpoint, too many per-row errors)."""


@dataclass
class RunCounters:
    rows: int = 0
    examples: int = 0
    generation_errors: int = 0
    failures: dict[str, int] = field(default_factory=dict)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    first_error: str | None = None
    rounds: int = 0  # streams started (generation.examples: one per round)
    requests: dict[str, int | float] = field(default_factory=dict)  # the HTTP stage's counts (http_stage.StageLedger)
    examples_goal: int | None = None


@dataclass
class GenerationReport:
    out: str
    manifest_path: str
    manifest: Manifest
    set_aside: list[dict] = field(default_factory=list)  # shards this run found damaged and regenerated

    @property
    def complete(self) -> bool:
        return self.manifest.complete


def run_generation(config: ClinGenConfig, on_row: Callable[..., None] | None = None,
                   quiet: bool = False, wait: bool = False) -> GenerationReport:
    """Generate (or finish generating, or grow to a larger `generation.n`) `generation.n` rows into
    `generation.out`, or with `generation.examples` rows in rounds until that many examples are kept (rounds.py),
    holding the folder's writer lock throughout (`wait`: wait for another writer to finish instead of
    FolderBusy). `on_row(counters, rows_to_do[, goal])` is called after every streamed row (a progress display;
    goal, with generation.examples only: (examples wanted, examples kept before this run)); `quiet` keeps Ray's and vLLM's worker logs
    off the console (they stay in Ray's session log folder). Raises ConfigError when the folder holds another
    dataset (another fingerprint), rows beyond `generation.n`, or shards without a manifest; GenerationFailed
    when the generator fails; RoundsExhausted when the examples goal needs more than generation.max_rows."""
    started = time.time()
    spec = get_task(config.task, config.task_file)
    check_real_files(spec, {"prompts.fewshot_path": (config.prompts.fewshot_path, "train")})  # before Ray starts
    with writing(config.generation.out, "clingen generate", wait=wait):
        store = OutputStore(config.generation.out)
        progress = store.scan()  # what it sets aside is on record (stderr, manifest) before anything can fail
        previous = store.read_manifest()
        if config.generation.examples is not None:  # generation.n is planned by the rounds, from what is there
            config = _with_n(config, max(_asked_before(previous, progress), 1))
        _check_same_run(config, previous, progress)
        run, model_name = RunCounters(examples_goal=config.generation.examples), config.generator.model.source
        try:
            config, model_name = _rounds(config, spec, store, progress, previous, run, on_row, quiet)
        except RoundsExhausted:
            _finish(config, spec, store, run, model_name, time.time() - started, previous)
            raise
        path, manifest = _finish(config, spec, store, run, model_name, time.time() - started, previous)
    return GenerationReport(config.generation.out, path, manifest, progress.set_aside)


def _rounds(config: ClinGenConfig, spec: TaskSpec, store: OutputStore, progress: Progress,
            previous: Manifest | None, run: RunCounters, on_row: Callable[..., None] | None,
            quiet: bool) -> tuple[ClinGenConfig, str]:
    """Stream the rows not done below generation.n, once, or with generation.examples round after round
    (rounds.next_round) until the goal is met; (the config with the last round's n, the served model's name).
    A round that commits no row ends the rounds: the run is then incomplete, as a plain run would be."""
    goal, model_name, todo_total = config.generation.examples, config.generator.model.source, 0
    goal_info = (goal, progress.examples) if goal is not None else None
    while True:
        if goal is not None:
            max_rows = config.generation.max_rows or 20 * goal
            plan = next_round(goal, config.generation.n if run.rounds else _asked_before(previous, progress),
                              len(progress.rows), progress.examples, max_rows)
            if plan.n is None:
                return config, model_name
            config = _with_n(config, plan.n)
        todo = config.generation.n - len([r for r in progress.rows if r < config.generation.n])
        if todo <= 0:
            return config, model_name
        todo_total += todo
        done_before, run.rounds = len(progress.rows), run.rounds + 1
        report_row = None
        if on_row is not None:  # goal only when there is one: on_row(counters, todo) callbacks stay valid
            extra = (goal_info,) if goal_info else ()
            report_row = lambda counters, total=todo_total: on_row(counters, total, *extra)  # noqa: E731
        model_name = _generate(config, spec, store, progress, store.read_manifest() or previous, run,
                               report_row, quiet)
        progress = store.scan(verify=False)
        if goal is None or len(progress.rows) == done_before:
            return config, model_name


def _asked_before(previous: Manifest | None, progress: Progress) -> int:
    """The generation.n the folder was last grown to: its manifest's, or past its highest done row."""
    return max(previous.counts.prompts if previous else 0, max(progress.rows, default=-1) + 1)


def _with_n(config: ClinGenConfig, n: int) -> ClinGenConfig:
    return config.model_copy(update={"generation": config.generation.model_copy(update={"n": n})})


def _finish(config: ClinGenConfig, spec: TaskSpec, store: OutputStore, run: RunCounters, model_name: str,
            wall_s: float, previous: Manifest | None) -> tuple[str, Manifest]:
    """The manifest and the dataset card of what the folder now holds (README.md: the folder loads with
    datasets.load_dataset as it is)."""
    manifest = build_manifest(config, spec, store.scan(verify=False), run, model_name, wall_s,
                              store.read_manifest() or previous)
    path = store.write_manifest(manifest)
    write_card(store, manifest, spec)
    return path, manifest


def _generate(config: ClinGenConfig, spec: TaskSpec, store: OutputStore, progress: Progress,
              previous: Manifest | None, run: RunCounters, on_row: Callable[[RunCounters], None] | None,
              quiet: bool) -> str:
    """Start Ray and the stream for the rows not done and drain it into shards; the served model's name."""
    if config.generator.backend == "http":  # before Ray starts: a dead endpoint fails in seconds, named
        from clingen.generation.http import check_endpoint
        check_endpoint(config.generator)
    from clingen.generation.stream import build_stream, stream_cpu_demand
    demand = stream_cpu_demand(config.generator, 2 if spec.family == "pair" else 1)
    ensure_ray(config, quiet=quiet, min_cpus=demand)
    check_shared_paths(config, **{"generation.out": config.generation.out})
    stream = build_stream(config, spec, np.array(sorted(progress.rows), dtype=np.int64))
    # Before the first shard: a run killed from here on is resumed only with the same fingerprint.
    store.write_manifest(build_manifest(config, spec, progress, None, stream.model_name, 0.0, previous))
    try:
        _drain(stream.dataset, config, spec, store, progress, run, on_row)
    finally:  # also for a failed run: its retries and rate-limited replies are part of why
        _count_requests(run, stream)
        with contextlib.suppress(Exception):  # the counts are read; a cluster already gone has ended it too
            stream.close()
    return stream.model_name


def _count_requests(run: RunCounters, stream) -> None:
    try:
        counts = stream.request_counts()
    except Exception:  # the counts are a report: a ledger lost with the cluster must not hide the run's outcome
        return
    for key, value in counts.items():
        total = run.requests.get(key, 0) + value
        run.requests[key] = round(total, 2) if isinstance(total, float) else int(total)


def _check_same_run(config: ClinGenConfig, previous: Manifest | None, progress: Progress) -> None:
    """Resuming into a folder written with another fingerprint would mix two datasets, and a smaller n than the
    rows it holds would misreport them: refuse both, naming what differs."""
    out = config.generation.out
    if previous is None:
        if progress.rows:
            raise ConfigError(f"{out} holds {len(progress.rows)} generated rows but no manifest.json, so the config "
                              f"that made them is unknown; choose another --out, or remove the folder")
        return
    recorded, fingerprint = recorded_fingerprint(previous)
    if fingerprint != config.dataset_fingerprint():
        differs = changed_paths(recorded.hashed_dump(), config.hashed_dump()) if recorded else []
        differs = [p for p in differs if p != "generation.n"]
        made_by = previous.clingen_version
        upgrade = (f"; it was made by ClinGen {made_by}, whose settings differ from this version's ({__version__}): "
                   f"run `clingen reparse {out}` once to re-check it under this version's rules "
                   f"and settings, then resume" if made_by != __version__ else "")
        what = f" (settings that differ: {', '.join(differs)})" if differs else ""
        raise ConfigError(f"{out} holds a dataset with fingerprint {fingerprint}, this config's is "
                          f"{config.dataset_fingerprint()}{what}; resume with the same settings (see its "
                          f"manifest.json) or choose another --out{upgrade}")
    beyond = max(progress.rows, default=-1) + 1
    if beyond > config.generation.n:
        raise ConfigError(f"{out} already holds {len(progress.rows)} rows, up to row {beyond - 1}; generation.n="
                          f"{config.generation.n} is smaller: give --n {beyond} or more (a larger n grows the same "
                          f"dataset), or choose another --out")


def recorded_fingerprint(manifest: Manifest) -> tuple[ClinGenConfig | None, str | None]:
    """The recorded config and its dataset fingerprint under this version's rules (so that manifests written
    before a field was reclassified still match); the recorded value when the config no longer validates."""
    try:
        recorded = config_from_dict(manifest.config, recorded=True)
    except ConfigError:
        return None, manifest.fingerprint or manifest.config_hash
    return recorded, recorded.dataset_fingerprint()


def _drain(dataset, config: ClinGenConfig, spec: TaskSpec, store: OutputStore, progress: Progress,
           run: RunCounters, on_row: Callable[[RunCounters], None] | None = None) -> None:
    """Consume the stream in the driver: dedup, buffer, and hand a shard to the committer every `shard_rows`
    rows (commits.RayCommits: written by Ray tasks while the stream goes on)."""
    dedup = Deduplicator(config.generation.dedup_threshold)
    _seed_dedup(dedup, store, spec)
    commits = RayCommits(store, spec.family)
    buffer = ShardBuffer()
    part = progress.next_part
    limit = config.generator.max_row_errors
    stopped: BaseException | None = None
    try:
        for row in dataset.iter_rows():
            _absorb(row, dedup, buffer, run)
            if on_row is not None:
                on_row(run)
            seen = run.rows + run.generation_errors
            if seen >= 20 and run.generation_errors > limit * seen:
                raise GenerationFailed(f"{run.generation_errors} of {seen} rows failed in the generator (more "
                                       f"than generator.max_row_errors={limit}); first error: {run.first_error}")
            if len(buffer.rows) >= config.generation.shard_rows:
                commits.submit(part, buffer)
                part, buffer = part + 1, ShardBuffer()
    except GenerationFailed:
        raise
    except Exception as exc:  # engine death, unreachable endpoint, a failed write: fail fast with the cause
        raise GenerationFailed(f"the generation stream failed: {cause_line(exc)}") from exc
    except BaseException as exc:  # Ctrl-C: what was parsed is still committed below, then the run stops
        stopped = exc
        raise
    finally:
        try:
            commits.submit(part, buffer)  # whatever was parsed is kept; a re-run resumes after it
            commits.wait()
        except Exception as exc:
            if stopped is None:  # e.g. a full disk: one line, the committed shards kept, a re-run resumes
                raise GenerationFailed(f"committing a shard failed: {cause_line(exc)}; the shards "
                                       f"committed before it are kept: free the space (or fix the cause) and run "
                                       f"the same command again to resume") from exc
            # Stopping wins over a commit the stop interrupted: that shard's rows are generated again.


def _absorb(row: dict, dedup: Deduplicator, buffer: ShardBuffer, run: RunCounters) -> None:
    """One parsed row (rows.PARSED_COLUMNS) into the shard buffer and the run's counters. The JSON columns are
    passed on undecoded (commits.commit_shard decodes them) except for a duplicate, which becomes a failure."""
    reasons = (row.get("failure_reasons") or "").split()
    for reason in reasons:
        _count(run.failures, reason)
    prompt_tokens, completion_tokens = int(row["prompt_tokens"]), int(row["completion_tokens"])
    run.prompt_tokens += prompt_tokens
    run.completion_tokens += completion_tokens
    if row.get("failures"):
        buffer.failures.append(row["failures"])
    if row.get("generation_error"):  # recorded, but not marked done: the next run retries the row
        run.generation_errors += 1
        run.first_error = run.first_error or row["generation_error"]
        return
    row_id = int(row["row_id"])
    buffer.rows.append(row_id)
    buffer.prompt_tokens += prompt_tokens
    buffer.completion_tokens += completion_tokens
    run.rows += 1
    levels = [level_of(reason) for reason in reasons]
    for reason, level in zip(reasons, levels):
        if level == "mention":
            _count(buffer.rejected_mentions, reason)
    if not row.get("example"):
        _count(buffer.rejected_rows, next((r for r, level in zip(reasons, levels) if level == "row"), NO_EXAMPLE))
        return
    duplicate = dedup.check_signed(row["example_id"], row["dedup_digest"], row["dedup_signature"])
    if duplicate is None:
        buffer.examples.append(row["example"])
        run.examples += 1
        return
    reason, earlier = duplicate
    example = json.loads(row["example"])
    record = example.pop("reply_record", None)
    buffer.failures.append(json.dumps([failure_record(row_id, reason, f"repeats {earlier}", json.dumps(example),
                                                      reply_record=record)]))
    _count(buffer.rejected_rows, reason)
    _count(run.failures, reason)


def _count(counts: dict[str, int], reason: str) -> None:
    counts[reason] = counts.get(reason, 0) + 1


def _seed_dedup(dedup: Deduplicator, store: OutputStore, spec: TaskSpec) -> None:
    """A resumed run must also reject repeats of what earlier runs committed."""
    columns = ["id", "text_a", "text_b"] if spec.family == "pair" else ["id", "text"]
    table = store.read_examples(columns)
    if table is not None:
        for example in table.to_pylist():
            dedup.check(example["id"], text_of(example))
