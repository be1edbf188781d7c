"""Datasets stage output (datasets -> users' own training code): `clingen export` writes a generation run's
examples (or its failures) as one JSONL file, one Parquet file, or a Hugging Face `datasets` folder
(`save_to_disk`) whose labels are ClassLabel features, the same ones the run's dataset card declares."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pyarrow as pa
import pyarrow.parquet as pq

from clingen._imports import require
from clingen.config import config_from_dict
from clingen.datasets.card import example_features
from clingen.datasets.records import schema_for
from clingen.errors import ConfigError
from clingen.generation.store import OutputStore
from clingen.tasks.registry import get_task

ExportFormat = Literal["jsonl", "parquet", "hf"]
FORMATS: tuple[str, ...] = ("jsonl", "parquet", "hf")


@dataclass(frozen=True)
class ExportReport:
    out: Path
    format: str
    rows: int
    which: str  # "examples" or "failures"


def export_run(run: str, fmt: ExportFormat, out: Path, failures: bool = False) -> ExportReport:
    """Write the examples of the `clingen generate` folder (or URI) `run` (with `failures`, its failure records
    instead) to `out`: jsonl (one JSON object per line), parquet (one file), or hf (a `datasets` folder, labels as
    ClassLabel). Raises ConfigError for an unknown format, a `run` that is not a generation folder, or an `out`
    that exists (nothing is overwritten)."""
    if fmt not in FORMATS:
        raise ConfigError(f"export format {fmt!r}; expected one of {list(FORMATS)}")
    out = Path(out)
    if out.exists():
        raise ConfigError(f"{out} exists; `clingen export` writes a new file or folder and replaces nothing")
    store = OutputStore.open_run(run)
    config = config_from_dict(store.read_manifest().config, where=f" recorded in {run}", recorded=True)
    spec = get_task(config.task, config.task_file)
    table = store.read_failures() if failures else (store.read_examples() or schema_for(spec.family).empty_table())
    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "jsonl":
        with out.open("w", encoding="utf-8") as handle:
            for row in table.to_pylist():
                handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    elif fmt == "parquet":
        pq.write_table(table, out, compression="zstd")
    else:
        _save_hf(table, None if failures else example_features(spec), out)
    return ExportReport(out, fmt, table.num_rows, "failures" if failures else "examples")


def _save_hf(table: pa.Table, features, out: Path) -> None:
    datasets = require("datasets")
    dataset = datasets.Dataset(table) if features is None else datasets.Dataset(table).cast(features)
    dataset.save_to_disk(str(out))


