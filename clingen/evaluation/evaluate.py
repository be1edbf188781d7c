"""Evaluation stage entry (training -> evaluation): scores a saved model on a real test split and writes the
JSON report and the readable table."""

from __future__ import annotations

from pathlib import Path

from clingen.config import ClinGenConfig
from clingen.datasets.readers import read_task_split, training_fewshot_records
from clingen.datasets.records import ClassificationExample, NERExample
from clingen.errors import ConfigError
from clingen.evaluation.metrics import evaluate_predictions, majority_baseline
from clingen.evaluation.report import format_report, write_report
from clingen.tasks.registry import get_task


def gold_of(records: list) -> list:
    """The gold answers in the shape `evaluate_predictions` takes for the records' family."""
    if records and isinstance(records[0], NERExample):
        return [r.tags for r in records]
    if records and isinstance(records[0], ClassificationExample):
        return [r.labels for r in records]
    return [r.label for r in records]


def _tune(predictor, tune_on: Path, config: ClinGenConfig, spec) -> dict:
    """Set the predictor's thresholds from the few-shot sample training drew from `tune_on`: its size and seed
    come from the training config in the model card, so the sample is the one the model saw (a card saved
    outside `clingen train` has none; the given config stands in)."""
    from clingen.evaluation.thresholds import tune_thresholds
    if not predictor.multi_label:
        raise ConfigError(f"threshold tuning applies to multi-label models; {predictor.card.task} is "
                          f"single-label (drop the tuning split {tune_on})")
    trained = predictor.card.config or config.model_dump(mode="json")
    examples = training_fewshot_records(spec, tune_on, trained["training"]["fewshot_per_class"], trained["seed"])
    if not examples:
        raise ConfigError(f"{tune_on} gives no labelled examples to tune thresholds on; expected the real split "
                          f"training's few-shot stage sampled from")
    scores = [result["scores"] for result in predictor.classify_records(examples)]
    predictor.thresholds = tune_thresholds(scores, gold_of(examples), predictor.labels)
    return {"tuned_on_examples": len(examples), "source": str(tune_on), "values": predictor.thresholds}


def evaluate_model(model_dir: Path, test: Path, task: str | None, split: str, out: Path | None,
                   config: ClinGenConfig, tune_on: Path | None = None) -> tuple[dict, str, tuple[Path, Path]]:
    """Score the model on the test split. `tune_on`: the real split training's few-shot stage sampled from;
    a multi-label model's per-label thresholds are first chosen on that same sample (never on the test
    split), and the report records them."""
    from clingen.training.predict import Predictor
    predictor = Predictor.load(model_dir)
    task = task or predictor.card.task
    if task != predictor.card.task:
        raise ConfigError(f"model {model_dir} was trained for task {predictor.card.task!r}, not {task!r}")
    spec = get_task(task, config.task_file)
    tuned = _tune(predictor, tune_on, config, spec) if tune_on is not None else None
    records = read_task_split(spec, test, split)
    gold = gold_of(records)
    result = evaluate_predictions(spec, gold, predictor.predict_records(records))
    if tuned is not None:
        result["thresholds"] = tuned
    if spec.family not in ("ner", "attribute"):
        result["majority_baseline"] = {"primary": majority_baseline(spec, gold)["primary"]}
    result["model"], result["task"], result["test"] = str(model_dir), spec.name, str(test)
    table = format_report(result, spec.name, str(model_dir))
    return result, table, write_report(result, Path(out or model_dir), spec.name, str(model_dir))
