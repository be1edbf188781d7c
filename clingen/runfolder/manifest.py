"""The run folder's manifest.json: what a run folder holds and how it was made, as one typed record that the
generation job writes and every later stage (reparse, filtering, training, quality, the dataset card, the CLI)
reads."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from clingen import __version__
from clingen.errors import ConfigError
from clingen.runfolder.reasons import DUPLICATE_REASONS

if TYPE_CHECKING:
    from clingen.config import ClinGenConfig
    from clingen.runfolder.progress import Progress
    from clingen.tasks.spec import TaskSpec

NOT_PARSE_FAILURES = DUPLICATE_REASONS + ("generation_error",)
MANIFEST_FILE = "manifest.json"


class _Record(BaseModel):
    # Unknown keys are refused, not dropped: a manifest from a newer ClinGen read by an older one would otherwise
    # be rewritten without them (Manifest.from_json turns the refusal into a ConfigError naming the key).
    model_config = ConfigDict(extra="forbid")


class ManifestCounts(_Record):
    """Row and example counts over every committed shard. examples + rejected_rows == rows_done."""

    prompts: int = Field(description="Rows asked for (generation.n).")
    rows_done: int = Field(description="Rows below generation.n whose outcome is committed.")
    examples: int = Field(description="Examples kept (after filtering, for a filtered set).")
    parse_failures: int = Field(0, description="Failures other than duplicates and generation errors.")
    parse_failures_by_reason: dict[str, int] = Field(default_factory=dict, description="parse_failures by reason.")
    duplicates: int = Field(0, description="Examples dropped as exact or near copies of an earlier one.")
    duplicates_by_reason: dict[str, int] = Field(default_factory=dict, description="duplicates by reason.")
    # Rows whose request failed; they are retried by the next run, so this counts attempts, not rows.
    generation_errors: int = Field(0, description="Failed generator requests (attempts).")
    rejected_rows: int = Field(0, description="Done rows without an example, each counted once by its first "
                               "row-level reason (duplicates included).")
    rejected_rows_by_reason: dict[str, int] = Field(default_factory=dict, description="rejected_rows by reason.")
    rejected_mentions_by_reason: dict[str, int] = Field(default_factory=dict, description="Entity mentions left "
                                                        "out of a kept or rejected example, by reason.")
    set_aside: int | None = Field(None, description="Consistency filtering: examples set aside; None for a "
                                  "generation run.")


class RunEntry(_Record):
    """One `clingen generate` invocation that finished (resumed runs add one entry each)."""

    finished_at: str = Field(description="UTC time, ISO 8601 (YYYY-MM-DDTHH:MM:SSZ).")
    wall_s: float = Field(description="Wall time of this invocation, seconds.")
    rows: int = Field(description="Rows this invocation generated.")
    examples: int = Field(description="Examples this invocation kept.")
    generation_errors: int = Field(description="Failed generator requests in this invocation.")
    prompt_tokens: int = Field(description="Prompt tokens this invocation sent.")
    completion_tokens: int = Field(description="Completion tokens this invocation received.")
    examples_goal: int | None = Field(None, description="generation.examples of this invocation (generate until "
                                      "that many examples are kept), or None.")
    rounds: int = Field(1, description="Streams this invocation ran: with examples_goal, one per round of rows.")
    requests: dict[str, int | float] = Field(default_factory=dict, description="http backend: requests sent, "
                                             "retries, rate_limited (429) replies, failed_rows, and seconds "
                                             "waited (rate_limited_wait_s, budget_wait_s) in this invocation.")


class TokenCounts(_Record):
    prompt: int = Field(description="Prompt tokens over all committed shards.")
    completion: int = Field(description="Completion tokens over all committed shards.")


class ReparseEntry(_Record):
    """One `clingen reparse` that swapped a re-checked version in."""

    finished_at: str = Field(description="UTC time, ISO 8601.")
    clingen_version: str = Field(description="ClinGen version whose rules re-checked the rows.")
    wall_s: float = Field(description="Wall time of the reparse, seconds.")
    previous_version: str = Field(description="Where the previous version was moved, relative to the run "
                                  "folder (versions/<k>).")
    counts_before: ManifestCounts = Field(description="Counts of the previous version.")
    changes: dict[str, int] = Field(description="Rows by change (kept, lost, gained, ...).")


class FilterRecord(_Record):
    confidence: float = Field(description="pipeline.filter_confidence: the probability above which a few-shot "
                              "model's other label sets an example aside.")
    set_aside_by_label: dict[str, int] = Field(description="Examples set aside, by their generated label.")


class Manifest(_Record):
    """manifest.json of a generation run (or of a filtered set made from one). Optional fields default for
    manifests written by earlier versions (before fingerprints, rejected-row counts, set-aside shards)."""

    clingen_version: str = Field(description="ClinGen version that wrote it.")
    task: str = Field(description="Task name.")
    family: str = Field(description="Task family (ner, classification, relation, ...).")
    strategy: str = Field(description="prompts.strategy of the run.")
    config: dict[str, Any] = Field(description="The full config of the run (config.model_dump(mode='json')).")
    fingerprint: str | None = Field(None, description="dataset_fingerprint() of the run's config.")
    config_hash: str | None = Field(None, description="Manifests from before fingerprints: their config hash.")
    seed: int = Field(description="config.seed.")
    model: str | None = Field(None, description="Generator model name as served.")
    counts: ManifestCounts = Field(description="Counts over every committed shard.")
    tokens: TokenCounts = Field(description="Token counts over every committed shard.")
    wall_time_s: float = Field(description="Sum of the runs' wall times, seconds.")
    complete: bool = Field(description="True when rows_done == prompts.")
    files: dict[str, str] = Field(description="Glob of each file kind, relative to the run folder.")
    runs: list[RunEntry] = Field(default_factory=list, description="Finished invocations, oldest first.")
    # Shards whose files no longer matched their markers: moved aside, their rows regenerated.
    set_aside: list[dict[str, Any]] = Field(default_factory=list, description="Damaged shards moved aside.")
    reparses: list[ReparseEntry] = Field(default_factory=list, description="`clingen reparse` runs, oldest first.")
    filtered_from: str | None = Field(None, description="Consistency filtering: the run folder it filtered.")
    filter: FilterRecord | None = Field(None, description="Consistency filtering: its settings and result.")

    @classmethod
    def from_json(cls, text: str | bytes, where: str) -> "Manifest":
        """Parse manifest.json; ConfigError naming `where` and each bad or unknown key."""
        try:
            return cls.model_validate(json.loads(text))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{where} is not valid JSON ({exc}); expected a ClinGen manifest") from None
        except RecursionError:  # json's parser recurses once per nesting level
            raise ConfigError(f"{where} nests too deep to be read; expected a ClinGen manifest") from None
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or '(top level)'}: {e['msg']}" for e in exc.errors())
            raise ConfigError(f"{where} is not a manifest this ClinGen ({__version__}) can read: {problems}. "
                              f"Expected the manifest.json written by `clingen generate`") from None

    def to_json(self) -> str:
        """Indented, sorted JSON with a trailing newline; optional keys that are None are left out, so a
        generation run's manifest holds no filtering keys."""
        data = self.model_dump(mode="json")
        for key in ("fingerprint", "config_hash", "model", "filtered_from", "filter"):
            if data[key] is None:
                del data[key]
        if data["counts"]["set_aside"] is None:
            del data["counts"]["set_aside"]
        return json.dumps(data, indent=2, sort_keys=True) + "\n"


