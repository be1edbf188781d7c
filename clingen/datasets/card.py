"""Datasets stage: the dataset card (README.md) of a generation folder, so that `datasets.load_dataset(<folder>)`
reads it as it is: the examples as the default configuration, the failures as a second one, the labels as
`ClassLabel` (NER and attribute tags as a list of `ClassLabel` over the task's full BIO tag list)."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from clingen._imports import require
from clingen.datasets.records import schema_for
from clingen.generation.manifest import Manifest
from clingen.tasks.spec import TaskSpec

EXAMPLES, FAILURES = "data/part-*.parquet", "failures/part-*.parquet"
_EMBEDDED_KG_SOURCES = Path(__file__).resolve().parents[1] / "kg" / "data" / "sources.json"
_TASK_CATEGORY = {"classification": "text-classification", "relation": "text-classification",
                  "pair": "sentence-similarity", "ner": "token-classification", "attribute": "token-classification"}


def bio_tags(spec: TaskSpec) -> list[str]:
    """O, then B-/I- for each of the task's entity (or attribute) types, in the spec's order."""
    return ["O", *(f"{prefix}-{name}" for name in spec.label_names for prefix in ("B", "I"))]


def example_features(spec: TaskSpec):
    """The `datasets.Features` of the examples: the Arrow schema of the family, with the label column as
    ClassLabel (classification: a list of them, one per label of the example)."""
    datasets = require("datasets")
    features = datasets.Features.from_arrow_schema(schema_for(spec.family))
    if spec.family in ("ner", "attribute"):
        features["tags"] = datasets.List(datasets.ClassLabel(names=bio_tags(spec)))
    elif spec.family == "classification":
        features["labels"] = datasets.List(datasets.ClassLabel(names=spec.label_names))
    else:
        features["label"] = datasets.ClassLabel(names=spec.label_names)
    return features


def dataset_card(manifest: Manifest, spec: TaskSpec) -> str:
    """README.md text: YAML front matter (configs, features, task category) and a summary of how the set was
    made (task, strategy, model, counts, inputs and their licences)."""
    datasets = require("datasets")
    info = datasets.DatasetInfo(features=example_features(spec))._to_yaml_dict()
    front = {"configs": [{"config_name": "examples", "data_files": EXAMPLES, "default": True},
                         {"config_name": "failures", "data_files": FAILURES}],
             "dataset_info": [{"config_name": "examples", **info}],
             "task_categories": [_TASK_CATEGORY[spec.family]], "tags": ["synthetic", "clinical", "clingen"],
             "license": "other"}
    counts = manifest.counts
    rejected = ", ".join(f"{reason} {n}" for reason, n in sorted(counts.rejected_rows_by_reason.items(),
                                                              key=lambda item: -item[1]))
    body = [f"# {spec.name}: synthetic training data made by ClinGen {manifest.clingen_version}", "",
            f"{counts.examples} examples from {counts.rows_done} of {counts.prompts} prompt rows, written by "
            f"`{manifest.model}` with {manifest.strategy} prompting (seed {manifest.seed}, "
            f"dataset fingerprint `{manifest.fingerprint}`); complete: {manifest.complete}.", "",
            "```python", "from datasets import load_dataset",
            'examples = load_dataset("path/to/this/folder")              # the default configuration',
            'failures = load_dataset("path/to/this/folder", "failures")  # every rejected reply, with its reason',
            "```", "",
            f"Rows without an example, by their first reason: {rejected or 'none'}. `manifest.json` holds the "
            "full config, token counts and every run; the reasons are documented in ClinGen's README.", "",
            "## Inputs and their licences", *_inputs(manifest, spec)]
    return "---\n" + yaml.safe_dump(front, sort_keys=False, allow_unicode=True) + "---\n\n" + "\n".join(body) + "\n"


def write_card(store, manifest: Manifest, spec: TaskSpec) -> str:
    """Write README.md into a generation folder (an OutputStore) beside its manifest; returns its path."""
    path = store.path("README.md")
    store.write_bytes(path, dataset_card(manifest, spec).encode())
    return path


def _inputs(manifest: Manifest, spec: TaskSpec) -> list[str]:
    config = manifest.config
    model = (config.get("generator") or {}).get("model", {}).get("source", manifest.model)
    lines = [f"- Generator: `{model}` (its own licence applies to the text it wrote; SmolLM2: Apache-2.0).",
             f"- Demonstrations and label definitions: the {spec.name} task's real examples (see the task's "
             "dataset licence)."]
    kg = config.get("kg") or {}
    if manifest.strategy == "clingen-kg" and kg.get("source", "default") == "default":
        sources = json.loads(_EMBEDDED_KG_SOURCES.read_text())
        lines += [f"- Knowledge-graph topics ({name}): {entry.get('licence', 'see the source')}"
                  for name, entry in sources.items()]
    elif manifest.strategy == "clingen-kg":
        lines.append(f"- Knowledge-graph topics: `{kg.get('source')}` at `{kg.get('path')}` (its sources' licences).")
    return lines
