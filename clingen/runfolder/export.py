"""The run folder's way out (run folder -> users' own training code): `clingen export` writes a generation run's
examples (or its failures) as one JSONL file, one Parquet file, or a Hugging Face `datasets` folder
(`save_to_disk`) whose labels are ClassLabel features, the same ones the run's dataset card declares.

The run is read as every reader reads it (checked against its markers and manifest). The output is created,
never replaced: an existing path is refused, also when another export creates it at the same moment. An
output inside a run folder writes that folder, so the export holds its writer lock, and the folders ClinGen
keeps there (data/, failures/, progress/, versions/, set_aside/) are refused: a file there would be one no
marker accounts for."""

from __future__ import annotations

import contextlib
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pyarrow as pa
import pyarrow.parquet as pq

from clingen._imports import require
from clingen.config import config_from_dict
from clingen.datasets.records import schema_for
from clingen.errors import ConfigError
from clingen.runfolder.card import example_features
from clingen.runfolder.folder_check import SHARD_FOLDERS
from clingen.runfolder.lock import LOCK_FILES
from clingen.runfolder.manifest import MANIFEST_FILE
from clingen.runfolder.store import SET_ASIDE, STAGING, OutputStore, writing
from clingen.tasks.registry import get_task

ExportFormat = Literal["jsonl", "parquet", "hf"]
FORMATS: tuple[str, ...] = ("jsonl", "parquet", "hf")
# What ClinGen keeps in a run folder: an export written there would be a file nothing accounts for.
KEPT_IN_A_RUN = (*SHARD_FOLDERS, "versions", SET_ASIDE, STAGING, MANIFEST_FILE, "README.md", *LOCK_FILES)


@dataclass(frozen=True)
class ExportReport:
    out: Path
    format: str
    rows: int
    which: str  # "examples" or "failures"


def export_run(run: str, fmt: ExportFormat, out: Path, failures: bool = False, wait: bool = False) -> ExportReport:
    """Write the examples of the `clingen generate` folder (or URI) `run` (with `failures`, its failure records
    instead) to `out`: jsonl (one JSON object per line), parquet (one file), or hf (a `datasets` folder, labels as
    ClassLabel). Raises ConfigError for an unknown format, a `run` that is not a generation folder, an `out`
    that exists (nothing is overwritten) or lies in a folder ClinGen keeps in a run; DataFormatError for a run
    that is not as its markers record; FolderBusy when `out` lies in a run folder another command writes
    (`wait`: wait for it)."""
    if fmt not in FORMATS:
        raise ConfigError(f"export format {fmt!r}; expected one of {list(FORMATS)}")
    out = Path(out)
    if out.exists():
        raise ConfigError(f"{out} exists; `clingen export` writes a new file or folder and replaces nothing")
    store = OutputStore.open_run(run)
    holder = run_folder_around(out)
    with writing(str(holder), "clingen export", wait=wait) if holder else contextlib.nullcontext():
        config = config_from_dict(store.read_manifest().config, where=f" recorded in {run}", recorded=True)
        spec = get_task(config.task, config.task_file)
        table = store.read_failures() if failures else (store.read_examples() or schema_for(spec.family).empty_table())
        out.parent.mkdir(parents=True, exist_ok=True)
        _write_new(table, fmt, out, None if failures or fmt != "hf" else example_features(spec))
    return ExportReport(out, fmt, table.num_rows, "failures" if failures else "examples")


def run_folder_around(out: Path) -> Path | None:
    """The run folder (one holding manifest.json or a ClinGen lock) that `out` would be written into, or None;
    ConfigError when `out` lies in a folder ClinGen keeps there."""
    out = out.absolute()
    for folder in out.parents:
        if any((folder / name).is_file() for name in (MANIFEST_FILE, *LOCK_FILES)):
            first = out.relative_to(folder).parts[0]
            if first in KEPT_IN_A_RUN:
                raise ConfigError(f"{out} lies in {folder / first}, which ClinGen keeps in the run folder {folder}: "
                                  f"a file there would be one no progress marker accounts for; expected a path "
                                  f"outside {', '.join(KEPT_IN_A_RUN[:5])}")
            return folder
    return None


def _write_new(table: pa.Table, fmt: str, out: Path, features) -> None:
    """`table` as a new `out`, created exclusively; what this call created is removed again if it fails."""
    try:
        if fmt == "hf":
            out.mkdir()
        else:
            out.open("xb").close()
    except FileExistsError:
        raise ConfigError(f"{out} exists; `clingen export` writes a new file or folder and replaces nothing") from None
    try:  # `out` is this call's own from here on
        if fmt == "jsonl":
            with out.open("w", encoding="utf-8") as handle:
                for row in table.to_pylist():
                    handle.write(json.dumps(row, ensure_ascii=False) + "\n")
        elif fmt == "parquet":
            pq.write_table(table, out, compression="zstd")
        else:
            _save_hf(table, features, out)
    except BaseException:
        shutil.rmtree(out) if out.is_dir() else out.unlink(missing_ok=True)
        raise


def _save_hf(table: pa.Table, features, out: Path) -> None:
    datasets = require("datasets")
    dataset = datasets.Dataset(table) if features is None else datasets.Dataset(table).cast(features)
    dataset.save_to_disk(str(out))
