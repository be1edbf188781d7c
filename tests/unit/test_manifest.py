"""The generation manifest as a typed record: the writer and every reader share one schema, old manifests
still load, and a manifest this version cannot read fails naming the key."""

import json

import pytest

from clingen.config import load_config
from clingen.datasets.records import schema_for
from clingen.errors import ConfigError
from clingen.generation.job import RunCounters
from clingen.runfolder.manifest import Manifest, ManifestCounts, ReparseEntry, build_manifest
from clingen.runfolder.store import OutputStore
from clingen.tasks.registry import get_task

pytestmark = pytest.mark.unit

CONFIG = load_config(overrides=["task=ncbi-disease", "generation.n=4"])


def committed_store(tmp_path) -> OutputStore:
    store = OutputStore(str(tmp_path / "run"))
    failures = [{"row_id": row, "reason": reason, "detail": "", "raw": "", "step": 1, "reply_record": None}
                for row, reason in ((0, "too_short"), (1, "too_short"), (2, "exact_duplicate"))]
    store.commit(0, schema_for("ner").empty_table(), failures, [0, 1, 2], 30, 12,
                 {"too_short": 2, "exact_duplicate": 1}, {"unknown_label": 1})
    return store


def test_the_manifest_counts_the_committed_shards_and_round_trips(tmp_path):
    store = committed_store(tmp_path)
    run = RunCounters(rows=3, examples=0, prompt_tokens=30, completion_tokens=12)
    manifest = build_manifest(CONFIG, get_task("ncbi-disease"), store.scan(), run, "smol", 2.345, None)
    assert manifest.counts == ManifestCounts(
        prompts=4, rows_done=3, examples=0, parse_failures=2, parse_failures_by_reason={"too_short": 2},
        duplicates=1, duplicates_by_reason={"exact_duplicate": 1, "near_duplicate": 0}, generation_errors=0,
        rejected_rows=3, rejected_rows_by_reason={"exact_duplicate": 1, "too_short": 2},
        rejected_mentions_by_reason={"unknown_label": 1})
    assert manifest.complete is False and manifest.wall_time_s == 2.35 and manifest.runs[0].rows == 3
    assert (manifest.tokens.prompt, manifest.tokens.completion) == (30, 12)
    store.write_manifest(manifest)
    assert store.read_manifest() == manifest
    written = json.loads((tmp_path / "run" / "manifest.json").read_text())
    # A generation run's manifest holds no filtering or legacy keys.
    assert not {"filter", "filtered_from", "config_hash"} & set(written) and "set_aside" not in written["counts"]
    assert written["fingerprint"] == CONFIG.dataset_fingerprint() and written["runs"][0]["wall_s"] == 2.35


def test_a_resumed_run_keeps_the_earlier_runs_and_reparses(tmp_path):
    store = committed_store(tmp_path)
    first = build_manifest(CONFIG, get_task("ncbi-disease"), store.scan(), RunCounters(rows=3), "smol", 1.0, None)
    entry = ReparseEntry(finished_at="2026-01-01T00:00:00Z", clingen_version="x", wall_s=0.5,
                         previous_version="versions/1", counts_before=first.counts, changes={"kept": 3})
    reparsed = first.model_copy(update={"reparses": [entry]})
    second = build_manifest(CONFIG, get_task("ncbi-disease"), store.scan(), RunCounters(), "smol", 4.0, reparsed)
    assert [r.wall_s for r in second.runs] == [1.0, 4.0] and second.wall_time_s == 5.0
    assert second.reparses[0].changes == {"kept": 3}


def test_a_manifest_from_before_fingerprints_and_rejection_counts_still_loads(tmp_path):
    old = json.loads(build_manifest(CONFIG, get_task("ncbi-disease"), committed_store(tmp_path).scan(), None,
                                    "smol", 0.0, None).to_json())
    old["config_hash"] = old.pop("fingerprint")
    for key in ("rejected_rows", "rejected_rows_by_reason", "rejected_mentions_by_reason"):
        del old["counts"][key]
    del old["set_aside"], old["reparses"]
    manifest = Manifest.from_json(json.dumps(old), "old/manifest.json")
    assert manifest.fingerprint is None and manifest.config_hash == old["config_hash"]
    assert manifest.counts.rejected_rows == 0 and manifest.set_aside == [] and manifest.reparses == []


@pytest.mark.parametrize("change, named", [
    (lambda m: m.update(written_by_a_newer_clingen=1), "written_by_a_newer_clingen: Extra inputs are not permitted"),
    (lambda m: m["counts"].update(rows_done="many"), "counts.rows_done: Input should be a valid integer"),
    (lambda m: m.pop("task"), "task: Field required"),
])
def test_a_manifest_this_version_cannot_read_names_the_key(tmp_path, change, named):
    store = committed_store(tmp_path)
    data = json.loads(build_manifest(CONFIG, get_task("ncbi-disease"), store.scan(), None, "m", 0.0, None).to_json())
    change(data)
    (tmp_path / "run" / "manifest.json").write_text(json.dumps(data))
    with pytest.raises(ConfigError, match=rf"run/manifest.json is not a manifest this ClinGen \(.*\) can read: "
                                          rf"{named}"):
        store.read_manifest()


def test_a_manifest_that_is_not_json_is_named(tmp_path):
    store = committed_store(tmp_path)
    (tmp_path / "run" / "manifest.json").write_text('{"task": ')
    with pytest.raises(ConfigError, match=r"run/manifest.json is not valid JSON .*; expected a ClinGen manifest"):
        store.read_manifest()


def test_the_training_run_name_digest_is_unchanged_by_the_typed_manifest(tmp_path):
    # The markers, not the manifest, carry the digest: rewriting the manifest leaves it alone.
    store = committed_store(tmp_path)
    before = store.committed_digest()
    store.write_manifest(build_manifest(CONFIG, get_task("ncbi-disease"), store.scan(), None, "m", 0.0, None))
    assert store.committed_digest() == before
