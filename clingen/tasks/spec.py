"""Task specifications (the contract every later stage reads): family, labels, topic sources, styles."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from clingen.config import StrictModel

Family = Literal["classification", "relation", "pair", "ner", "attribute"]


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

    @model_validator(mode="after")
    def _complete(self) -> "TopicSource":
        if self.kind == "entity" and not self.entity_types:
            raise ValueError("topic kind 'entity' needs entity_types")
        if self.kind in ("relation", "negative") and not self.relation:
            raise ValueError(f"topic kind {self.kind!r} needs a relation")
        return self


class LabelSpec(StrictModel):
    name: str = Field(description="Label name as it appears in the datasets.")
    description: str = Field(description="The label's definition, sent to the generator.")
    topics: TopicSource = Field(description="Where this label's topics come from.")


class TaskSpec(StrictModel):
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
    real_data: Literal["conll", "biobert-re", "hoc", "mediqa-rqe"] | None = Field(
        None, description="Format of the task's real data, when ClinGen has a reader for it.")

    @model_validator(mode="after")
    def _family_fields(self) -> "TaskSpec":
        names = [label.name for label in self.labels]
        if len(set(names)) != len(names):
            raise ValueError(f"task {self.name}: duplicate label names in {names}")
        if self.family == "relation" and not (self.head_role and self.tail_role):
            raise ValueError(f"relation task {self.name} needs head_role and tail_role")
        return self

    @property
    def label_names(self) -> list[str]:
        return [label.name for label in self.labels]

    def label(self, name: str) -> LabelSpec:
        for label in self.labels:
            if label.name == name:
                return label
        from clingen.errors import UnknownNameError
        raise UnknownNameError(f"label of task {self.name}", name, self.label_names)
