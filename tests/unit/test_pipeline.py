"""Tests of the pipeline's orchestration: step keys, skipping, caching, failure and resume (step bodies
injected; the real steps run in tests/integration/test_pipeline.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from clingen.config import PIPELINE_STEPS, load_config
from clingen.errors import ConfigError
from clingen.pipeline.run import ordered_steps, run_pipeline
from clingen.pipeline.steps import STEPS, fewshot_split_path, step_key, real_test_split, topic_entity_type
from clingen.tasks.registry import get_task

pytestmark = pytest.mark.unit
# generate's key changed deliberately once since: with no config the embedded generator now runs with its
# recommended settings (config.MODEL_RECOMMENDED: no demonstrations, label completion), so the rows differ;
# before, such a run kept about 0 rows. Its key with the old settings spelt out is still the old one (below).
KEYS_AT_4B2D63C = {"styles": "36533020546f", "topics": "fd900a615c23", "generate": "6f73c25cfdbf",
                   "quality": "e6606088de64", "filter": "279ffa056dd8", "train": "15a7f8dcc6e9",
                   "evaluate": "425d1feeb9cd", "deploy": "658cc4abb952"}


def config_at(tmp_path: Path, *overrides: str):
    return load_config(None, [f"pipeline.out={tmp_path / 'pipe'}", *overrides])


class Recorder:
    """Step bodies that record their calls, write a file, and fail on demand."""

    def __init__(self, fail: set[str] = frozenset()):
        self.calls, self.fail = [], set(fail)

    def functions(self) -> dict:
        return {name: self._step(name) for name in ("styles", "topics", "generate", "quality", "train",
                                                     "evaluate", "deploy")}

    def _step(self, name):
        def body(ctx):
            self.calls.append((name, ctx))
            if name in self.fail:
                raise RuntimeError(f"{name} broke")
            (ctx.folder / "out.txt").write_text(name)
            if name == "styles":
                return {"styles_file": str(ctx.folder / "out.txt")}
            return {"data": str(ctx.folder)} if name == "generate" else {"primary": {"name": "f1", "value": 0.5}}
        return body


def test_steps_run_in_flow_order_and_unneeded_ones_are_skipped_with_a_reason(tmp_path):
    assert ordered_steps(["evaluate", "generate", "styles"]) == ["styles", "generate", "evaluate"]
    recorder = Recorder()
    report = run_pipeline(config_at(tmp_path), log=lambda _: None, step_functions=recorder.functions())
    assert [(s.name, s.status) for s in report.steps] == [
        ("styles", "ran"), ("topics", "skipped"), ("generate", "ran"), ("quality", "ran"), ("train", "ran"),
        ("evaluate", "ran")]
    assert "clingen-kg" in report.steps[1].reason
    # generation runs with the proposed styles file and writes into its own keyed folder
    generate_ctx = dict(recorder.calls)["generate"]
    assert generate_ctx.config.prompts.styles_file == Path(report.steps[0].folder) / "out.txt"
    assert generate_ctx.config.generation.out == report.steps[2].folder
    assert json.loads((tmp_path / "pipe" / "pipeline.json").read_text())["steps"][-1]["status"] == "ran"


def test_a_rerun_reuses_finished_steps_and_a_failure_resumes_at_the_failed_step(tmp_path):
    first = Recorder(fail={"train"})
    report = run_pipeline(config_at(tmp_path), log=lambda _: None, step_functions=first.functions())
    assert report.failed.name == "train" and "train broke" in report.failed.reason
    assert [name for name, _ in first.calls] == ["styles", "generate", "quality", "train"]  # stopped there
    assert not (Path(report.failed.folder) / "step.json").exists()
    # The one-line reason names the file that keeps the traceback, outside the step's folder.
    trace = Path(report.failed.reason.split("(traceback: ")[1].rstrip(")"))
    assert trace.parent == tmp_path / "pipe" / "errors" and trace.name.startswith(Path(report.failed.folder).name)
    assert 'raise RuntimeError(f"{name} broke")' in trace.read_text() and "RuntimeError: train broke" in trace.read_text()

    second = Recorder()
    report = run_pipeline(config_at(tmp_path), log=lambda _: None, step_functions=second.functions())
    assert [name for name, _ in second.calls] == ["train", "evaluate"]
    assert [s.status for s in report.steps if s.name in ("styles", "generate", "quality")] == ["cached"] * 3
    assert report.outputs("evaluate")["primary"]["value"] == 0.5


def test_changing_training_keeps_the_generation_and_changing_generation_redoes_training(tmp_path):
    base = config_at(tmp_path)
    keys = lambda config: {n: step_key(n, config, {}) for n in ("styles", "generate", "train")}  # noqa: E731
    original = keys(base)
    trained_longer = keys(config_at(tmp_path, "training.epochs=9"))
    assert trained_longer["generate"] == original["generate"] and trained_longer["styles"] == original["styles"]
    assert trained_longer["train"] != original["train"]
    assert keys(config_at(tmp_path, "generation.n=7"))["generate"] != original["generate"]
    assert step_key("train", base, {"generate": "a"}) != step_key("train", base, {"generate": "b"})
    # How many checkpoints Ray Train keeps does not change the model: the finished step stays valid.
    assert keys(config_at(tmp_path, "training.keep_checkpoints=5")) == original

    recorder = Recorder()
    run_pipeline(base, log=lambda _: None, step_functions=recorder.functions())
    recorder.calls.clear()
    run_pipeline(config_at(tmp_path, "training.epochs=9"), log=lambda _: None, step_functions=recorder.functions())
    assert [name for name, _ in recorder.calls] == ["train", "evaluate"]


def test_strategy_decides_which_proposal_steps_are_needed():
    assert STEPS["topics"].unused(load_config(None, ["prompts.strategy=clingen-llm"])) is None
    assert STEPS["styles"].unused(load_config(None, ["prompts.strategy=zero-shot"])) == \
        "strategy zero-shot uses no styles"
    assert STEPS["generate"].unused(load_config(None, ["prompts.strategy=few-shot"])) is None


def test_each_step_is_described_once_in_flow_order_with_upstream_steps_before_it():
    assert tuple(STEPS) == PIPELINE_STEPS  # the config's vocabulary is the table's, in the same order
    for position, step in enumerate(STEPS.values()):
        assert all(list(STEPS).index(u) < position for u in step.upstream), step.name
        assert step.summary and callable(step.run)
    assert [s.name for s in STEPS.values() if not s.cacheable] == ["deploy"]
    assert [s.name for s in STEPS.values() if s.is_generation] == ["generate"]


def test_step_keys_are_those_of_earlier_releases_so_finished_runs_stay_reused():
    # Keys recorded before the steps were described in one table (commit 4b2d63c): a change here makes every
    # user's finished steps run again, so it must be deliberate.
    config = load_config(None, ["pipeline.out=/tmp/pipe"])
    keys = {name: step_key(name, config, {"generate": "abc"} if name == "train" else {}) for name in STEPS}
    assert keys == KEYS_AT_4B2D63C
    spelt_out = load_config(None, ["pipeline.out=/tmp/pipe", "prompts.n_demos=3", "generation.ner_label_completion=false"])
    assert step_key("generate", spelt_out, {}) == "79a2f4106f58"


def test_default_inputs_are_the_tasks_shipped_splits_and_missing_ones_are_named(tmp_path):
    ncbi = get_task("ncbi-disease")
    config = load_config(None)
    assert real_test_split(config, ncbi).name == "ncbi-disease.test.tsv"
    assert fewshot_split_path(config, ncbi).name == "ncbi-disease.jsonl"
    assert topic_entity_type(config, ncbi) == "disease"
    assert topic_entity_type(config, get_task("gad")) == "disease"
    with pytest.raises(ConfigError, match="task hoc ships no test split; set pipeline.test_path"):
        real_test_split(load_config(None, ["task=hoc"]), get_task("hoc"))
    with pytest.raises(ConfigError, match="pipeline.test_path .*nowhere.tsv does not exist"):
        real_test_split(load_config(None, [f"pipeline.test_path={tmp_path / 'nowhere.tsv'}"]), ncbi)


def test_unknown_steps_are_rejected_with_the_allowed_names():
    with pytest.raises(ConfigError, match="pipeline.steps.0"):
        load_config(None, ["pipeline.steps=[generat]"])


def test_cached_only_runs_nothing_and_names_the_first_unfinished_step(tmp_path):
    first = Recorder(fail={"train"})
    run_pipeline(config_at(tmp_path), log=lambda _: None, step_functions=first.functions())
    recorder = Recorder()
    report = run_pipeline(config_at(tmp_path), log=lambda _: None, step_functions=recorder.functions(),
                          cached_only=True)
    assert recorder.calls == []
    assert [(s.name, s.status) for s in report.steps][-2:] == [("quality", "cached"), ("train", "not run")]
    assert report.failed is None


def test_a_step_record_round_trips_and_a_broken_one_is_named(tmp_path):
    from clingen.pipeline.run import DONE_FILE, StepRecord, read_done
    record = StepRecord("generate", "79a2f4106f58", "2026-12-04T00:00:00Z", 12.5, {"examples": 3, "out": "x"})
    record.write(tmp_path)
    assert StepRecord.read(tmp_path) == record
    assert read_done(tmp_path, "79a2f4106f58") == {"examples": 3, "out": "x"}
    assert read_done(tmp_path, "another-key") is None  # a result under another key is not reused
    assert StepRecord.read(tmp_path / "missing") is None
    (tmp_path / DONE_FILE).write_text(json.dumps({"step": "generate", "key": "k"}))  # cut off
    with pytest.raises(ValueError, match=r"step\.json is not a step record .*'finished_at'"):
        StepRecord.read(tmp_path)


def test_the_training_run_is_named_after_the_exact_synthetic_set(tmp_path):
    # A regenerated set under the same step key must not resume the old set's Ray Train checkpoints.
    from clingen.pipeline.steps import training_data_digest
    run = tmp_path / "generate-79a2f4106f58"
    (run / "progress").mkdir(parents=True)
    assert training_data_digest(str(run)) is None and training_data_digest(None) is None  # nothing committed
    marker = {"rows": [0, 1], "examples": 2, "failures": {}, "files": {"data": {"sha256": "aa", "rows": 2}}}
    (run / "progress" / "part-000000.json").write_text(json.dumps(marker))
    first = training_data_digest(str(run))
    assert len(first) == 12 and training_data_digest(str(run)) == first  # stable for the same shards
    marker["files"]["data"]["sha256"] = "bb"  # the same rows, regenerated
    (run / "progress" / "part-000000.json").write_text(json.dumps(marker))
    assert training_data_digest(str(run)) != first


def test_a_set_rechecked_under_the_same_key_redoes_the_steps_made_from_it(tmp_path):
    # `clingen reparse` rewrites a finished set's shards, not its config: the step keys stay, the data changes.
    class WritesShards(Recorder):
        def _step(self, name):
            body = super()._step(name)

            def with_marker(ctx):
                produced = body(ctx)
                marker = ctx.folder / "progress" / "part-000000.json"
                if name == "generate" and not marker.exists():  # a finished run is not written again
                    marker.parent.mkdir(exist_ok=True)
                    marker.write_text(json.dumps({"rows": [0], "files": {"data": {"sha256": "aa"}}}))
                return produced
            return with_marker

    first = WritesShards()
    report = run_pipeline(config_at(tmp_path), log=lambda _: None, step_functions=first.functions())
    generated = Path(report.steps[2].folder)
    assert set(json.loads((Path(report.steps[4].folder) / "step.json").read_text())["data"]) == {"generate"}
    again = WritesShards()
    run_pipeline(config_at(tmp_path), log=lambda _: None, step_functions=again.functions())
    assert again.calls == []  # the same data: everything is reused
    (generated / "progress" / "part-000000.json").write_text(json.dumps({"rows": [0], "files": {"data": {
        "sha256": "bb"}}}))
    lines, after = [], WritesShards()
    run_pipeline(config_at(tmp_path), log=lines.append, step_functions=after.functions())
    assert [name for name, _ in after.calls] == ["generate", "quality", "train", "evaluate"]  # styles: reused
    assert any("[train] the data of generate changed since it finished" in line for line in lines)


def test_a_step_record_from_before_data_digests_is_trusted_as_it_is(tmp_path):
    from clingen.pipeline.run import DONE_FILE, StepRecord, read_done
    (tmp_path / DONE_FILE).write_text(json.dumps({"step": "train", "key": "k", "finished_at": "t", "wall_s": 1.0,
                                                  "outputs": {"model": "m"}}))
    assert StepRecord.read(tmp_path).data == {}
    assert read_done(tmp_path, "k", {"generate": "anything"}) == {"model": "m"}


def test_a_setting_added_later_changes_the_fingerprint_only_away_from_its_default():
    base = load_config(None)
    assert "hard_negatives" not in base.hashed_dump()["prompts"]  # so finished runs keep their keys
    assert load_config(None, ["prompts.hard_negatives=0"]).config_hash() == base.config_hash()
    changed = load_config(None, ["prompts.hard_negatives=1"])
    assert changed.config_hash() != base.config_hash() and changed.hashed_dump()["prompts"]["hard_negatives"] == 1
