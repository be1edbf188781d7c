"""`clingen reparse` (parsing/filtering, re-run over a finished generation run).

Re-checks every stored raw reply with today's parsers and filters and writes the result as a new version of
the run's shards, so a user who upgrades ClinGen recovers examples (or drops bad ones) without paying for
generation again.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass, field

import pyarrow as pa

from clingen import __version__
from clingen.config import ClinGenConfig, changed_paths, config_from_dict
from clingen.datasets.records import schema_for
from clingen.errors import ClinGenError, ConfigError
from clingen.parsing.checker import ReplyRecord, RowChecker, outcome_rows, text_of
from clingen.parsing.dedup import Deduplicator
from clingen.runfolder.card import write_card
from clingen.runfolder.manifest import ReparseEntry, build_manifest
from clingen.runfolder.reasons import NO_EXAMPLE, failure_record, level_of
from clingen.runfolder.store import OutputStore
from clingen.tasks.registry import get_task


@dataclass
class RowOutcome:
    """What one done row yields after re-checking: an example row or none, and its failure records."""

    example: dict | None
    failures: list[dict]
    rechecked: bool = True  # False: no stored reply could be re-checked, the recorded outcome is kept


@dataclass
class ReparseReport:
    """What a reparse did: the run, where its previous version went, the manifest counts before and after, and
    how many rows were kept, recovered, newly rejected, still rejected or kept as recorded."""

    out: str
    previous_version: str  # relative to the run folder, e.g. versions/1
    before: dict
    after: dict
    changes: dict = field(default_factory=dict)
    set_aside: list[dict] = field(default_factory=list)  # what it found unaccounted for and moved to set_aside/


# The settings a reparse may change: how replies are judged, never what was asked or which run this is.
PARSE_SETTINGS = tuple(f"generation.{name}" for name in (
    "min_words", "max_words", "dedup_threshold", "demo_copy_threshold", "ner_label_completion", "ner_name_evidence",
    "require_topic",
    "pair_copy_threshold"))


def reparse_run(out: str, overrides: ClinGenConfig | None = None, wait: bool = False) -> ReparseReport:
    """Re-check every done row of the run in `out` with today's rules (the run's own config, or `overrides`,
    which may differ from it only in PARSE_SETTINGS) and swap the result in as the current version, with its
    manifest; the previous one moves to `out/versions/<k>/`. Holds the folder's writer lock throughout (`wait`:
    wait for another writer instead of FolderBusy). Raises ConfigError when `out` is not a run folder or
    `overrides` changes anything but the parse settings."""
    started = time.time()
    store = OutputStore.open_run(out)
    with store.writing("clingen reparse", wait=wait):
        recorded = config_from_dict(store.read_manifest().config, where=f" recorded in {out}", recorded=True)
        config = recorded if overrides is None else _checked_overrides(recorded, overrides, out)
        spec = get_task(config.task, config.task_file)
        progress = store.scan()  # what it sets aside is on record (stderr, manifest) before the re-check
        manifest = store.read_manifest()
        staged, changes = _recheck_into_staging(store, config, spec, manifest.model, progress)
        version = store.next_version()
        entry = ReparseEntry(finished_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                             clingen_version=__version__, wall_s=round(time.time() - started, 2),
                             previous_version=version, counts_before=manifest.counts, changes=dict(changes))
        # The runs stay as they were: a reparse generates nothing (build_manifest would add an entry for it).
        after = build_manifest(config, spec, staged.scan(), None, manifest.model, 0.0, manifest).model_copy(
            update={"runs": manifest.runs, "wall_time_s": manifest.wall_time_s,
                    "reparses": [*manifest.reparses, entry]})
        store.swap_in(staged, after)
        write_card(store, after, spec)
    return ReparseReport(out, version, manifest.counts.model_dump(), after.counts.model_dump(), dict(changes),
                         progress.set_aside)


def _recheck_into_staging(store: OutputStore, config: ClinGenConfig, spec, model: str | None,
                          progress) -> tuple[OutputStore, Counter]:
    """Re-check every done row into a staged new version of the shards; the staged store and the rows by
    change."""
    checker = RowChecker.from_config(config, spec, model)
    examples = {row["row_id"]: row for row in (store.read_examples() or _empty(spec)).to_pylist()}
    failures: dict[int, list[dict]] = {}
    for failure in store.read_failures().to_pylist():
        failures.setdefault(failure["row_id"], []).append(failure)
    legacy = _LegacyPrompts(config, spec)
    dedup = Deduplicator(config.generation.dedup_threshold)
    staged = store.staging()
    # The tokens stay counted: the first new shard carries the run's totals (they were paid once).
    shard, part, changes = _Shard(tokens=(progress.prompt_tokens, progress.completion_tokens)), 0, Counter()
    # Rows that kept an example before go first, so a pair of near-copies keeps the one it kept (the stream
    # deduplicated in arrival order, which is not recorded).
    for row_id in sorted(progress.rows, key=lambda row: (row not in examples, row)):
        before = examples.get(row_id)
        outcome = recheck_row(checker, spec, before, failures.get(row_id, []), legacy)
        _dedup(outcome, dedup)
        changes[_change(before, outcome)] += 1
        shard.add(row_id, outcome)
        if len(shard.rows) >= config.generation.shard_rows:
            shard.commit(staged, part, spec)
            part, shard = part + 1, _Shard()
    # Failures of rows that are not done (generation errors, retried by the next run) stay as they were.
    shard.failures += [f for row_id, rows in failures.items() if row_id not in progress.rows for f in rows]
    shard.commit(staged, part, spec)
    return staged, changes


def _checked_overrides(recorded: ClinGenConfig, overrides: ClinGenConfig, out: str) -> ClinGenConfig:
    """`overrides` when it changes only PARSE_SETTINGS of the run's recorded config; else ConfigError."""
    changed = [path for path in changed_paths(recorded.hashed_dump(), overrides.hashed_dump()) if path not in PARSE_SETTINGS]
    if changed:
        raise ConfigError(f"reparse re-checks the replies {out} holds, so it may change only the parse settings "
                          f"{list(PARSE_SETTINGS)}; these would make it another run: {changed}")
    return overrides


