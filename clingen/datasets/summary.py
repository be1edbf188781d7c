"""Datasets stage: what a real split holds for a task, as `clingen data check` prints it.

The format, the number of examples, the count per label (NER: mentions per type) and the problems seen.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from clingen.datasets.records import ClassificationExample, NERExample
from clingen.datasets.readers import FORMATS, TaskData
from clingen.datasets.readers.labels import raw_labels
from clingen.tasks.spec import TaskSpec


def summarize(spec: TaskSpec, data: TaskData) -> dict[str, Any]:
    """A JSON-ready summary: task, family, path, format (and its description), examples, label_counts (per
    task label, in the task's order: examples per label; NER and attributes: mentions per type),
    examples_without_labels (sentences without an entity, documents without a label; None for single-label
    families) and problems (one readable line each: instances lost by a conversion, labels dropped, labels of
    the task that the file never uses). A split without examples never gets here: `read_task_data` refuses
    it."""
    counts = Counter(name for record in data.records for name in raw_labels(record))
    label_counts = {name: counts.get(name, 0) for name in spec.label_names}
    unlabelled = None
    if data.records and isinstance(data.records[0], NERExample):
        unlabelled = sum(1 for record in data.records if not record.spans)
    elif data.records and isinstance(data.records[0], ClassificationExample) and spec.multi_label:
        unlabelled = sum(1 for record in data.records if not record.labels)
    problems = list(data.problems)
    missing = [name for name, count in label_counts.items() if count == 0]
    if missing:
        problems.append(f"label(s) of the task never used in the file: {missing}")
    return {"task": spec.name, "family": spec.family, "path": str(data.path), "format": data.format,
            "format_description": FORMATS[data.format].description, "examples": len(data.records),
            "label_counts": label_counts, "examples_without_labels": unlabelled, "problems": problems}


def format_summary(summary: dict[str, Any]) -> str:
    """The summary as a few aligned lines for a terminal."""
    ner = summary["family"] in ("ner", "attribute")
    counts = ", ".join(f"{name} {count}" for name, count in summary["label_counts"].items())
    lines = [f"task:     {summary['task']} ({summary['family']})", f"file:     {summary['path']}",
             f"format:   {summary['format']} ({summary['format_description']})",
             f"examples: {summary['examples']}", f"{'mentions:' if ner else 'labels:  '} {counts}"]
    if summary["examples_without_labels"] is not None:
        what = "sentences without an entity" if ner else "documents without a label"
        lines.append(f"{what}: {summary['examples_without_labels']}")
    lines.append("problems: " + ("none" if not summary["problems"] else "\n  - " + "\n  - ".join(summary["problems"])))
    return "\n".join(lines)
