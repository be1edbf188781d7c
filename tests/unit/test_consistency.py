"""Consistency filtering (the pipeline's filter step and the experiment's clingen-kg-filtered method): which
synthetic examples a few-shot model contradicts, the filtered run folder, and the gains table."""

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from clingen.config import load_config
from clingen.datasets.records import RelationExample
from clingen.experiment.grid import build_cells, load_experiment
from clingen.experiment.results import gains, gains_table
from clingen.parsing.consistency import contradiction, filter_synthetic_set
from clingen.pipeline.steps import STEPS
from clingen.runfolder.manifest import build_manifest
from clingen.runfolder.store import OutputStore
from clingen.tasks.registry import get_task

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("labels, scores, multi, expected", [
    (["Has_relation"], {"Has_relation": 0.04, "No_relation": 0.96}, False,
     "label Has_relation, the few-shot model gives No_relation p=0.96"),
    (["Has_relation"], {"Has_relation": 0.15, "No_relation": 0.85}, False, None),  # unsure: kept
    (["Has_relation"], {"Has_relation": 0.97, "No_relation": 0.03}, False, None),  # agrees
    (["a", "b"], {"a": 0.95, "b": 0.05, "c": 0.9}, True, "the few-shot model is sure these are absent: b p=0.05"),
    (["a"], {"a": 0.2, "b": 0.99}, True, None),  # multi-label: another label present contradicts nothing
])
def test_contradiction(labels, scores, multi, expected):
    assert contradiction(labels, scores, multi, 0.9) == expected


def test_a_label_the_model_does_not_know_is_an_error():
    with pytest.raises(ValueError, match=r"labels \['Maybe'\] are not among"):
        contradiction(["Maybe"], {"Has_relation": 0.5, "No_relation": 0.5}, False, 0.9)


class ScoresByText:
    """A predictor interface stand-in: classify_records gives fixed scores per text (the real Predictor needs a
    trained model; the filter's own logic is what is tested here)."""

    family, multi_label = "relation", False

    def __init__(self, scores: dict[str, dict[str, float]]):
        self.scores = scores

    def classify_records(self, records):
        return [{"scores": self.scores[r.text]} for r in records]


def test_filtering_writes_a_run_folder_training_reads(tmp_path):
    source = OutputStore(str(tmp_path / "run"))
    import pyarrow as pa
    from clingen.datasets.records import schema_for
    rows = [RelationExample(f"gad-{i}", text, label, provenance=None).to_row() | {"row_id": i}
            for i, (text, label) in enumerate([("@GENE$ causes @DISEASE$.", "Has_relation"),
                                               ("@GENE$ is unrelated to @DISEASE$.", "Has_relation"),
                                               ("@GENE$ and @DISEASE$ were studied.", "No_relation")])]
    source.commit(0, pa.Table.from_pylist(rows, schema=schema_for("relation")), [], [0, 1, 2, 3], 10, 5,
                  {"too_short": 1}, {})
    config = load_config(overrides=["task=gad", "generation.n=4"])
    source.write_manifest(build_manifest(config, get_task("gad"), source.scan(), None, "m", 0.0, None))
    predictor = ScoresByText({"@GENE$ causes @DISEASE$.": {"Has_relation": 0.9, "No_relation": 0.1},
                              "@GENE$ is unrelated to @DISEASE$.": {"Has_relation": 0.02, "No_relation": 0.98},
                              "@GENE$ and @DISEASE$ were studied.": {"Has_relation": 0.6, "No_relation": 0.4}})
    result = filter_synthetic_set(str(tmp_path / "run"), predictor, 0.9, str(tmp_path / "filtered"))
    assert result == {"data": str(tmp_path / "filtered"), "examples": 2, "set_aside": 1,
                      "by_label": {"Has_relation": 1}}
    kept = pq.read_table(tmp_path / "filtered" / "data").column("text").to_pylist()
    assert kept == ["@GENE$ causes @DISEASE$.", "@GENE$ and @DISEASE$ were studied."]
    aside = OutputStore(str(tmp_path / "filtered")).read_failures().to_pylist()
    assert [(f["row_id"], f["reason"]) for f in aside] == [(1, "contradicts_fewshot_model")]
    manifest = json.loads((tmp_path / "filtered" / "manifest.json").read_text())
    assert manifest["counts"]["examples"] == 2 and manifest["counts"]["set_aside"] == 1
    assert manifest["fingerprint"] == config.dataset_fingerprint()
    assert manifest["filtered_from"] == str(tmp_path / "run") and manifest["counts"]["rows_done"] == 4
    assert manifest["filter"] == {"confidence": 0.9, "set_aside_by_label": {"Has_relation": 1}}
    # The filtered folder is a run folder every reader takes: its manifest reads back as the typed record.
    assert OutputStore(str(tmp_path / "filtered")).read_manifest().counts.set_aside == 1


def test_the_filter_step_sits_between_generation_and_training():
    assert STEPS["filter"].upstream == ("generate",) and STEPS["train"].upstream == ("generate", "filter")
    assert STEPS["filter"].unused(load_config(overrides=["task=gad"])) is None
    assert "NER: label completion" in STEPS["filter"].unused(load_config(overrides=["task=ncbi-disease"]))


