"""Ray Data stages of the generation stream (prompts -> generation -> parsing): callable classes that
`map_batches` runs in workers. Each holds what is costly to build (the knowledge graph, the composer) once
per worker, and passes rows on as plain columns."""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

from clingen._batches import rows_of
from clingen.config import ClinGenConfig
from clingen.datasets.records import Record
from clingen.generation.contracts import COMPOSE, PARSE, SECOND_STEP
from clingen.generation.rows import PARSED_COLUMNS, ParsedRow
from clingen.parsing.checker import ReplyRecord, RowChecker, outcome_rows, text_of
from clingen.parsing.dedup import MinHasher, normalise, text_digest
from clingen.parsing.parsers import ParseFailure, ReplyEnd
from clingen.prompts.compose import PROMPT_COLUMNS, PromptComposer, second_step_messages
from clingen.prompts.demos import load_demo_pool
from clingen.tasks.spec import TaskSpec



def _columns(rows: list[dict], names: tuple[str, ...] | list[str]) -> dict[str, list]:
    return {name: [row.get(name) for row in rows] for name in names}


@dataclass(frozen=True)
class StageInputs:
    """What every stage actor of a run is built from, made once on the driver (stream.build_stream) and passed
    by keyword: the config (as JSON), the task spec (a user task's YAML need not exist on worker nodes), the
    demonstration pool (the few-shot file is read once, on the driver) and the served model's name."""

    config_json: str
    spec: TaskSpec
    demo_pool: list[Record]
    model_name: str

    @classmethod
    def for_run(cls, config: ClinGenConfig, spec: TaskSpec, model_name: str) -> "StageInputs":
        pool = load_demo_pool(spec, config.prompts.fewshot_path, config.prompts.demo_pool_per_class, config.seed)
        return cls(config.model_dump_json(), spec, pool, model_name)

    @classmethod
    def for_config(cls, config: ClinGenConfig, model_name: str = "") -> "StageInputs":
        """The inputs of a stage built outside a run (tests, benchmarks): the task spec from the registry."""
        from clingen.tasks.registry import get_task
        return cls.for_run(config, get_task(config.task, config.task_file), model_name)

    def config(self) -> ClinGenConfig:
        return ClinGenConfig.model_validate_json(self.config_json)


class ComposePrompts:
    """Row indices (`id`, from ray.data.range) -> prompt rows, skipping the rows already committed."""

    def __init__(self, *, inputs: StageInputs, done_rows: np.ndarray):
        self.composer = PromptComposer.from_config(inputs.config(), inputs.spec, pool=inputs.demo_pool)
        self.done = np.asarray(done_rows, dtype=np.int64)

    def __call__(self, batch: dict) -> dict:
        COMPOSE.check(batch)
        rows = np.asarray(batch["id"], dtype=np.int64)
        if len(self.done):
            rows = rows[~np.isin(rows, self.done, assume_unique=True)]
        composed = [row.to_dict() for row in self.composer.compose(rows)]
        return _columns(composed, PROMPT_COLUMNS)


class ParseReplies:
    """Generator replies -> one result per row: an example or failures, as JSON strings (families have
    different schemas; the driver builds the typed table), plus token counts. Every outcome carries the row's
    reply record (raw replies and prompt context), so `clingen reparse` can re-check it later, and an example its
    MinHash signature and exact-match digest (`dedup_signature`, `dedup_digest`), so that the driver's duplicate
    check only looks them up."""

    def __init__(self, *, inputs: StageInputs, step: int = 1, keep_prompt: bool = False):
        self.checker = RowChecker.from_config(inputs.config(), inputs.spec, inputs.model_name, inputs.demo_pool)
        self.step, self.keep_prompt = step, keep_prompt  # keep_prompt: a pair task's second step follows
        self.minhasher = MinHasher()

    def __call__(self, batch: dict) -> dict:
        PARSE.check(batch)
        out = []
        for row in rows_of(batch):
            kept = {name: row.get(name) for name in PROMPT_COLUMNS} if self.keep_prompt else {}
            out.append({**kept, **self._outcome(row).to_columns()})
        names = list(PROMPT_COLUMNS) * self.keep_prompt + list(PARSED_COLUMNS)
        return _columns(out, list(dict.fromkeys(names)))

    def _outcome(self, row: dict) -> ParsedRow:
        result = ParsedRow(
            row_id=int(row["row_id"]),
            prompt_tokens=int(row.get("num_input_tokens") or 0) + int(row.get("prior_prompt_tokens") or 0),
            completion_tokens=int(row.get("num_generated_tokens") or 0) + int(row.get("prior_completion_tokens") or 0),
            failures=json.loads(row["prior_failures"]) if row.get("prior_failures") else [],
            generation_error=row.get("prior_generation_error"))
        error = row.get("__inference_error__")
        if error:
            result.failures.append(ParseFailure(result.row_id, "generation_error", str(error)[:2000], "",
                                                self.step).to_dict())
            result.generation_error = str(error)[:500]
            return result
        if result.failures:  # the first step already failed: this row's second step was a placeholder
            return result
        record = ReplyRecord.from_json(row["prior_record"]) if row.get("prior_record") else ReplyRecord.start(row)
        end = ReplyEnd(row.get("finish_reason"), _int_or_none(row.get("num_generated_tokens")))
        record.add(row.get("generated_text"), end)
        parsed = self.checker.check(row, row.get("generated_text"), end)
        example, failures, attached = outcome_rows(parsed, record)
        if not attached:  # a pair's first step that succeeded: the record goes on to the second step
            result.reply_record = record.to_json()
        result.failures, result.example, result.sentence_a = list(failures or []), example, parsed.value
        if example is not None:
            text = normalise(text_of(example))
            result.dedup_signature, result.dedup_digest = self.minhasher.signature(text).tobytes(), text_digest(text)
        return result


def _int_or_none(value) -> int | None:
    return None if value is None else int(value)


class SecondStepPrompts:
    """Sentence-pair tasks: first-step results -> second-step prompt rows. A row whose first step failed
    goes on with a one-token placeholder prompt, so its failure reaches the sink instead of vanishing."""

    def __call__(self, batch: dict) -> dict:
        SECOND_STEP.check(batch)
        out = []
        for row in rows_of(batch):
            first = ParsedRow.from_columns(row)
            keep = {name: row.get(name) for name in PROMPT_COLUMNS}
            keep.update(prior_prompt_tokens=first.prompt_tokens, prior_completion_tokens=first.completion_tokens,
                        prior_failures=row.get("failures"), prior_generation_error=first.generation_error,
                        sentence_a=first.sentence_a, prior_record=first.reply_record, placeholder=False)
            if first.sentence_a:
                keep["messages"] = second_step_messages(row, first.sentence_a)
            else:
                keep["messages"] = [{"role": "user", "content": "OK"}]
                keep["json_schema"] = None
                keep["placeholder"] = True
            out.append(keep)
        return _columns(out, [*PROMPT_COLUMNS, *SECOND_STEP.adds])
