"""Fine-tuning with Ray Train on this CPU: 2 workers, checkpoints, reload, resume after a kill."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from clingen.config import load_config
from clingen.training.predict import Predictor
from clingen.training.run import run_training
from tests.integration.synthetic_sets import ner_records, relation_records, write_generation_output

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_two_workers_train_checkpoint_and_reload_identically(ray_local, tmp_path):
    train_dir = str(tmp_path / "gad-synthetic")
    write_generation_output(train_dir, "gad", relation_records(64))
    config = load_config(overrides=["task=gad", "training.num_workers=2", "training.epochs=3",
                                    "training.batch_size=8", "training.max_length=48",
                                    f"training.storage_path={tmp_path / 'ray'}", "training.learning_rate=1e-4"])
    report = run_training(config, train_dir, None, tmp_path / "model")
    card = json.loads((tmp_path / "model/model_card.json").read_text())
    assert card["task"] == "gad" and card["labels"] == ["Has_relation", "No_relation"]
    assert card["training_data"]["synthetic"]["examples"] == 64
    assert [s["dataset"] for s in card["plan"]] == ["synthetic"]
    assert (tmp_path / "model/model.safetensors").is_file()
    assert report.card.final_metrics["epoch"] == 2 and report.card.final_metrics["samples"] > 0
    checkpoints = sorted(p for p in (tmp_path / "ray" / card["run_name"]).glob("checkpoint_*") if p.is_dir())
    assert len(checkpoints) == config.training.keep_checkpoints == 2  # one per epoch, older ones deleted
    assert json.loads((checkpoints[-1] / "progress.json").read_text())["epochs_done"] == 3

    # The last checkpoint as training left it, against the saved model reloaded from disk.
    from transformers import AutoModelForSequenceClassification, AutoTokenizer
    in_memory = Predictor(AutoModelForSequenceClassification.from_pretrained(checkpoints[-1]),
                          AutoTokenizer.from_pretrained(checkpoints[-1]), report.card)
    reloaded = Predictor.load(tmp_path / "model")
    probes = [(r.text, r.head, r.tail) for r in relation_records(12, seed=7)]
    assert in_memory.predict_relations(probes) == reloaded.predict_relations(probes)


def committed_checkpoints(run_dir) -> list:
    """Checkpoints Ray Train has registered (listed in its snapshot), not merely being written."""
    snapshot = run_dir / "checkpoint_manager_snapshot.json"
    if not snapshot.is_file():
        return []
    try:
        return json.loads(snapshot.read_text()).get("checkpoint_results") or []
    except json.JSONDecodeError:  # caught mid-write
        return []


def test_training_resumes_from_the_latest_checkpoint_after_a_kill(tmp_path, ray_local):
    train_dir = str(tmp_path / "ncbi-synthetic")
    write_generation_output(train_dir, "ncbi-disease", ner_records(240))
    storage = tmp_path / "ray"
    command = [sys.executable, "-m", "clingen", "train", "--task", "ncbi-disease", "--train", train_dir,
               "--out", str(tmp_path / "model"), "--set", "training.epochs=5", "--set", "training.num_workers=1",
               "--set", "training.batch_size=8", "--set", "training.max_length=48",
               "--set", f"training.storage_path={storage}", "--set", "training.run_name=resume-test"]
    env = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_ADDRESS": ""}
    log = open(tmp_path / "first.log", "w")
    first = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    try:
        deadline = time.time() + 600
        while time.time() < deadline and not committed_checkpoints(storage / "resume-test"):
            assert first.poll() is None, (tmp_path / "first.log").read_text()[-3000:]
            time.sleep(0.5)
        assert committed_checkpoints(storage / "resume-test"), "no checkpoint within 600 s: nothing to resume from"
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
    assert not (tmp_path / "model").exists(), "the kill should land before training finished"
    second = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    assert second.returncode == 0, second.stdout[-2000:] + second.stderr[-3000:]
    card = json.loads((tmp_path / "model/model_card.json").read_text())
    assert card["final_metrics"]["resumed_from"] != "0:0"  # started after a saved epoch, not from scratch
    assert card["final_metrics"]["epoch"] == 4
    entities = Predictor.load(tmp_path / "model").predict_entities(["Patients with asthma often report cough."])
    assert isinstance(entities[0]["entities"], list)


def test_a_fixed_step_budget_cycles_a_small_set(ray_local, tmp_path):
    train_dir = str(tmp_path / "gad-small")
    write_generation_output(train_dir, "gad", relation_records(10))
    config = load_config(overrides=["task=gad", "training.num_workers=2", "training.epochs=1",
                                    "training.batch_size=4", "training.max_length=32", "training.total_steps=12",
                                    f"training.storage_path={tmp_path / 'ray'}"])
    records = []
    report = run_training(config, train_dir, None, tmp_path / "model", on_progress=records.append)
    stage = report.card.plan[0]
    # 10 examples on 2 workers at 4 a step is 2 steps a pass: the set is repeated so that a pass holds the budget.
    assert (stage["total_steps"], stage["repeats"], stage["steps_per_pass"]) == (12, 10, 13)
    assert report.card.final_metrics["stage_steps"] == 12
    assert report.card.training_data["synthetic"]["examples"] == 10
    # Rank 0's progress reached the driver while fit() ran, in order, ending at the budget.
    steps = [r["stage_steps"] for r in records]
    assert steps == sorted(steps) and steps[-1] == 12 and len(set(steps)) == len(steps)
    assert records[-1]["stage"] == "synthetic" and records[-1]["total_steps"] == 12 and records[-1]["loss"] > 0
    readme = (tmp_path / "model/README.md").read_text()
    assert "pipeline_tag: text-classification" in readme and "| synthetic | `" in readme and "12 steps" in readme


def test_the_filter_step_trains_on_the_few_real_examples_and_sets_examples_aside(ray_local, tmp_path):
    from clingen.pipeline.steps import StepContext, run_filter
    from clingen.runfolder.store import OutputStore
    from clingen.tasks.registry import get_task
    train_dir = str(tmp_path / "gad-synthetic")
    records = relation_records(24)
    # Half the labels flipped: a model of the real examples should contradict some of these confidently.
    flipped = [r.__class__(r.id, r.text, "No_relation" if r.label == "Has_relation" else "Has_relation", r.head,
                           r.tail, r.head_type, r.tail_type, r.provenance) if i % 2 else r
               for i, r in enumerate(records)]
    write_generation_output(train_dir, "gad", flipped)
    config = load_config(overrides=["task=gad", "training.num_workers=1", "training.fewshot_epochs=8",
                                    "training.batch_size=8", "training.max_length=48", "training.learning_rate=2e-4",
                                    f"training.storage_path={tmp_path / 'ray'}", "pipeline.filter_confidence=0.55"])
    folder = tmp_path / "filter"
    folder.mkdir()
    outputs = run_filter(StepContext(config, get_task("gad"), folder, {"generate": {"data": train_dir}}))
    assert outputs["examples"] + outputs["set_aside"] == 24
    filtered = OutputStore(outputs["data"])
    assert filtered.scan().rows == set(range(24))
    aside = filtered.read_failures().to_pylist()
    assert len(aside) == outputs["set_aside"] and all(f["reason"] == "contradicts_fewshot_model" for f in aside)
    assert (folder / "fewshot-model" / "model_card.json").is_file()
    card = json.loads((folder / "fewshot-model" / "model_card.json").read_text())
    assert [s["dataset"] for s in card["plan"]] == ["fewshot"]
