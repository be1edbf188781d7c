"""Prompt composition (kg -> prompts -> generation): turns row indices into chat prompts, each combining a
topic, a writing style, a label with its definition, and real demonstrations, all recorded on the row.

Every choice is a pure function of (seed, row index), so Ray Data can compose any shard anywhere and a
resumed run rebuilds exactly the prompts of the rows it still owes.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np

from clingen.config import ClinGenConfig, PromptConfig
from clingen.datasets.records import Record
from clingen.errors import ConfigError
from clingen.kg.graph import KnowledgeGraph
from clingen.kg.sampling import (EntitySampler, HardNegativeSampler, NegativePairSampler, NeighbourhoodSampler,
                                 RelationPairSampler, coverage_positions, row_choice, row_hash)
from clingen.kg.names import natural_name
from clingen.prompts import templates
from clingen.prompts.demos import demos_by_label, load_demo_pool
from clingen.prompts.schemas import has_entity_pattern, reply_schema
from clingen.tasks.spec import LabelSpec, TaskSpec

_STYLE_STREAM, _DEMO_STREAM, _NEIGHBOUR_STREAM, _LLM_TOPIC_STREAM = 10_001, 20_001, 30_001, 40_001
_HARD_NEGATIVE_STREAM = 50_001


def _wants_hard_negatives(config: PromptConfig, spec: TaskSpec) -> bool:
    """Hard negatives apply to NER prompts of the strategies with topics (clingen-kg, clingen-llm)."""
    return config.hard_negatives > 0 and spec.family == "ner" and config.strategy in ("clingen-kg", "clingen-llm")


def _as_json(schema: dict | None) -> str | None:
    return json.dumps(schema) if schema is not None else None


@dataclass(frozen=True)
class PromptRow:
    """One composed prompt and everything it was composed from."""

    row_id: int
    task: str
    strategy: str
    label: str | None
    topic: str | None
    style: str | None
    messages: list[dict]
    demo_ids: list[str] = field(default_factory=list)
    related: list[str] = field(default_factory=list)
    hard_negatives: list[str] = field(default_factory=list)  # NER: names to mention but not list
    head: str | None = None
    tail: str | None = None
    followup: str | None = None  # pair tasks: the second step's prompt, with templates.SENTENCE_A_SLOT
    json_schema: str | None = None  # the reply's JSON schema, serialised so Arrow stores it as one string

    def to_dict(self) -> dict:
        return asdict(self)


# The columns of a prompt row in the generation stream, in PromptRow's order (generation.contracts).
PROMPT_COLUMNS = tuple(f.name for f in fields(PromptRow))


class _NaturalNames:
    """Vertex index -> natural_name of its label, for the topic fields of prompt rows."""

    def __init__(self, labels):
        self._labels = labels

    def __getitem__(self, vertex) -> str:
        return natural_name(str(self._labels[vertex]))


def second_step_messages(row: dict, sentence_a: str) -> list[dict]:
    """The chat messages of a sentence-pair task's second step, given the first step's sentence."""
    return [{"role": "user", "content": row["followup"].replace(templates.SENTENCE_A_SLOT, sentence_a)}]


def read_lines(path: Path, what: str) -> list[str]:
    """A plain list file (one item per line, '#' comments) such as cached topics or styles."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{what} file {path} does not exist")
    items = [line.strip() for line in path.read_text().splitlines() if line.strip() and not line.startswith("#")]
    if not items:
        raise ConfigError(f"{what} file {path} has no entries; expected one per line")
    return items


