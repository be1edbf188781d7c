"""The resume contract of a generation folder, checked before Ray starts: one fingerprint per folder (scale
settings may change), n may grow but not shrink below what is there, and shards without a manifest are refused."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pytest

from clingen.config import load_config
from clingen.datasets.records import schema_for
from clingen.errors import ConfigError
from clingen.generation.job import run_generation
from clingen.runfolder.manifest import build_manifest
from clingen.runfolder.store import OutputStore
from clingen.tasks.registry import get_task

pytestmark = pytest.mark.unit


def folder_with_rows(tmp_path, rows: int, *settings: str, manifest: bool = True):
    """A generation folder whose first `rows` rows are done (no examples kept), as a run with `settings` left it."""
    out = str(tmp_path / "run")
    config = load_config(overrides=[f"generation.out={out}", f"generation.n={rows}", *settings])
    store = OutputStore(out)
    store.commit(0, pa.Table.from_pylist([], schema=schema_for("ner")),
                 [{"row_id": r, "reason": "too_short", "detail": "", "raw": "", "step": 1} for r in range(rows)],
                 list(range(rows)), 10, 5, {"too_short": rows}, {})
    if manifest:
        store.write_manifest(build_manifest(config, get_task(config.task), store.scan(), None, "m", 0.0, None))
    return out


def test_shards_without_a_manifest_are_refused(tmp_path):
    out = folder_with_rows(tmp_path, 8, manifest=False)
    with pytest.raises(ConfigError, match=r"holds 8 generated rows but no manifest.json"):
        run_generation(load_config(overrides=[f"generation.out={out}", "generation.n=8"]))


def test_another_dataset_is_refused_naming_the_settings_that_differ(tmp_path):
    out = folder_with_rows(tmp_path, 8)
    with pytest.raises(ConfigError, match=r"settings that differ: prompts.n_demos, seed\)"):
        run_generation(load_config(overrides=[f"generation.out={out}", "generation.n=8", "seed=1",
                                              "prompts.n_demos=1"]))


def test_a_smaller_n_than_the_folder_holds_is_refused(tmp_path):
    out = folder_with_rows(tmp_path, 8)
    with pytest.raises(ConfigError, match=r"already holds 8 rows, up to row 7; generation.n=5 is smaller: give "
                                          r"--n 8 or more"):
        run_generation(load_config(overrides=[f"generation.out={out}", "generation.n=5"]))


def test_scale_settings_may_change_between_runs(tmp_path):
    out = folder_with_rows(tmp_path, 8, "generator.replicas=1", "generator.batch_size=16")
    report = run_generation(load_config(overrides=[
        f"generation.out={out}", "generation.n=8", "generator.replicas=6", "generator.batch_size=4",
        "generation.shard_rows=2", "generator.max_concurrent_batches=1", "cluster.num_cpus=64"]))
    assert report.complete and report.manifest.counts.rows_done == 8
    assert report.manifest.runs[-1].rows == 0  # nothing to generate: Ray was not needed


def test_a_manifest_written_before_fingerprints_is_matched_by_its_recorded_config(tmp_path):
    out = folder_with_rows(tmp_path, 8)
    store = OutputStore(out)
    manifest = store.read_manifest()
    # A hash computed under the old rules, under the old key.
    store.write_manifest(manifest.model_copy(update={"config_hash": manifest.fingerprint[::-1], "fingerprint": None}))
    assert "fingerprint" not in json.loads((Path(out) / "manifest.json").read_text())
    assert run_generation(load_config(overrides=[f"generation.out={out}", "generation.n=8"])).complete
