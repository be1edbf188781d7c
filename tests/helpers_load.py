"""Loading a run folder as a user does: `datasets.load_dataset(<folder>)` and `(<folder>, "failures")` with the
default cache (no `download_mode`, no `cache_dir`), in a cache kept out of ~/.cache, checked against the rows the
folder's shard files hold."""

from __future__ import annotations

import atexit
import shutil
import tempfile
from contextlib import contextmanager
from fnmatch import fnmatch
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from clingen.runfolder.card import CONFIGS, example_features
from clingen.runfolder.store import FAILURE_SCHEMA, OutputStore
from clingen.tasks.registry import get_task

_PROCESS_CACHE: list[Path] = []


def process_cache() -> Path:
    """One cache for every call of assert_loads_as_folder in a process, so a second load of a changed folder meets
    the first load's cache entry, as a user's would; removed when the process exits."""
    if not _PROCESS_CACHE:
        _PROCESS_CACHE.append(Path(tempfile.mkdtemp(prefix="clingen-hf-cache-")))
        atexit.register(shutil.rmtree, _PROCESS_CACHE[0], ignore_errors=True)
    return _PROCESS_CACHE[0]


@contextmanager
def isolated_hf_cache(root: Path):
    """HF_HOME and HF_DATASETS_CACHE under `root`: the environment for subprocesses and datasets.config (which
    read them once, at import) for this one; restored on exit."""
    import datasets.config as hf
    root = Path(root)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HF_HOME", str(root))
        patch.setenv("HF_DATASETS_CACHE", str(root / "datasets"))
        patch.setattr(hf, "HF_CACHE_HOME", str(root))
        patch.setattr(hf, "HF_DATASETS_CACHE", root / "datasets")
        patch.setattr(hf, "HF_MODULES_CACHE", root / "modules")
        patch.setattr(hf, "DOWNLOADED_DATASETS_PATH", root / "datasets" / hf.DOWNLOADED_DATASETS_DIR)
        patch.setattr(hf, "EXTRACTED_DATASETS_PATH",
                      root / "datasets" / hf.DOWNLOADED_DATASETS_DIR / hf.EXTRACTED_DATASETS_DIR)
        yield root


def folder_rows(out: str | Path, config: str) -> list[dict]:
    """The rows of the files the configuration's glob matches, in datasets' order (sorted file names)."""
    folder, name_glob = CONFIGS[config].split("/")
    files = sorted(p for p in (Path(out) / folder).iterdir() if fnmatch(p.name, name_glob))
    return [row for path in files for row in pq.read_table(path).to_pylist()]


def expected_features(out: str | Path, config: str):
    """The features a configuration must load with: the card's for the examples, the failure schema's else."""
    import datasets
    if config == "failures":
        return datasets.Features.from_arrow_schema(FAILURE_SCHEMA)
    manifest = OutputStore.open_run(str(out)).read_manifest()
    return example_features(get_task(manifest.task, manifest.config.get("task_file")))


def load_rows(out: str | Path, config: str) -> tuple[list[dict], object]:
    """`load_dataset(out)` (or `(out, "failures")`) as the card says: ClassLabel values read back as their names,
    and the features. A configuration without rows loads streaming, as the card tells (datasets cannot read an
    empty split otherwise)."""
    import datasets
    name = None if config == "examples" else config
    if folder_rows(out, config):
        loaded = datasets.load_dataset(str(out), name)["train"]
    else:
        loaded = datasets.load_dataset(str(out), name, streaming=True)["train"]
    return [_names(row, loaded.features) for row in loaded], loaded.features


def assert_loads_as_folder(out: str | Path, cache: Path | None = None) -> None:
    """Both configurations load, with the default cache (`cache`, else one per process), exactly as the folder's
    shard files hold them now."""
    with isolated_hf_cache(cache or process_cache()):
        for config in CONFIGS:
            rows, features = load_rows(out, config)
            assert features == expected_features(out, config), config
            assert rows == folder_rows(out, config), f"{out} {config}: loaded {len(rows)} rows"


def _names(row: dict, features) -> dict:
    """Values of ClassLabel features (and lists of them) as their names, the way the shard files store them."""
    import datasets
    named = dict(row)
    for column, feature in features.items():
        inner = getattr(feature, "feature", None)
        if isinstance(feature, datasets.ClassLabel) and row[column] is not None:
            named[column] = feature.int2str(row[column])
        elif isinstance(inner, datasets.ClassLabel) and row[column] is not None:
            named[column] = [inner.int2str(value) for value in row[column]]
    return named
