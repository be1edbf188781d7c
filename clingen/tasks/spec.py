"""Task specifications (the contract every later stage reads): family, labels, topic sources, styles."""

from __future__ import annotations

import re
import string
from typing import Literal

from pydantic import Field, model_validator

from clingen.config import StrictModel

Family = Literal["classification", "relation", "pair", "ner", "attribute"]


def label_key(name: str) -> str:
    """The form in which a dataset's label name is matched against a task's names: case, surrounding spaces
    and the separators '-', '_' and ' ' do not matter ("Supports" = "supports", "PRODUCT-OF" = "Product_of")."""
    return re.sub(r"[\s_-]+", "_", name.strip()).casefold()


class TopicSource(StrictModel):
    """Where a label's topics come from."""

    kind: Literal["entity", "relation", "negative", "llm", "none"] = Field(
        description="entity: entities of `entity_types`; relation: (head, tail) pairs joined by `relation`; "
        "negative: pairs of the same types NOT joined by it; llm: LLM-proposed topics (prompts.topics_file); "
        "none: no topic.")
    entity_types: list[str] = Field(default_factory=list, description="kind=entity: canonical KG types.")
    relation: str | None = Field(None, description="kind=relation/negative: the KG relation type.")
    head_type: str | None = Field(None, description="kind=relation/negative: the KG head type.")
    tail_type: str | None = Field(None, description="kind=relation/negative: the KG tail type.")
    swap: bool = Field(False, description="The KG edge points the other way from the task's (head, tail) "
                       "roles, e.g. Hetionet's disease->gene for GAD's (gene, disease).")
    phrase: str | None = Field(None, description="classification and pair tasks: how a sampled topic is worded "
                               "in the prompt, with {topic} (kind entity) or {head} and {tail} (kind relation/"
                               "negative) standing for the KG names, e.g. '{topic} in COVID-19'. Default: the "
                               "entity's name, or 'head / tail'.")

    @model_validator(mode="after")
    def _complete(self) -> "TopicSource":
        if self.kind == "entity" and not self.entity_types:
            raise ValueError("topic kind 'entity' needs entity_types")
        if self.kind in ("relation", "negative") and not self.relation:
            raise ValueError(f"topic kind {self.kind!r} needs a relation")
        if self.phrase is not None:
            fields = {name for _, name, _, _ in string.Formatter().parse(self.phrase) if name is not None}
            expected = {"entity": {"topic"}, "relation": {"head", "tail"}, "negative": {"head", "tail"}}
            allowed = expected.get(self.kind, set())
            if not fields or not fields <= allowed:
                raise ValueError(f"topic phrase {self.phrase!r} uses {sorted(fields)}; a {self.kind!r} topic's "
                                 f"phrase must use some of {sorted(allowed)} and nothing else")
        return self

    def word(self, topic: str | None = None, head: str | None = None, tail: str | None = None) -> str:
        """The topic as the prompt names it: `phrase` filled in, else the entity name or 'head / tail'."""
        if self.phrase is None:
            return topic if self.kind == "entity" else f"{head} / {tail}"
        return self.phrase.format(topic=topic, head=head, tail=tail)


class LabelSpec(StrictModel):
    name: str = Field(description="Label name as it appears in the datasets.")
    description: str = Field(description="The label's definition, sent to the generator.")
    topics: TopicSource = Field(description="Where this label's topics come from.")


