"""Generation manifest (generation -> datasets): what a run directory holds and how it was made."""

from __future__ import annotations

import time

from clingen import __version__
from clingen.config import ClinGenConfig
from clingen.generation.store import Progress
from clingen.parsing.reasons import DUPLICATE_REASONS
from clingen.tasks.spec import TaskSpec

NOT_PARSE_FAILURES = DUPLICATE_REASONS + ("generation_error",)


def build_manifest(config: ClinGenConfig, spec: TaskSpec, progress: Progress, run, model_name: str,
                   wall_s: float, previous: dict | None) -> dict:
    """Totals come from the committed shards (so they are right across resumed runs); each finished run adds an
    entry to `runs` with its own counts and wall time (`run` None: the manifest a run writes before its first
    shard, which records the fingerprint so that a killed run cannot be resumed with another config)."""
    runs = list(previous.get("runs", [])) if previous else []
    set_aside = [*(previous.get("set_aside", []) if previous else []), *progress.set_aside]
    if run is not None:
        runs.append({"finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "wall_s": round(wall_s, 2),
                     "rows": run.rows, "examples": run.examples, "generation_errors": run.generation_errors,
                     "prompt_tokens": run.prompt_tokens, "completion_tokens": run.completion_tokens})
    requested = config.generation.n
    done = len([r for r in progress.rows if r < requested])
    parse_failures = {r: c for r, c in progress.failures.items() if r not in NOT_PARSE_FAILURES}
    return {
        "clingen_version": __version__,
        "task": spec.name, "family": spec.family, "strategy": config.prompts.strategy,
        "config": config.model_dump(mode="json"), "fingerprint": config.dataset_fingerprint(),
        "seed": config.seed, "model": model_name,
        "counts": {"prompts": requested, "rows_done": done, "examples": progress.examples,
                   "parse_failures": sum(parse_failures.values()), "parse_failures_by_reason": parse_failures,
                   "duplicates": sum(progress.failures.get(r, 0) for r in DUPLICATE_REASONS),
                   "duplicates_by_reason": {r: progress.failures.get(r, 0) for r in DUPLICATE_REASONS},
                   # Rows whose request failed; they are retried by the next run, so this counts attempts.
                   "generation_errors": progress.failures.get("generation_error", 0),
                   # examples + rejected_rows == rows_done: each row without an example counts once, by the
                   # first row-level reason it failed (duplicates included); mentions a kept or rejected
                   # example left out are counted apart.
                   "rejected_rows": sum(progress.rejected_rows.values()),
                   "rejected_rows_by_reason": dict(sorted(progress.rejected_rows.items())),
                   "rejected_mentions_by_reason": dict(sorted(progress.rejected_mentions.items()))},
        "tokens": {"prompt": progress.prompt_tokens, "completion": progress.completion_tokens},
        "wall_time_s": round(sum(r["wall_s"] for r in runs), 2),
        "complete": done == requested,
        "files": {"examples": "data/part-*.parquet", "failures": "failures/part-*.parquet",
                  "progress": "progress/part-*.json"},
        "runs": runs,
        # Shards whose files no longer matched their markers: moved aside, their rows regenerated.
        "set_aside": set_aside,
    }
