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
    assert report.card["final_metrics"]["epoch"] == 2 and report.card["final_metrics"]["samples"] > 0
    checkpoints = sorted(p for p in (tmp_path / "ray" / card["run_name"]).glob("checkpoint_*") if p.is_dir())
    assert len(checkpoints) == config.training.keep_checkpoints == 2  # one per epoch, older ones deleted
    assert json.loads((checkpoints[-1] / "progress.json").read_text())["epochs_done"] == 3

    # The last checkpoint as training left it, against the saved model reloaded from disk.
    from transformers import AutoModelForSequenceClassification, AutoTokenizer
    in_memory = Predictor(AutoModelForSequenceClassification.from_pretrained(checkpoints[-1]),
                          AutoTokenizer.from_pretrained(checkpoints[-1]), card)
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
    env = {**os.environ, "RAY_AUTH_MODE": "disabled", "RAY_ADDRESS": ""}
    log = open(tmp_path / "first.log", "w")
    first = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    try:
        deadline = time.time() + 300
        while time.time() < deadline and not committed_checkpoints(storage / "resume-test"):
            assert first.poll() is None, (tmp_path / "first.log").read_text()[-3000:]
            time.sleep(0.5)
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