def recheck_row(checker: RowChecker, spec, example: dict | None, failures: list[dict],
                legacy: "_LegacyPrompts") -> RowOutcome:
    """Re-check one done row from what the run stored: its reply record (raw replies and prompt context) or,
    for runs made before ClinGen stored one, a record rebuilt from the example and failure rows."""
    record = _stored_record(example, failures) or legacy.record(example, failures)
    if record is None or not record.replies:
        return RowOutcome(example, failures, rechecked=False)
    row = dict(record.prompt)
    step_one = checker.check(row, record.replies[0], record.end(1))
    if spec.family == "pair" and step_one.value is not None:
        if len(record.replies) < 2:  # the first step now passes, but no second step was ever generated
            return RowOutcome(example, failures, rechecked=False)
        parsed = checker.check({**row, "sentence_a": step_one.value}, record.replies[1], record.end(2))
    else:
        parsed = step_one
    new_example, new_failures, _ = outcome_rows(parsed, record)
    return RowOutcome(new_example, new_failures)


def _stored_record(example: dict | None, failures: list[dict]) -> ReplyRecord | None:
    for source in ([example] if example else []) + failures:
        if source.get("reply_record"):
            return ReplyRecord.from_json(source["reply_record"])
    return None


class _LegacyPrompts:
    """Reply records for rows of runs made before ClinGen stored them: the prompt context is recomposed from
    the manifest's config (every prompt is a pure function of seed and row index) and the reply is the first
    raw reply a failure kept, else rebuilt from the example's own fields."""

    def __init__(self, config: ClinGenConfig, spec):
        self.config, self.spec, self._composer = config, spec, None

    def record(self, example: dict | None, failures: list[dict]) -> ReplyRecord | None:
        row_id = example["row_id"] if example else failures[0]["row_id"] if failures else None
        if row_id is None:
            return None
        record = ReplyRecord.start(self._prompt(int(row_id), example))
        if example is None and any(f.get("reason") == "exact_duplicate" or f.get("reason") == "near_duplicate"
                                   for f in failures):
            example = json.loads(next(f["raw"] for f in failures if level_of(f["reason"]) == "row"))
        raws = [f["raw"] for f in failures if f.get("raw") and f.get("step", 1) == 1
                and f["reason"] not in ("exact_duplicate", "near_duplicate")]
        if self.spec.family == "pair":
            if example is None:
                return record if not raws else _with(record, raws[:1])
            return _with(record, [json.dumps({"sentence": example["text_a"]}), json.dumps({"sentence": example["text_b"]})])
        if raws:
            return _with(record, raws[:1])
        if example is None:
            return None
        return _with(record, [_reply_from_example(self.spec, example)])

    def _prompt(self, row_id: int, example: dict | None) -> dict:
        """The prompt fields: what the example recorded (its provenance) wins; recomposition fills the rest
        (the reply schema, and everything for a row that kept no example)."""
        prompt = self._compose(row_id) or {"row_id": row_id, "task": self.spec.name}
        recorded = {"strategy": "strategy", "label": "prompt_label", "topic": "topic", "style": "style",
                    "demo_ids": "demo_ids", "head": "head", "tail": "tail"}
        for field_name, column in recorded.items():
            if example and example.get(column) is not None:
                prompt[field_name] = example[column]
        return prompt

    def _compose(self, row_id: int) -> dict | None:
        import numpy as np
        from clingen.prompts.compose import PromptComposer
        if self._composer is None:
            try:
                self._composer = PromptComposer.from_config(self.config, self.spec)
            except ClinGenError:  # e.g. a styles file that is gone: fall back to the example's provenance
                self._composer = False
        if self._composer is False:
            return None
        return self._composer.compose(np.array([row_id]))[0].to_dict()


