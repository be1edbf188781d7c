"""Demonstration pools (prompts stage): the few real examples per class that prompts show the generator."""

from __future__ import annotations

from pathlib import Path

from clingen.datasets.readers import fewshot_classes, fewshot_sample, read_task_split
from clingen.datasets.records import NERExample, Record, read_jsonl
from clingen.tasks.spec import TaskSpec

SHIPPED_DEMOS = Path(__file__).resolve().parents[1] / "tasks" / "demos"


def load_demo_pool(spec: TaskSpec, fewshot_path: Path | None, per_class: int, seed: int) -> list[Record]:
    """At most `per_class` real examples per class: sampled from `fewshot_path` (a real training split) when
    given, else the pool shipped with a built-in task, else none."""
    if fewshot_path is not None:
        examples = read_task_split(spec, fewshot_path, split="train")
        if examples and isinstance(examples[0], NERExample):  # a demo without entities shows no tagging
            examples = [e for e in examples if e.spans]
        return fewshot_sample(examples, per_class, seed)
    shipped = SHIPPED_DEMOS / f"{spec.name}.jsonl"
    if not shipped.is_file():
        return []
    pool = read_jsonl(shipped, spec.family)
    return fewshot_sample(pool, per_class, seed)


def demos_by_label(spec: TaskSpec, pool: list[Record]) -> dict[str | None, list[Record]]:
    """The pool split per target class, for tasks whose prompts are per class; NER and attribute prompts
    cover every type at once and share one pool (key None)."""
    if spec.family in ("ner", "attribute"):
        return {None: sorted(pool, key=lambda d: d.id)}
    grouped: dict[str | None, list[Record]] = {name: [] for name in spec.label_names}
    for demo in sorted(pool, key=lambda d: d.id):
        for name in fewshot_classes(demo):
            if name in grouped:
                grouped[name].append(demo)
    return grouped