def test_the_filtered_method_shares_clingen_kg_generation(tmp_path):
    data = {"out": str(tmp_path / "exp"), "seeds": [0], "n_synthetic": 32, "n_demos": 2,
            "methods": ["clingen-kg", "clingen-kg-filtered"], "overrides": ["training.total_steps=100"],
            "datasets": {"gad": {"config": str(ROOT / "configs/gad.cpu.yaml"), "n_synthetic": 500},
                         "ncbi-disease": {"config": str(ROOT / "configs/ncbi-disease.cpu.yaml")}}}
    (tmp_path / "e.yaml").write_text(yaml.safe_dump(data))
    cells = {(c.dataset, c.method): c for c in build_cells(load_experiment(tmp_path / "e.yaml"))}
    kg, filtered = cells["gad", "clingen-kg"].config, cells["gad", "clingen-kg-filtered"].config
    assert filtered.pipeline.steps == ["styles", "generate", "filter", "train", "evaluate"]
    assert kg.config_hash() == filtered.config_hash()  # one generated set serves both
    assert (kg.generation.n, cells["ncbi-disease", "clingen-kg"].config.generation.n) == (500, 32)
    assert cells["ncbi-disease", "clingen-kg-filtered"].config is None
    assert kg.training.total_steps == 100


def test_gains_pair_each_method_with_few_shot_only_on_the_same_seed():
    def cell(method, dataset, seed, value):
        return {"method": method, "dataset": dataset, "seed": seed, "primary": {"name": "f1", "value": value}}
    cells = [cell("few-shot-only", "gad", 0, 0.60), cell("few-shot-only", "gad", 1, 0.64),
             cell("clingen-kg", "gad", 0, 0.66), cell("clingen-kg", "gad", 1, 0.69),
             cell("zero-shot", "gad", 0, 0.58), cell("zero-shot", "gad", 1, 0.66),
             cell("clingen-kg", "hoc", 0, 0.3)]  # no reference on hoc: no gain
    gain = gains(cells, ["clingen-kg", "zero-shot", "few-shot-only"], ["gad", "hoc"])
    assert gain["clingen-kg"]["gad"]["mean"] == pytest.approx(0.055) and gain["clingen-kg"]["gad"]["up"] == 2
    assert "hoc" not in gain["clingen-kg"]
    table = gains_table(gain, ["gad", "hoc"])
    assert "| clingen-kg | +5.5 ± 0.7 (2/2 up) * | n/a |" in table
    assert "| zero-shot | +0.0 ± 2.8 (1/2 up) | n/a |" in table


def test_the_knowledge_effect_is_clingen_kg_minus_each_prompting_baseline_per_seed(tmp_path):
    from clingen.experiment.results import knowledge_gains, write_results
    def cell(method, seed, value):
        return {"method": method, "dataset": "ncbi-disease", "seed": seed, "status": "ok",
                "primary": {"name": "f1", "value": value}}
    cells = [cell("clingen-kg", 0, 0.269), cell("clingen-kg", 1, 0.308), cell("zero-shot", 0, 0.188),
             cell("zero-shot", 1, 0.238), cell("few-shot-only", 0, 0.008), cell("few-shot-only", 1, 0.033)]
    gain = knowledge_gains(cells, ["ncbi-disease"])
    assert list(gain) == ["over zero-shot"]  # few-shot prompting was not run
    assert gain["over zero-shot"]["ncbi-disease"]["mean"] == pytest.approx(0.0755)
    written = write_results(tmp_path, cells, ["few-shot-only", "clingen-kg", "zero-shot"], ["ncbi-disease"], {})
    markdown = (tmp_path / "results.md").read_text()
    assert "| clingen-kg gain (points) | ncbi-disease |" in markdown
    assert "| over zero-shot | +7.6 ± 0.8 (2/2 up) * |" in markdown
    assert json.loads((tmp_path / "results.json").read_text())["knowledge_gains"]["over zero-shot"]
    assert written["gains"]["clingen-kg"]["ncbi-disease"]["up"] == 2


def test_an_experiment_can_run_in_parts(tmp_path):
    from clingen.experiment.run import selected
    data = {"out": str(tmp_path / "exp"), "seeds": [0, 1], "n_synthetic": 8, "methods": ["clingen-kg", "zero-shot"],
            "datasets": {"gad": {"config": str(ROOT / "configs/gad.cpu.yaml")},
                         "mediqa-rqe": {"config": str(ROOT / "configs/mediqa-rqe.cpu.yaml")}}}
    (tmp_path / "e.yaml").write_text(yaml.safe_dump(data))
    cells = build_cells(load_experiment(tmp_path / "e.yaml"))
    run = [(c.dataset, c.method, c.seed) for c in cells if selected(c, {"method": ["zero-shot"], "dataset": None})]
    assert run == [("gad", "zero-shot", 0), ("gad", "zero-shot", 1), ("mediqa-rqe", "zero-shot", 0),
                   ("mediqa-rqe", "zero-shot", 1)]
    assert all(selected(c, None) for c in cells)
    assert [c.method for c in cells if selected(c, {"dataset": ["gad"], "method": ["clingen-kg"]})] == ["clingen-kg"] * 2
