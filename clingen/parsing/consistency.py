"""Consistency filtering (parsing/filtering stage, after a few-shot model exists).

Which synthetic examples a model trained on the few real examples contradicts with high confidence. Beyond
the ClinGen paper, in the spirit of the consistency filters of SuperGen (Meng et al. 2022) and ZeroGen (Ye et
al. 2022).
"""

from __future__ import annotations

from collections.abc import Sequence


def contradiction(labels: Sequence[str], scores: dict[str, float], multi_label: bool, confidence: float) -> str | None:
    """Why the few-shot model contradicts an example labelled `labels`, given its per-label probabilities
    `scores` (softmax for single-label, sigmoid for multi-label), else None.
    Single-label: another label has probability >= confidence. Multi-label: a label the example carries has
    probability <= 1 - confidence (the model is that sure it is absent). Raises ValueError for a label the
    scores do not cover."""
    unknown = [label for label in labels if label not in scores]
    if unknown:
        raise ValueError(f"labels {unknown} are not among the model's labels {sorted(scores)}")
    if multi_label:
        absent = [f"{label} p={scores[label]:.2f}" for label in labels if scores[label] <= 1 - confidence]
        return f"the few-shot model is sure these are absent: {', '.join(absent)}" if absent else None
    best = max(scores, key=scores.__getitem__)
    if best not in labels and scores[best] >= confidence:
        return f"label {labels[0]}, the few-shot model gives {best} p={scores[best]:.2f}"
    return None


def filter_synthetic_set(train_dir: str, predictor, confidence: float, out: str) -> dict:
    """Score every example of the generation run in `train_dir` with `predictor` (a training.predict.Predictor
    of a model trained on the few real examples) and write `out` as a run folder training reads like a
    generation output: data/ with the examples kept, failures/ with those set aside (reason
    contradicts_fewshot_model, the detail naming the model's label and probability) and a manifest copied from
    the run's with the counts after filtering. Returns {"data", "examples", "set_aside", "by_label"}."""
    import json

    from clingen.datasets.records import record_type_for
    from clingen.errors import ConfigError
    from clingen.runfolder.manifest import FilterRecord
    from clingen.runfolder.reasons import failure_record
    from clingen.runfolder.store import OutputStore
    source = OutputStore(train_dir, create=False)
    manifest = source.read_manifest()
    if manifest is None:
        raise ConfigError(f"{train_dir} has no manifest.json; expected the output folder of `clingen generate`")
    family = manifest.family
    table = source.read_examples()
    rows = table.to_pylist() if table is not None else []
    records = [record_type_for(family).from_row(row) for row in rows]
    results = predictor.classify_records(records) if records else []
    kept, aside, by_label = [], [], {}
    for row, record, result in zip(rows, records, results):
        labels = list(record.labels) if hasattr(record, "labels") else [record.label]
        why = contradiction(labels, result["scores"], predictor.multi_label, confidence)
        if why is None:
            kept.append(row)
            continue
        by_label[labels[0]] = by_label.get(labels[0], 0) + 1
        shown = {k: v for k, v in row.items() if k != "reply_record"}
        aside.append(failure_record(row["row_id"], "contradicts_fewshot_model", why, json.dumps(shown, ensure_ascii=True),
                                    reply_record=row.get("reply_record")))
    filtered = manifest.model_copy(update={
        "counts": manifest.counts.model_copy(update={"examples": len(kept), "set_aside": len(aside)}),
        "filtered_from": train_dir, "filter": FilterRecord(confidence=confidence, set_aside_by_label=by_label)})
    _write_filtered(out, family, kept, aside, sorted(row["row_id"] for row in rows), filtered)
    return {"data": out, "examples": len(kept), "set_aside": len(aside), "by_label": by_label}


def _write_filtered(out: str, family: str, kept: list[dict], aside: list[dict], rows: list[int], manifest) -> None:
    """The filtered set as the run folder `out`, under its writer lock. A folder that already holds one (a step
    run again) gets it as a new version, the previous one moved to versions/<k>/; nothing is replaced."""
    import pyarrow as pa

    from clingen.datasets.records import schema_for
    from clingen.runfolder.card import write_card
    from clingen.runfolder.store import OutputStore, writing
    from clingen.tasks.registry import get_task
    with writing(out, "clingen pipeline (filter step)"):
        store = OutputStore(out)
        current = store.scan()  # anything no marker accounts for is set aside, not overwritten
        target = store.staging() if current.rows or store.read_manifest() is not None else store
        target.commit(0, pa.Table.from_pylist(kept, schema=schema_for(family)), aside, rows, 0, 0,
                      {"contradicts_fewshot_model": len(aside)}, {})
        if target is store:
            store.write_manifest(manifest)
        else:
            store.swap_in(target, manifest)
        write_card(store, manifest, get_task(manifest.task, manifest.config.get("task_file")))