def build_manifest(config: ClinGenConfig, spec: TaskSpec, progress: Progress, run, model_name: str,
                   wall_s: float, previous: Manifest | None) -> Manifest:
    """Totals come from the committed shards (so they are right across resumed runs); each finished run adds an
    entry to `runs` with its own counts and wall time (`run` None: the manifest a run writes before its first
    shard, which records the fingerprint so that a killed run cannot be resumed with another config)."""
    runs = list(previous.runs) if previous else []
    set_aside = _with_new(previous.set_aside if previous else [], progress.set_aside)
    if run is not None:
        runs.append(RunEntry(finished_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                             wall_s=round(wall_s, 2), rows=run.rows, examples=run.examples,
                             generation_errors=run.generation_errors, prompt_tokens=run.prompt_tokens,
                             completion_tokens=run.completion_tokens, examples_goal=run.examples_goal,
                             rounds=run.rounds, requests=dict(run.requests)))
    requested = config.generation.n
    done = len([r for r in progress.rows if r < requested])
    return Manifest(
        clingen_version=__version__, task=spec.name, family=spec.family, strategy=config.prompts.strategy,
        config=config.model_dump(mode="json"), fingerprint=config.dataset_fingerprint(), seed=config.seed,
        model=model_name, counts=_counts(progress, requested, done),
        tokens=TokenCounts(prompt=progress.prompt_tokens, completion=progress.completion_tokens),
        wall_time_s=round(sum(r.wall_s for r in runs), 2), complete=done == requested,
        files={"examples": "data/part-*.parquet", "failures": "failures/part-*.parquet",
               "progress": "progress/part-*.json"},
        runs=runs, set_aside=set_aside, reparses=list(previous.reparses) if previous else [])


def _counts(progress: Progress, requested: int, done: int) -> ManifestCounts:
    parse_failures = {r: c for r, c in progress.failures.items() if r not in NOT_PARSE_FAILURES}
    return ManifestCounts(
        prompts=requested, rows_done=done, examples=progress.examples,
        parse_failures=sum(parse_failures.values()), parse_failures_by_reason=parse_failures,
        duplicates=sum(progress.failures.get(r, 0) for r in DUPLICATE_REASONS),
        duplicates_by_reason={r: progress.failures.get(r, 0) for r in DUPLICATE_REASONS},
        generation_errors=progress.failures.get("generation_error", 0),
        rejected_rows=sum(progress.rejected_rows.values()),
        rejected_rows_by_reason=dict(sorted(progress.rejected_rows.items())),
        rejected_mentions_by_reason=dict(sorted(progress.rejected_mentions.items())))


def with_set_aside(manifest: Manifest, entries: list[dict], progress: Progress | None = None) -> Manifest:
    """`manifest` with `entries` (what a writing command just set aside) on record and, given the committed
    `progress` after it, its counts and tokens recounted from that (a filtered set: its examples)."""
    update: dict[str, Any] = {"set_aside": _with_new(manifest.set_aside, entries)}
    if progress is not None and manifest.filtered_from is not None:  # its rows_done are the source run's
        update["counts"] = manifest.counts.model_copy(update={"examples": progress.examples})
    elif progress is not None:
        requested = manifest.counts.prompts
        done = len([r for r in progress.rows if r < requested])
        update.update(counts=_counts(progress, requested, done), complete=done == requested,
                      tokens=TokenCounts(prompt=progress.prompt_tokens, completion=progress.completion_tokens))
    return manifest.model_copy(update=update)


def _with_new(recorded: list[dict], entries: list[dict]) -> list[dict]:
    """`recorded` and, after them, the `entries` it does not hold yet (each is recorded once, when it is found)."""
    return [*recorded, *(entry for entry in entries if entry not in recorded)]