def _with(record: ReplyRecord, replies: list[str]) -> ReplyRecord:
    for reply in replies:
        record.replies.append(reply)
        record.ends.append({"finish_reason": None, "generated_tokens": None})
    return record


def _reply_from_example(spec, example: dict) -> str:
    if spec.family == "classification":
        return example["text"]
    if spec.family in ("ner", "attribute"):
        key = "attributes" if spec.family == "attribute" else "entities"
        listed = [{"type": s["type"], "text": s["text"]} if key == "attributes" else s["text"]
                  for s in example.get("spans") or []]
        return json.dumps({"sentence": example["text"], key: listed})
    return json.dumps({"sentence": example["text"]})


def _dedup(outcome: RowOutcome, dedup: Deduplicator) -> None:
    if outcome.example is None:
        return
    example = outcome.example
    duplicate = dedup.check(example["id"], text_of(example))
    if duplicate is not None:
        record = example.pop("reply_record", None)
        outcome.failures.append(failure_record(example["row_id"], duplicate[0], f"repeats {duplicate[1]}",
                                               json.dumps(example), reply_record=record))
        outcome.example = None


def _change(before: dict | None, outcome: RowOutcome) -> str:
    if not outcome.rechecked:
        return "kept_as_recorded"
    if before is None:
        return "recovered" if outcome.example is not None else "still_rejected"
    return "kept" if outcome.example is not None else "newly_rejected"


@dataclass
class _Shard:
    examples: list[dict] = field(default_factory=list)
    failures: list[dict] = field(default_factory=list)
    rows: list[int] = field(default_factory=list)
    rejected_rows: Counter = field(default_factory=Counter)
    rejected_mentions: Counter = field(default_factory=Counter)
    tokens: tuple[int, int] = (0, 0)

    def add(self, row_id: int, outcome: RowOutcome) -> None:
        self.rows.append(row_id)
        self.failures += outcome.failures
        self.rejected_mentions.update(f["reason"] for f in outcome.failures if level_of(f["reason"]) == "mention")
        if outcome.example is not None:
            self.examples.append(outcome.example)
        else:
            first = next((f["reason"] for f in outcome.failures if level_of(f["reason"]) == "row"), NO_EXAMPLE)
            self.rejected_rows[first] += 1

    def commit(self, store: OutputStore, part: int, spec) -> None:
        table = pa.Table.from_pylist(self.examples, schema=schema_for(spec.family))
        store.commit(part, table, self.failures, self.rows, *self.tokens, dict(self.rejected_rows),
                     dict(self.rejected_mentions))


def _empty(spec) -> pa.Table:
    return schema_for(spec.family).empty_table()
