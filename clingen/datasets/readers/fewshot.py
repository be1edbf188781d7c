"""Datasets stage: the few real examples per class that demonstrations and training's few-shot stage use."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

import numpy as np

from clingen.datasets.records import ClassificationExample, NERExample, PairExample, Record, RelationExample
from clingen.errors import ConfigError

ExampleT = TypeVar("ExampleT")


def fewshot_classes(example: Record) -> list[str]:
    """The classes few-shot sampling balances over: a classification example's labels, a relation or pair
    example's label, and for NER the single pseudo-class "all" (an NER sentence holds several entity
    types, or none, so per-type quotas are ill-defined; k examples in total is what a k-shot NER demo is)."""
    if isinstance(example, ClassificationExample):
        return list(example.labels)
    if isinstance(example, (RelationExample, PairExample)):
        return [example.label]
    if isinstance(example, NERExample):
        return ["all"]
    raise TypeError(f"no few-shot classes for {type(example).__name__}; expected a ClinGen record")


def fewshot_sample(examples: Sequence[ExampleT], k: int, seed: int,
                   label_of: Callable[[ExampleT], list[str]] = fewshot_classes) -> list[ExampleT]:
    """Up to k examples per class, deterministic for a seed whatever the input order: examples are sorted by
    id, classes visited in sorted order, and each class's candidates shuffled by one numpy Generator seeded
    with seed. An example already drawn for an earlier class is not drawn again (multi-label examples
    would otherwise repeat), a class with fewer than k candidates gives them all, and examples with no
    class are never drawn (have label_of return a pseudo-class such as "none" to include them)."""
    if k < 0:
        raise ConfigError(f"few-shot k is {k}; expected a non-negative number of examples per class")
    ordered = sorted(examples, key=lambda example: example.id)
    by_class: dict[str, list[ExampleT]] = {}
    for example in ordered:
        for name in dict.fromkeys(label_of(example)):
            by_class.setdefault(name, []).append(example)
    rng = np.random.default_rng(seed)
    chosen: list[ExampleT] = []
    chosen_ids: set[str] = set()
    for name in sorted(by_class):
        candidates = by_class[name]
        taken = 0
        for position in rng.permutation(len(candidates)):
            if taken == k:
                break
            candidate = candidates[int(position)]
            if candidate.id not in chosen_ids:
                chosen.append(candidate)
                chosen_ids.add(candidate.id)
                taken += 1
    return chosen


def teaching_examples(examples: list[Record]) -> list[Record]:
    """The examples a demonstration or a few-shot step can teach from: for NER only sentences that hold an
    entity (a sentence without one shows no tagging); every example otherwise."""
    if examples and isinstance(examples[0], NERExample):
        return [e for e in examples if e.spans]
    return examples
