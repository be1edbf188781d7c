"""Ray Data stages of the generation stream (prompts -> generation -> parsing): callable classes that
`map_batches` runs in workers. Each holds what is costly to build (the knowledge graph, the composer) once
per worker, and passes rows on as plain columns."""

from __future__ import annotations

import json

import numpy as np

from clingen._batches import rows_of
from clingen.config import ClinGenConfig
from clingen.parsing.dedup import containment
from clingen.parsing.parsers import ParseFailure, ParseOptions, parse_reply
from clingen.prompts.demos import load_demo_pool
from clingen.prompts.compose import PromptComposer, second_step_messages
from clingen.tasks.registry import get_task

PROMPT_COLUMNS = ("row_id", "task", "strategy", "label", "topic", "style", "messages", "demo_ids", "related",
                  "head", "tail", "followup", "json_schema")


def _columns(rows: list[dict], names: tuple[str, ...] | list[str]) -> dict[str, list]:
    return {name: [row.get(name) for row in rows] for name in names}


class ComposePrompts:
    """Row indices (`id`, from ray.data.range) -> prompt rows, skipping the rows already committed."""

    def __init__(self, config_json: str, done_rows: np.ndarray):
        config = ClinGenConfig.model_validate_json(config_json)
        self.composer = PromptComposer.from_config(config, get_task(config.task, config.task_file))
        self.done = np.asarray(done_rows, dtype=np.int64)

    def __call__(self, batch: dict) -> dict:
        rows = np.asarray(batch["id"], dtype=np.int64)
        if len(self.done):
            rows = rows[~np.isin(rows, self.done, assume_unique=True)]
        composed = [row.to_dict() for row in self.composer.compose(rows)]
        return _columns(composed, PROMPT_COLUMNS)


class ParseReplies:
    """Generator replies -> one result per row: an example or failures, as JSON strings (families have
    different schemas; the driver builds the typed table), plus token counts."""

    def __init__(self, config_json: str, model_name: str, step: int = 1, keep_prompt: bool = False):
        config = ClinGenConfig.model_validate_json(config_json)
        self.spec = get_task(config.task, config.task_file)
        self.step, self.keep_prompt = step, keep_prompt  # keep_prompt: a pair task's second step follows
        gazetteer = None
        if config.generation.ner_label_completion and self.spec.family == "ner":
            from clingen.kg.source import load_graph
            from clingen.parsing.gazetteer import Gazetteer
            names = load_graph(config.kg).names_of_type(self.spec.kg_entity_type or self.spec.labels[0].name)
            gazetteer = Gazetteer(names, self.spec.labels[0].name)
        self.options = ParseOptions(config.generation.min_words, config.generation.max_words, model_name, gazetteer)
        pool = load_demo_pool(self.spec, config.prompts.fewshot_path, config.prompts.demo_pool_per_class, config.seed)
        self.demo_texts = {demo.id: _text_of(demo.to_row()) for demo in pool}
        self.copy_threshold = config.generation.demo_copy_threshold

    def __call__(self, batch: dict) -> dict:
        out = [self._one(row) for row in rows_of(batch)]
        names = list(PROMPT_COLUMNS) * self.keep_prompt + ["row_id", "prompt_tokens", "completion_tokens", "example",
                                                           "failures", "generation_error", "sentence_a"]
        return _columns(out, list(dict.fromkeys(names)))

    def _one(self, row: dict) -> dict:
        tokens_in = int(row.get("num_input_tokens") or 0) + int(row.get("prior_prompt_tokens") or 0)
        tokens_out = int(row.get("num_generated_tokens") or 0) + int(row.get("prior_completion_tokens") or 0)
        prior = json.loads(row["prior_failures"]) if row.get("prior_failures") else []
        result = {name: row.get(name) for name in PROMPT_COLUMNS} if self.keep_prompt else {}
        result.update(row_id=int(row["row_id"]), prompt_tokens=tokens_in, completion_tokens=tokens_out,
                      example=None, failures=None, generation_error=row.get("prior_generation_error"),
                      sentence_a=None)
        error = row.get("__inference_error__")
        if error:
            failure = ParseFailure(result["row_id"], "generation_error", str(error)[:2000], "", self.step)
            result.update(failures=json.dumps(prior + [failure.to_dict()]), generation_error=str(error)[:500])
            return result
        if prior:  # the first step already failed: this row's second step was a placeholder
            result["failures"] = json.dumps(prior)
            return result
        parsed = parse_reply(self.spec, row, row.get("generated_text"), self.options)
        copied = self._copied_demo(row, parsed.example)
        if copied is not None:
            parsed.failures.append(copied)
            parsed.example = None
        failures = prior + [f.to_dict() for f in parsed.failures]
        result["failures"] = json.dumps(failures) if failures else None
        result["example"] = json.dumps(parsed.example.to_row()) if parsed.example is not None else None
        result["sentence_a"] = parsed.value
        return result


    def _copied_demo(self, row: dict, example) -> ParseFailure | None:
        """A failure when the example mostly repeats one of the demonstrations its prompt showed."""
        if example is None:
            return None
        text = _text_of(example.to_row())
        for demo_id in row.get("demo_ids") or []:
            share = containment(text, self.demo_texts.get(demo_id, ""))
            if share >= self.copy_threshold:
                return ParseFailure(int(row["row_id"]), "copies_demonstration", f"{share:.0%} of the text "
                                    f"repeats demonstration {demo_id}", row.get("generated_text") or "", self.step)
        return None


def _text_of(row: dict) -> str:
    return f"{row['text_a']} {row['text_b']}" if "text_a" in row else row["text"]


class SecondStepPrompts:
    """Sentence-pair tasks: first-step results -> second-step prompt rows. A row whose first step failed
    goes on with a one-token placeholder prompt, so its failure reaches the sink instead of vanishing."""

    def __call__(self, batch: dict) -> dict:
        out = []
        for row in rows_of(batch):
            keep = {name: row.get(name) for name in PROMPT_COLUMNS}
            keep.update(prior_prompt_tokens=row["prompt_tokens"], prior_completion_tokens=row["completion_tokens"],
                        prior_failures=row.get("failures"), prior_generation_error=row.get("generation_error"),
                        sentence_a=row.get("sentence_a"), placeholder=False)
            if row.get("sentence_a"):
                keep["messages"] = second_step_messages(row, row["sentence_a"])
            else:
                keep["messages"] = [{"role": "user", "content": "OK"}]
                keep["json_schema"] = None
                keep["placeholder"] = True
            out.append(keep)
        return _columns(out, list(PROMPT_COLUMNS) + ["prior_prompt_tokens", "prior_completion_tokens", "prior_failures",
                                                     "prior_generation_error", "sentence_a", "placeholder"])