class PromptComposer:
    """Composes prompts for one task under one strategy (clingen-kg, clingen-llm, zero-shot, few-shot)."""

    def __init__(self, spec: TaskSpec, config: PromptConfig, seed: int, max_words: int,
                 kg: KnowledgeGraph | None = None, styles: list[str] | None = None,
                 demo_pool: list[Record] | None = None, topics: list[str] | None = None, max_tokens: int = 256,
                 min_words: int = 1):
        self.spec, self.config, self.seed, self.max_words = spec, config, seed, max_words
        self.kg, self.topics = kg, topics
        self.styles = styles or spec.styles
        self.demos = demos_by_label(spec, demo_pool or [])
        self.uses_topics = config.strategy in ("clingen-kg", "clingen-llm")
        self.uses_demos = config.strategy != "zero-shot" and config.n_demos > 0
        if config.strategy == "clingen-kg" and kg is None:
            raise ConfigError("strategy clingen-kg needs a knowledge graph")
        if _wants_hard_negatives(config, spec) and kg is None:
            raise ConfigError("prompts.hard_negatives draws names from the knowledge graph, so it needs one")
        if config.strategy == "clingen-llm" and not topics:
            raise ConfigError("strategy clingen-llm needs LLM-proposed topics: run `clingen topics` and set "
                              "prompts.topics_file")
        self.per_label = spec.family in ("classification", "relation", "pair")
        self._samplers: dict[int, object] = {}
        self._topic_cache: dict = {}
        self._schema_args = (max_words, max_tokens, min_words)
        self._schema = _as_json(reply_schema(spec, *self._schema_args))

    @classmethod
    def from_config(cls, config: ClinGenConfig, spec: TaskSpec, kg: KnowledgeGraph | None = None,
                    pool: list[Record] | None = None) -> "PromptComposer":
        """Everything a composer needs, loaded from the config (the graph only when the strategy uses it; `pool`:
        the demonstration pool the driver built, else read here)."""
        prompts = config.prompts
        if kg is None and (prompts.strategy == "clingen-kg" or _wants_hard_negatives(prompts, spec)):
            from clingen.kg.source import load_graph
            kg = load_graph(config.kg)
        styles = read_lines(prompts.styles_file, "styles") if prompts.styles_file else None
        topics = read_lines(prompts.topics_file, "topics") if prompts.topics_file else None
        if pool is None:
            pool = load_demo_pool(spec, prompts.fewshot_path, prompts.demo_pool_per_class, config.seed)
        return cls(spec, prompts, config.seed, config.generation.max_words, kg, styles, pool, topics,
                   config.generator.model.sampling.max_tokens, config.generation.min_words)

    # ----- composition ----------------------------------------------------------------------------------
    def compose(self, rows: np.ndarray) -> list[PromptRow]:
        """One prompt per row index; labels cycle through the label set so classes stay balanced."""
        rows = np.asarray(rows, dtype=np.int64)
        n_labels = len(self.spec.labels) if self.per_label else 1
        label_index = rows % n_labels
        styles = (np.asarray(self.styles, dtype=object)[row_choice(self.seed, _STYLE_STREAM, rows, len(self.styles))]
                  if self.uses_topics else [None] * len(rows))
        out: list[PromptRow | None] = [None] * len(rows)
        for li in np.unique(label_index):
            where = np.flatnonzero(label_index == li)
            label = self.spec.labels[int(li)]
            topics = self._topics(int(li), label, rows[where] // n_labels)
            for position, topic in zip(where, topics):
                out[position] = self._row(int(rows[position]), label if self.per_label else None, topic,
                                          styles[position])
        return out

    def _row(self, row: int, label: LabelSpec | None, topic: dict, style: str | None) -> PromptRow:
        demos = self._pick_demos(row, label)
        rendered = [templates.render_demo(self.spec, d) for d in demos]
        text, followup = self._text(label, topic, style, rendered)
        return PromptRow(row_id=row, task=self.spec.name, strategy=self.config.strategy,
                         label=label.name if label else (self.spec.labels[0].name if self.spec.family == "ner" else None),
                         topic=topic.get("topic"), style=style, messages=[{"role": "user", "content": text}],
                         demo_ids=[d.id for d in demos], related=topic.get("related", []),
                         hard_negatives=topic.get("hard_negatives", []), head=topic.get("head"),
                         tail=topic.get("tail"), followup=followup,
                         json_schema=self._reply_schema(topic.get("head"), topic.get("tail")))

    def _text(self, label: LabelSpec | None, topic: dict, style: str | None, demos: list[str]) -> tuple[str, str | None]:
        spec, subject, related = self.spec, topic.get("topic"), topic.get("related", [])
        if spec.family == "classification":
            return templates.classification(spec, label, subject, style, related, demos), None
        if spec.family == "ner":
            return templates.ner(spec, subject, style, related, demos, topic.get("hard_negatives", []),
                                 self.config.hard_negative_type), None
        if spec.family == "attribute":
            return templates.attribute(spec, subject, style, demos), None
        if spec.family == "relation":
            return templates.relation(spec, label, topic.get("head"), topic.get("tail"), style, demos), None
        first = templates.pair_first(spec, subject, style, related, [])
        return first, templates.pair_second(spec, label, demos)

    def _reply_schema(self, head: str | None, tail: str | None) -> str | None:
        """The row's reply schema as JSON: shared by every row, except that a masked relation task's pattern
        names the row's own head and tail."""
        if head is None or not has_entity_pattern(self.spec):
            return self._schema
        return _as_json(reply_schema(self.spec, *self._schema_args, head=head, tail=tail))

    def _pick_demos(self, row: int, label: LabelSpec | None) -> list[Record]:
        if not self.uses_demos:
            return []
        pool = self.demos.get(label.name if label else None, [])
        if len(pool) <= self.config.n_demos:
            return pool
        stream = _DEMO_STREAM + (self.spec.label_names.index(label.name) if label else 0)
        keys = row_hash(self.seed, stream, np.int64(row) * 64 + np.arange(len(pool)))
        return [pool[i] for i in sorted(np.argsort(keys, kind="stable")[: self.config.n_demos])]

    # ----- topics ---------------------------------------------------------------------------------------
    def _topics(self, li: int, label: LabelSpec, rows: np.ndarray) -> list[dict]:
        """Topic fields for the rows of one label: {topic, related} or, for relations, {topic, head, tail}."""
        if not self.uses_topics or label.topics.kind == "none":
            return [{} for _ in rows]
        if self.config.strategy == "clingen-llm" or label.topics.kind == "llm":
            if not self.topics:
                raise ConfigError(f"label {label.name!r} of task {self.spec.name} takes LLM-proposed topics; "
                                  "set prompts.topics_file")
            picks = coverage_positions(self.seed, _LLM_TOPIC_STREAM + li, rows, len(self.topics), self._topic_cache)
            negatives = self._hard_negatives(None, rows)  # no topic vertex: drawn names only
            return [{"topic": self.topics[p], "hard_negatives": n} for p, n in zip(picks, negatives)]
        sampler = self._sampler(li, label)
        labels = _NaturalNames(self.kg.labels)
        if isinstance(sampler, EntitySampler):
            vertices = sampler.sample(rows)
            related, negatives = self._related(vertices, rows), self._hard_negatives(vertices, rows)
            return [{"topic": label.topics.word(topic=labels[v]), "related": r, "hard_negatives": n}
                    for v, r, n in zip(vertices, related, negatives)]
        heads, tails = sampler.sample(rows)
        if label.topics.swap:
            heads, tails = tails, heads
        return [{"topic": label.topics.word(head=labels[h], tail=labels[t]), "head": labels[h], "tail": labels[t]}
                for h, t in zip(heads, tails)]

    def _related(self, vertices: np.ndarray, rows: np.ndarray) -> list[list[str]]:
        if self.config.neighbours == 0:
            return [[] for _ in rows]
        if "neighbours" not in self._samplers:
            self._samplers["neighbours"] = NeighbourhoodSampler(self.kg, self.config.neighbour_hops, None,
                                                                self.config.neighbours, self.seed, _NEIGHBOUR_STREAM)
        picked = self._samplers["neighbours"].sample_batch(vertices, rows)
        return [[natural_name(name) for name in self.kg.labels[p].tolist()] for p in picked]

    def _hard_negatives(self, vertices: np.ndarray | None, rows: np.ndarray) -> list[list[str]]:
        """NER hard negatives per row: the topic vertex's neighbours of the type first (none when `vertices` is
        None: an LLM-proposed topic), then names drawn for the row."""
        if not _wants_hard_negatives(self.config, self.spec):
            return [[] for _ in rows]
        if "hard_negatives" not in self._samplers:
            self._samplers["hard_negatives"] = HardNegativeSampler(
                self.kg, self.config.hard_negative_type, self.spec.kg_entity_type or self.spec.labels[0].name.lower(),
                self.config.hard_negatives, self.seed, _HARD_NEGATIVE_STREAM)
        return self._samplers["hard_negatives"].sample_batch(vertices, rows)

    def _sampler(self, li: int, label: LabelSpec):
        if li not in self._samplers:
            source, stream = label.topics, li + 1
            if source.kind == "entity":
                sampler = EntitySampler(self.kg, source.entity_types, self.config.topic_sampler, self.seed, stream)
            else:
                cls = RelationPairSampler if source.kind == "relation" else NegativePairSampler
                sampler = cls(self.kg, source.relation, source.head_type, source.tail_type, self.seed, stream)
            self._samplers[li] = sampler
        return self._samplers[li]
