"""The dataset card (README.md) of a run folder, so that `datasets.load_dataset(<folder>)` reads it as it is: the
examples as the default configuration, the failures as a second one, the labels as `ClassLabel` (NER and
attribute tags as a list of `ClassLabel` over the task's full BIO tag list).

`datasets` caches a local folder under its name and a hash of this card's YAML, never of the data files (the
configs' `data_files` are hashed as patterns; huggingface/datasets#2956). So each configuration's `description`
carries a digest of the shards it reads: every command that changes the folder rewrites the card, the hash
changes with the data, and the default cache never returns another version's rows (nor another folder's of the
same name)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path

import pyarrow.fs as pafs
import pyarrow.parquet as pq
import yaml

from clingen._imports import require
from clingen.datasets.records import schema_for
from clingen.runfolder.manifest import Manifest
from clingen.runfolder.usage import manifest_usage
from clingen.tasks.spec import TaskSpec

EXAMPLES, FAILURES = "data/part-*.parquet", "failures/part-*.parquet"
CONFIGS = {"examples": EXAMPLES, "failures": FAILURES}  # configuration name -> the files it reads
# datasets (5.2 and earlier) refuses to read a split without rows (arrow_reader: "corresponds to no data"): the
# upstream fix to follow before loading an empty configuration without streaming.
EMPTY_SPLIT_ISSUE = "huggingface/datasets#8401"
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


@dataclass(frozen=True)
class FolderContent:
    """What a generation folder's configurations read: rows per configuration and a digest of the files."""

    rows: dict[str, int]
    digest: str


def folder_content(store) -> FolderContent:
    """The rows of the files each configuration's glob matches (their Parquet footers, so what datasets reads)
    and a sha256 over the committed shard markers (which hold each shard file's sha256) and those files' names,
    sizes and rows, so that any rewrite of a shard gives another digest without reading the data again."""
    digest = hashlib.sha256((store.committed_digest() or "no committed shards").encode())
    rows = {}
    for config, pattern in CONFIGS.items():
        folder, name_glob = pattern.split("/")
        infos = store.fs.get_file_info(pafs.FileSelector(store.path(folder), allow_not_found=True))
        rows[config] = 0
        for info in sorted(infos, key=lambda info: info.base_name):
            if info.type != pafs.FileType.File or not fnmatch(info.base_name, name_glob):
                continue
            count = pq.read_metadata(info.path, filesystem=store.fs).num_rows
            rows[config] += count
            digest.update(f"{folder}/{info.base_name} {info.size} {count}\n".encode())
    return FolderContent(rows, digest.hexdigest())


def dataset_card(manifest: Manifest, spec: TaskSpec, content: FolderContent) -> str:
    """README.md text: YAML front matter (configs with the content digest, features, task category) and a summary
    of how the set was made (task, strategy, model, counts, inputs and their licences)."""
    datasets = require("datasets")
    info = datasets.DatasetInfo(features=example_features(spec))._to_yaml_dict()
    configs = [{"config_name": name, "data_files": pattern, **({"default": True} if name == "examples" else {}),
                "description": f"{name} of a ClinGen run: {content.rows[name]} rows, shards sha256 {content.digest}"}
               for name, pattern in CONFIGS.items()]
    front = {"configs": configs,
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
            "```python", "from datasets import load_dataset", *_loading_lines(content), "```", "",
            f"Rows without an example, by their first reason: {rejected or 'none'}. Generator usage: "
            f"{manifest_usage(manifest).text()}. `manifest.json` holds the "
            "full config, token counts and every run; the reasons are documented in ClinGen's README.", "",
            "## Inputs and their licences", *_inputs(manifest, spec)]
    return "---\n" + yaml.safe_dump(front, sort_keys=False, allow_unicode=True) + "---\n\n" + "\n".join(body) + "\n"


def write_card(store, manifest: Manifest, spec: TaskSpec) -> str:
    """Write README.md into a generation folder (an OutputStore) beside its manifest, for the shards it holds
    now; returns its path. Every command that writes or changes the shards calls it last."""
    path = store.path("README.md")
    store.write_bytes(path, dataset_card(manifest, spec, folder_content(store)).encode())
    return path


def _loading_lines(content: FolderContent) -> list[str]:
    """The card's loading snippet. A configuration without rows is loaded streaming: datasets refuses to read a
    split without rows (EMPTY_SPLIT_ISSUE), while streaming gives the empty set with its features."""
    what = {"examples": ("", "the default configuration"), "failures": (', "failures"', "every rejected reply, "
                                                                       "with its reason")}
    lines = []
    for name, (argument, meaning) in what.items():
        rows = content.rows[name]
        if rows:
            lines.append(f'{name} = load_dataset("path/to/this/folder"{argument})  # {meaning}: {rows} rows')
        else:
            lines += [f"# no {name} in this folder; datasets cannot load a split without rows ({EMPTY_SPLIT_ISSUE})",
                      f'{name} = load_dataset("path/to/this/folder"{argument}, streaming=True)  # empty, '
                      "with its features"]
    return lines


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
