"""Datasets stage: a real file's label names (entity types for NER) mapped to a task's labels by its label_map.

A file holding any other label is refused, naming the file, the line and both label sets.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

from clingen.datasets.records import (ClassificationExample, NERExample, PairExample, Record, RelationExample,
                                      tags_from_spans, token_offsets)
from clingen.datasets.readers.conll import UNTYPED
from clingen.datasets.readers.text import Location, RealData
from clingen.errors import DataFormatError
from clingen.tasks.spec import TaskSpec, label_key


def raw_labels(record: Record) -> list[str]:
    """The labels of a record as its file names them: an NER example's entity types (one per mention)."""
    if isinstance(record, ClassificationExample):
        return list(record.labels)
    if isinstance(record, (RelationExample, PairExample)):
        return [record.label]
    return [span.type for span in record.spans]


def _lookup(spec: TaskSpec) -> dict[str, str | None]:
    lookup = spec.dataset_labels()
    if spec.family in ("ner", "attribute") and len(spec.labels) == 1:
        lookup[label_key(UNTYPED)] = spec.labels[0].name  # bare B/I tags: the task's one entity type
    return lookup


def _refuse_unknown(data: RealData, spec: TaskSpec, lookup: dict[str, str | None], found: Counter) -> None:
    unknown = next((name for name in found if label_key(name) not in lookup), None)
    if unknown is None:
        return
    what = "entity type" if spec.family in ("ner", "attribute") else "label"
    index = next(i for i, record in enumerate(data.examples) if unknown in raw_labels(record))
    where: Location = data.locations[index]
    record = data.examples[index]
    if isinstance(record, NERExample):
        where = where.of_token(next((i for i, tag in enumerate(record.tags) if tag[2:] == unknown), 0))
    hint = (" (tags without a type, bare B/I, fit only a task with one entity type)" if unknown == UNTYPED else "")
    shown = ", ".join(f"{name!r} x{count}" for name, count in sorted(found.items()))
    known = sorted({*spec.label_names, *spec.label_map})
    raise DataFormatError(f"{where}: {what} {unknown!r} is not a label of task {spec.name}{hint}; {what}s in "
                          f"{data.path}: {shown}; known: {known} (the task's labels and its label_map)")


def _map_ner(record: NERExample, lookup: dict[str, str | None], dropped: Counter, hidden: Counter) -> NERExample:
    """The example with its spans renamed to the task's types, those the label_map drops removed, and its tags
    made again on its own tokens from the spans left: overlapping mentions are resolved only now, among the
    task's types, so that a Chemical nested in a Disease mention survives for a chemical task (the reader
    keeps every mention). A span the tags cannot show (it nests in or overlaps an earlier one) is left out
    and counted in `hidden`, so spans and tags say the same."""
    kept = []
    for span in record.spans:
        kind = lookup[label_key(span.type)]
        if kind is None:
            dropped[span.type] += 1
        else:
            kept.append(replace(span, type=kind))
    _, offsets = token_offsets(record.tokens, record.text)
    tags, shown = tags_from_spans(offsets, kept)
    hidden.update(Counter(span.type for span in kept) - Counter(span.type for span in shown))
    return replace(record, tags=tags, spans=sorted(shown, key=lambda s: (s.start, -s.end)))


def _map_one(record: Record, spec: TaskSpec, lookup: dict[str, str | None], dropped: Counter, hidden: Counter,
             where: Location) -> Record:
    if isinstance(record, NERExample):
        try:
            return _map_ner(record, lookup, dropped, hidden)
        except DataFormatError as exc:
            raise DataFormatError(f"{where}: example {record.id!r}: {exc}") from None
    if isinstance(record, (RelationExample, PairExample)):
        return replace(record, label=lookup[label_key(record.label)])
    mapped = {lookup[label_key(name)] for name in record.labels}
    dropped.update(name for name in record.labels if lookup[label_key(name)] is None)
    labels = [name for name in spec.label_names if name in mapped]
    if not spec.multi_label and len(labels) != 1:
        raise DataFormatError(f"{where}: has labels {record.labels}; task {spec.name} is single-label: expected "
                              f"exactly one")
    return replace(record, labels=labels)


def map_labels(data: RealData, spec: TaskSpec) -> tuple[list[Record], list[str]]:
    """The examples with the task's label names, and one note per dataset label the label_map drops (null).
    Raises DataFormatError when a label is neither a label of the task nor in its label_map: at the first
    example holding one (file:line), with every label the file holds (and how often) and those known."""
    lookup = _lookup(spec)
    found = Counter(name for record in data.examples for name in raw_labels(record))
    _refuse_unknown(data, spec, lookup, found)
    dropped: Counter = Counter()
    hidden: Counter = Counter()
    records = [_map_one(record, spec, lookup, dropped, hidden, where)
               for record, where in zip(data.examples, data.locations)]
    notes = [f"{count} {name!r} {'mention' if spec.family in ('ner', 'attribute') else 'label'}(s) dropped: "
             f"label_map says {name!r} is not a class of task {spec.name}" for name, count in sorted(dropped.items())]
    notes += [f"{count} {name!r} mention(s) nest in or overlap an earlier mention of the task's types and are left "
              f"out (BIO cannot nest: the outer, earlier one stays)" for name, count in sorted(hidden.items())]
    return records, notes