class TaskSpec(StrictModel):
    """One task: its family (classification, relation, pair, ner, attribute), labels with definitions, the real
    corpus label names it maps, and the label-fidelity settings. Built-in tasks live in tasks/builtin.yaml; get one
    with `get_task`."""

    name: str = Field(description="Task name, lower-case with dashes (e.g. ncbi-disease).")
    family: Family = Field(description="Task family; decides the prompt template, parser and record type.")
    multi_label: bool = Field(False, description="classification: documents may carry several labels.")
    domain: str = Field(description="Domain wording used in prompts, e.g. 'disease' or 'biomedical literature'.")
    labels: list[LabelSpec] = Field(min_length=1, description="Labels; for NER and attribute extraction "
                                    "these are the entity/attribute types tagged.")
    head_role: str | None = Field(None, description="relation: the head entity's type as named in prompts.")
    tail_role: str | None = Field(None, description="relation: the tail entity's type as named in prompts.")
    head_mask: str | None = Field(None, description="relation: mask token of the head in the real data (@GENE$).")
    tail_mask: str | None = Field(None, description="relation: mask token of the tail in the real data.")
    pair_roles: tuple[str, str] = Field(("sentence A", "sentence B"), description="pair: names of the two "
                                        "texts, e.g. (premise, hypothesis).")
    kg_entity_type: str | None = Field(None, description="ner: the KG type whose names can complete labels.")
    styles: list[str] = Field(min_length=1, description="Built-in writing styles.")
    label_map: dict[str, str | None] = Field(default_factory=dict, description="How the real datasets name "
                                             "this task's labels: dataset label (or entity type) -> task label, "
                                             "e.g. {'0': No_relation, '1': Has_relation}; matched ignoring case "
                                             "and '-'/'_'/' '; the task's own names are always accepted. null: "
                                             "not a class of this task (NER/attribute: its mentions read as "
                                             "untagged; multi-label: the label is dropped). Real files with any "
                                             "other label are refused.")
    negative_label: str | None = Field(None, description="relation (required): the label meaning 'no "
                                       "relation', left out of the positive-class F1.")

    @model_validator(mode="after")
    def _family_fields(self) -> "TaskSpec":
        names = [label.name for label in self.labels]
        if len(set(names)) != len(names):
            raise ValueError(f"task {self.name}: duplicate label names in {names}")
        if self.family == "relation" and not (self.head_role and self.tail_role):
            raise ValueError(f"relation task {self.name} needs head_role and tail_role")
        spaced = [name for name in names if self.family in ("ner", "attribute") and not re.fullmatch(r"\S+", name)]
        if spaced:
            # A type is written into BIO tags (B-<type>), which CoNLL files and seqeval split on whitespace.
            raise ValueError(f"task {self.name}: entity types {spaced} hold whitespace; an NER or attribute "
                             f"type must be one word (e.g. Adverse_event), since it is written into B-/I- tags")
        self._check_negative_label(names)
        self._check_label_map(names)
        if self.family not in ("classification", "pair") and any(label.topics.phrase for label in self.labels):
            raise ValueError(f"task {self.name}: topic phrases are for classification and pair tasks; a "
                             f"{self.family} prompt names its topic as sampled")
        return self

    def _check_negative_label(self, names: list[str]) -> None:
        if self.family == "relation" and self.negative_label not in names:
            raise ValueError(f"relation task {self.name} needs negative_label, the label meaning 'no relation': "
                             f"one of {names} (got {self.negative_label!r})")
        if self.family != "relation" and self.negative_label is not None:
            raise ValueError(f"task {self.name}: negative_label is for relation tasks; this is a {self.family} task")

    def _check_label_map(self, names: list[str]) -> None:
        own = {label_key(name): name for name in names}
        if len(own) != len(names):
            raise ValueError(f"task {self.name}: label names {names} differ only in case or separators; "
                             f"real data could not tell them apart")
        may_drop = self.family in ("ner", "attribute") or self.multi_label
        seen: dict[str, str] = {}
        for source, target in self.label_map.items():
            key = label_key(source)
            if target is None and not may_drop:
                raise ValueError(f"task {self.name}: label_map {source!r}: null (drop) is for NER, attribute and "
                                 f"multi-label tasks; a {self.family} example needs one of {names}")
            if target is not None and target not in names:
                raise ValueError(f"task {self.name}: label_map {source!r} -> {target!r}: not a label of the "
                                 f"task; expected one of {names}")
            if key in own and own[key] != target:
                raise ValueError(f"task {self.name}: label_map {source!r} -> {target!r} contradicts the task's "
                                 f"own label {own[key]!r}")
            if key in seen and self.label_map[seen[key]] != target:
                raise ValueError(f"task {self.name}: label_map names {seen[key]!r} and {source!r} alike "
                                 f"(ignoring case and separators) but maps them differently")
            seen[key] = source

    @property
    def label_names(self) -> list[str]:
        return [label.name for label in self.labels]

    def dataset_labels(self) -> dict[str, str | None]:
        """label_key(dataset name) -> task label (None: not a class of this task), for the task's own names
        and its label_map; a real file's labels are looked up here and refused when absent."""
        lookup: dict[str, str | None] = {label_key(name): name for name in self.label_names}
        lookup.update({label_key(source): target for source, target in self.label_map.items()})
        return lookup

    def label(self, name: str) -> LabelSpec:
        for label in self.labels:
            if label.name == name:
                return label
        from clingen.errors import UnknownNameError
        raise UnknownNameError(f"label of task {self.name}", name, self.label_names)
