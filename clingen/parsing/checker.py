"""Row checking (parsing/filtering stage): one prompt row's reply -> an example or its recorded failures.

The family parser, the label-fidelity rules and the demonstration-copy filter, in one place: the generation
stream and `clingen reparse` both check rows here, so a stored reply is judged exactly as a fresh one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from clingen.config import ClinGenConfig
from clingen.parsing.dedup import shingle_containment, shingles
from clingen.parsing.parsers import ParseFailure, ParseOptions, ParseResult, ReplyEnd, parse_reply
from clingen.tasks.spec import TaskSpec

# The prompt-row fields a reply is checked against; stored with every outcome (reply_record) for reparse.
CONTEXT_FIELDS = ("row_id", "task", "strategy", "label", "topic", "style", "demo_ids", "related",
                  "hard_negatives", "head", "tail", "json_schema")


@dataclass
class ReplyRecord:
    """What one prompt row was asked and answered: its context fields, and per step the raw reply and how it
    ended. Serialised as the `reply_record` JSON column of examples and failures."""

    prompt: dict
    replies: list[str] = field(default_factory=list)
    ends: list[dict] = field(default_factory=list)

    @classmethod
    def start(cls, row: dict) -> "ReplyRecord":
        """A record of a prompt row (its CONTEXT_FIELDS) with no reply yet."""
        return cls({name: row.get(name) for name in CONTEXT_FIELDS})

    def add(self, reply: str | None, end: ReplyEnd) -> None:
        """Record the next step's raw reply and how it ended."""
        self.replies.append(reply or "")
        self.ends.append({"finish_reason": end.finish_reason, "generated_tokens": end.generated_tokens})

    def end(self, step: int) -> ReplyEnd | None:
        """How step `step` (1 or 2) ended, or None when the record holds no such step."""
        if step > len(self.ends):
            return None
        return ReplyEnd(self.ends[step - 1].get("finish_reason"), self.ends[step - 1].get("generated_tokens"))

    def to_json(self) -> str:
        """The `reply_record` column value (ASCII JSON, so any reply can be stored)."""
        return json.dumps({"prompt": self.prompt, "replies": self.replies, "ends": self.ends}, ensure_ascii=True)

    @classmethod
    def from_json(cls, text: str) -> "ReplyRecord":
        """A record read back from a `reply_record` column value."""
        data = json.loads(text)
        return cls(data["prompt"], list(data.get("replies") or []), list(data.get("ends") or []))


def outcome_rows(parsed: ParseResult, record: ReplyRecord) -> tuple[dict | None, list[dict], bool]:
    """(example row or None, failure rows, whether the record was attached) of one checked reply. The record
    goes once per row: on its example, else on its first failure; a pair's first step that succeeded has
    neither, and its record travels on to the second step."""
    failures = [failure.to_dict() for failure in parsed.failures]
    example = parsed.example.to_row() if parsed.example is not None else None
    target = example if example is not None else failures[0] if failures else None
    if target is not None:
        target["reply_record"] = record.to_json()
    return example, failures, target is not None


def text_of(row: dict) -> str:
    """The text an example row is judged by for copies and duplicates: a pair's two texts joined."""
    return f"{row['text_a']} || {row['text_b']}" if "text_a" in row else row["text"]


class RowChecker:
    """Parses and filters the replies of one task's prompt rows under one config."""

    def __init__(self, spec: TaskSpec, options: ParseOptions, demo_texts: dict[str, str], copy_threshold: float):
        self.spec, self.options = spec, options
        self.demo_texts, self.copy_threshold = demo_texts, copy_threshold
        self._shingles_of_demo: dict[str, set[str]] = {}  # each demonstration is shown to many rows

    def _demo_shingles(self, demo_id: str) -> set[str]:
        if demo_id not in self._shingles_of_demo:
            self._shingles_of_demo[demo_id] = shingles(self.demo_texts.get(demo_id, ""))
        return self._shingles_of_demo[demo_id]

    @classmethod
    def from_config(cls, config: ClinGenConfig, spec: TaskSpec, model_name: str | None,
                    pool: list | None = None) -> "RowChecker":
        """The checker of a run: its parse settings, its knowledge-graph gazetteer (when label completion is on)
        and its demonstration pool (for the copy filter; `pool`: the one the driver built, else read here)."""
        from clingen.prompts.demos import load_demo_pool
        gazetteer, other_types, evidence = None, {}, None
        if spec.family == "ner":
            from clingen.kg.source import load_graph
            from clingen.parsing.evidence import EVIDENCE_TYPES, FORM_SUFFIXES, NameEvidence
            from clingen.parsing.gazetteer import Gazetteer
            from clingen.parsing.mentions import OTHER_TYPES, label_words, other_type_names
            graph = load_graph(config.kg)
            prompted = spec.kg_entity_type or spec.labels[0].name
            if config.generation.ner_label_completion:
                gazetteer = Gazetteer(graph.names_of_type(prompted), spec.labels[0].name, generic=label_words(spec))
            kinds = (prompted, *OTHER_TYPES.get(prompted, ()), *EVIDENCE_TYPES.get(prompted, ()))
            names = {kind: graph.names_of_type(kind) for kind in dict.fromkeys(kinds) if kind in graph.entity_types()}
            other_types = other_type_names(names, prompted)
            if config.generation.ner_name_evidence and prompted in FORM_SUFFIXES and names.get(prompted):
                evidence = NameEvidence.from_names_by_type(names, prompted)
        generation = config.generation
        options = ParseOptions(generation.min_words, generation.max_words, model_name, gazetteer,
                               generation.require_topic, generation.pair_copy_threshold,
                               config.generator.model.sampling.max_tokens, other_types, evidence)
        if pool is None:
            pool = load_demo_pool(spec, config.prompts.fewshot_path, config.prompts.demo_pool_per_class, config.seed)
        return cls(spec, options, {demo.id: text_of(demo.to_row()) for demo in pool},
                   generation.demo_copy_threshold)

    def check(self, row: dict, reply: str | None, end: ReplyEnd | None = None) -> ParseResult:
        """The parse result of one reply, with a copies_demonstration failure (and no example) when the example
        mostly repeats a demonstration its prompt showed."""
        parsed = parse_reply(self.spec, row, reply, self.options, end)
        if parsed.example is None:
            return parsed
        mine = shingles(text_of(parsed.example.to_row()))
        for demo_id in row.get("demo_ids") or []:
            share = shingle_containment(mine, self._demo_shingles(demo_id))
            if share >= self.copy_threshold:
                step = 2 if row.get("sentence_a") is not None else 1
                parsed.failures.append(ParseFailure(int(row["row_id"]), "copies_demonstration", f"{share:.0%} of "
                                                    f"the text repeats demonstration {demo_id}", reply or "", step))
                parsed.example = None
                break
        return parsed
