"""A generation folder loads with `datasets.load_dataset(<folder>)` as it is: examples by default, failures as a
second configuration, labels as ClassLabel over the task's full label (or BIO tag) list."""

from __future__ import annotations

import pyarrow as pa
import pytest

from clingen.config import load_config
from clingen.datasets.records import schema_for
from clingen.runfolder.card import bio_tags, write_card
from clingen.runfolder.manifest import build_manifest
from clingen.runfolder.store import OutputStore
from clingen.tasks.registry import get_task

pytestmark = pytest.mark.unit
PROVENANCE = {"task": None, "row_id": None, "topic": "asthma", "style": "a case report", "prompt_label": None,
              "strategy": "clingen-kg", "demo_ids": [], "model": "m", "reply_record": None}


def folder(tmp_path, task: str, examples: list[dict]) -> tuple[str, object]:
    spec = get_task(task)
    out = str(tmp_path / task)
    store = OutputStore(out)
    rows = [{**PROVENANCE, "task": task, "row_id": i, "id": f"{task}-{i}", **example} for i, example in enumerate(examples)]
    store.commit(0, pa.Table.from_pylist(rows, schema=schema_for(spec.family)),
                 [{"row_id": len(rows), "reason": "too_short", "detail": "2 words", "raw": "{}", "step": 1}],
                 list(range(len(rows) + 1)), 10, 5, {"too_short": 1}, {})
    config = load_config(overrides=[f"task={task}", f"generation.out={out}", f"generation.n={len(rows) + 1}"])
    manifest = build_manifest(config, spec, store.scan(), None, "m", 0.0, None)
    store.write_manifest(manifest)
    write_card(store, manifest, spec)
    return out, spec


def load(out, tmp_path, name=None):
    import datasets
    return datasets.load_dataset(out, name, cache_dir=str(tmp_path / "hf-cache"))["train"]


def test_an_ner_folder_loads_with_bio_tags_as_class_labels(tmp_path):
    out, spec = folder(tmp_path, "ncbi-disease", [
        {"text": "Asthma worsened .", "tokens": ["Asthma", "worsened", "."], "tags": ["B-Disease", "O", "O"],
         "spans": [{"start": 0, "end": 6, "type": "Disease", "text": "Asthma"}]}])
    examples = load(out, tmp_path)
    assert examples.features["tags"].feature.names == bio_tags(spec) == ["O", "B-Disease", "I-Disease"]
    assert examples[0]["tags"] == [1, 0, 0] and examples[0]["topic"] == "asthma"
    failures = load(out, tmp_path, "failures")
    assert failures.num_rows == 1 and failures[0]["reason"] == "too_short"
    card = (tmp_path / "ncbi-disease" / "README.md").read_text()
    assert "1 examples from 2 of 2 prompt rows" in card and "token-classification" in card


@pytest.mark.parametrize("task, example, column", [
    ("gad", {"text": "@GENE$ in @DISEASE$", "label": "No_relation", "head": "g", "tail": "d", "head_type": "gene",
             "tail_type": "disease"}, "label"),
    ("mediqa-rqe", {"text_a": "Is asthma curable?", "text_b": "Can asthma be cured?", "label": None}, "label"),
    ("hoc", {"text": "Cells evade apoptosis.", "labels": None}, "labels"),
])
def test_other_families_load_with_their_labels_as_class_labels(tmp_path, task, example, column):
    spec = get_task(task)
    label = spec.label_names[-1]
    example = {**example, column: [label] if column == "labels" else label}
    out, _ = folder(tmp_path, task, [example])
    examples = load(out, tmp_path)
    feature = examples.features[column]
    names = feature.feature.names if column == "labels" else feature.names
    assert names == spec.label_names
    assert examples[0][column] == ([len(names) - 1] if column == "labels" else len(names) - 1)


def test_a_shard_without_examples_or_failures_still_loads(tmp_path):
    # 600 NCBI rows re-checked by `clingen reparse` left six empty data shards, which load_dataset refused
    out, spec = folder(tmp_path, "ncbi-disease", [
        {"text": "Asthma worsened .", "tokens": ["Asthma", "worsened", "."], "tags": ["B-Disease", "O", "O"],
         "spans": [{"start": 0, "end": 6, "type": "Disease", "text": "Asthma"}]}])
    store = OutputStore(out)
    store.commit(1, pa.Table.from_pylist([], schema=schema_for(spec.family)),
                 [{"row_id": 2, "reason": "too_short", "detail": "2 words", "raw": "{}", "step": 1}], [2], 1, 1,
                 {"too_short": 1}, {})
    store.commit(2, pa.Table.from_pylist([{**PROVENANCE, "task": "ncbi-disease", "row_id": 3, "id": "n-3",
                                           "text": "Gout .", "tokens": ["Gout", "."], "tags": ["B-Disease", "O"],
                                           "spans": [{"start": 0, "end": 4, "type": "Disease", "text": "Gout"}]}],
                                         schema=schema_for(spec.family)), [], [3], 1, 1, {}, {})
    assert [row["text"] for row in load(out, tmp_path)] == ["Asthma worsened .", "Gout ."]
    assert load(out, tmp_path, "failures")["row_id"] == [1, 2]
    assert store.read_examples().num_rows == 2 and store.scan().rows == {0, 1, 2, 3}
