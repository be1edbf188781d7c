"""End-to-end test of `clingen pipeline` on NCBI-disease with the embedded defaults, through the real CLI: a
training failure keeps the proposed styles, the generated set and the quality report, and the re-run resumes
at the failed step."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]


def run_pipeline_cli(tmp_path: Path, *overrides: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "clingen", "pipeline", "--config", str(ROOT / "configs/ncbi-disease.cpu.yaml"),
               "--out", str(tmp_path / "pipe"), "--n", "12", "--set", "pipeline.n_styles=4",
               "--set", "training.epochs=1", "--set", "training.max_steps=4", "--set", "training.fewshot_epochs=1",
               "--set", "training.num_workers=1", "--set", f"training.storage_path={tmp_path / 'ray_train'}",
               *[part for override in overrides for part in ("--set", override)]]
    env = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_ADDRESS": ""}
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=1200, cwd=ROOT)


def steps_of(tmp_path: Path) -> dict[str, dict]:
    summary = json.loads((tmp_path / "pipe" / "pipeline.json").read_text())
    return {step["name"]: step for step in summary["steps"]}


def test_pipeline_runs_end_to_end_and_resumes_at_the_failed_step(smollm2_dir, tmp_path):
    first = run_pipeline_cli(tmp_path, f"training.encoder={tmp_path / 'no-such-encoder'}")
    assert first.returncode == 4, first.stdout[-3000:] + first.stderr[-3000:]
    assert "step train failed" in first.stdout and "no-such-encoder" in first.stdout
    steps = steps_of(tmp_path)
    assert [steps[n]["status"] for n in ("styles", "topics", "generate", "quality", "train")] == [
        "ran", "skipped", "ran", "ran", "failed"]
    assert "evaluate" not in steps  # nothing runs after a failed step
    generated = Path(steps["generate"]["folder"])
    manifest = json.loads((generated / "manifest.json").read_text())
    assert manifest["complete"] and manifest["counts"]["prompts"] == 12 and len(manifest["runs"]) == 1
    assert manifest["config"]["prompts"]["styles_file"] == str(Path(steps["styles"]["folder"]) / "styles.txt")
    styles = (Path(steps["styles"]["folder"]) / "styles.txt").read_text().splitlines()
    assert styles[0].startswith("# ") and len(styles) > 1
    assert (Path(steps["quality"]["folder"]) / "report.html").is_file()

    second = run_pipeline_cli(tmp_path)  # the default (embedded) encoder: the cause is fixed
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    steps = steps_of(tmp_path)
    assert [steps[n]["status"] for n in ("styles", "generate", "quality", "train", "evaluate")] == [
        "cached", "cached", "cached", "ran", "ran"]
    assert len(json.loads((generated / "manifest.json").read_text())["runs"]) == 1  # not generated again
    # A quiet console: the workers' own output (vLLM, Ray Train) stays in the log files copied into the folder.
    for run in (first, second):
        assert "EngineCore" not in run.stdout + run.stderr and "(RayTrainWorker" not in run.stdout + run.stderr
    assert "Ray, vLLM and Ray Train logs: " in second.stderr
    assert any("vllm" in path.read_text(errors="replace").lower()
               for path in (tmp_path / "pipe" / "logs").glob("ray-*/worker-*"))
    evaluation = json.loads((Path(steps["evaluate"]["folder"]) / "evaluation.json").read_text())
    assert evaluation["n"] == 940 and evaluation["task"] == "ncbi-disease"  # the shipped real test split
    assert evaluation["primary"]["name"] == "f1" and 0.0 <= evaluation["primary"]["value"] <= 1.0
    card = json.loads((Path(steps["train"]["folder"]) / "model" / "model_card.json").read_text())
    assert [stage["dataset"] for stage in card["plan"]] == ["fewshot", "synthetic"]
    assert card["training_data"]["synthetic"]["path"] == str(generated)
    assert "test primary metric" in second.stdout
