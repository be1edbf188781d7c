"""The experiment grid (orchestration): its validated config, and the pipeline config of each cell
(method x dataset x seed) — pure, so the grid can be checked without running anything."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError

from clingen.config import ClinGenConfig, StrictModel, load_config
from clingen._yaml import read_yaml_file
from clingen.errors import ConfigError

Method = Literal["clingen-kg", "clingen-llm", "zero-shot", "few-shot", "few-shot-only", "supervised",
                 "clingen-kg-completion", "clingen-kg-filtered"]
SYNTHETIC_METHODS = ("clingen-kg", "clingen-llm", "zero-shot", "few-shot", "clingen-kg-completion",
                     "clingen-kg-filtered")


class DatasetEntry(StrictModel):
    config: Path = Field(description="The task's pipeline config (e.g. configs/gad.cpu.yaml); every cell of "
                         "this dataset starts from it.")
    train_path: Path | None = Field(None, description="The real training split, for the supervised reference.")
    test_path: Path | None = Field(None, description="Real test split; default: the config's pipeline.test_path, "
                                   "else the split shipped with the task.")
    overrides: list[str] = Field(default_factory=list, description="key=value overrides for this dataset.")
    n_synthetic: int | None = Field(None, ge=1, description="Prompt rows per synthetic method for this dataset; "
                                    "default: the experiment's n_synthetic.")
    clingen_n_demos: int | None = Field(None, ge=0, le=16, description="Demonstrations per prompt for ClinGen-KG "
                                        "and ClinGen-LLM on this dataset; default: the experiment's n_demos. 0 "
                                        "when the generator copies demonstrations instead of writing about the "
                                        "topic (SmolLM2-135M on NER: 861 of 1,000 rows topic_missing with 2). "
                                        "Few-shot prompting always shows n_demos, as its definition requires.")
    clingen_overrides: list[str] = Field(default_factory=list, description="key=value overrides for the ClinGen "
                                         "methods only (clingen-kg and its completion and filtered variants, "
                                         "clingen-llm), e.g. prompts.hard_negatives=1; the baselines keep their "
                                         "sets and keys.")


class ExperimentConfig(StrictModel):
    out: Path = Field(description="Results folder; each dataset's pipeline steps live in <out>/<dataset>/.")
    methods: list[Method] = Field(min_length=1, description="Methods to compare (rows of the table).")
    datasets: dict[str, DatasetEntry] = Field(min_length=1, description="Dataset name -> entry (columns).")
    seeds: list[int] = Field([0, 1], min_length=1, description="Training seeds; each synthetic set is generated "
                             "once (with the config's seed) and trained on with every training seed.")
    n_synthetic: int = Field(200, ge=1, description="Prompt rows generated for every synthetic method.")
    n_demos: int = Field(3, ge=1, le=16, description="Demonstrations per prompt for the methods that show them "
                         "(ClinGen-KG, ClinGen-LLM, few-shot prompting).")
    overrides: list[str] = Field(default_factory=list, description="key=value overrides for every cell: the "
                                 "shared training budget, generator and encoder.")


@dataclass
class Cell:
    dataset: str
    method: str
    seed: int
    config: ClinGenConfig | None  # None: the method does not apply to the dataset
    reason: str | None = None


def load_experiment(path: Path) -> ExperimentConfig:
    path = Path(path)
    data = read_yaml_file(path, "experiment config") or {}
    try:
        return ExperimentConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"invalid experiment config {path}:\n{exc}") from None


def method_overrides(method: str, experiment: ExperimentConfig, entry: DatasetEntry, base: ClinGenConfig) -> list[str]:
    """What makes a cell this method; everything else (generator, encoder, budget) is shared."""
    demos = f"prompts.n_demos={experiment.n_demos}"
    clingen_demos = demos if entry.clingen_n_demos is None else f"prompts.n_demos={entry.clingen_n_demos}"
    train_eval = ["training.fewshot_stage=true", "training.synthetic_stage=true"]
    if method in ("clingen-kg", "clingen-kg-completion", "clingen-kg-filtered"):
        # The same prompts for all three: completion labels at parse time (a generation setting, so its set is
        # generated again from them), filtering sets examples aside after generation.
        steps = "[styles, generate, filter, train, evaluate]" if method == "clingen-kg-filtered" else \
            "[styles, generate, train, evaluate]"
        extra = ["generation.ner_label_completion=true"] if method == "clingen-kg-completion" else []
        return ["prompts.strategy=clingen-kg", clingen_demos, f"pipeline.steps={steps}", *extra, *train_eval,
                *entry.clingen_overrides]
    if method == "clingen-llm":
        return ["prompts.strategy=clingen-llm", clingen_demos, "pipeline.steps=[styles, topics, generate, train, evaluate]",
                *train_eval, *entry.clingen_overrides]
    if method == "zero-shot":
        return ["prompts.strategy=zero-shot", "prompts.n_demos=0", "pipeline.steps=[generate, train, evaluate]",
                *train_eval]
    if method == "few-shot":
        return ["prompts.strategy=few-shot", demos, "pipeline.steps=[generate, train, evaluate]", *train_eval]
    if method == "few-shot-only":
        return ["pipeline.steps=[train, evaluate]", "training.fewshot_stage=true"]
    # supervised: the whole real training split as the (only) real stage, with the synthetic methods' epochs.
    return ["pipeline.steps=[train, evaluate]", f"pipeline.fewshot_path={entry.train_path}",
            "training.fewshot_per_class=100000000", f"training.fewshot_epochs={base.training.epochs}"]


def not_applicable(method: str, entry: DatasetEntry, base: ClinGenConfig) -> str | None:
    from clingen.tasks.registry import get_task
    family = get_task(base.task, base.task_file).family
    if method == "clingen-kg-completion" and family != "ner":
        return "label completion applies to NER only"
    if method == "clingen-kg-filtered" and family in ("ner", "attribute"):
        return "consistency filtering applies to classification, relation and pair tasks"
    if method == "supervised" and entry.train_path is None:
        return "no train_path given"
    return None


def build_cells(experiment: ExperimentConfig) -> list[Cell]:
    cells = []
    for dataset, entry in experiment.datasets.items():
        base = load_config(entry.config, [*experiment.overrides, *entry.overrides])
        shared = [*experiment.overrides, *entry.overrides, f"pipeline.out={experiment.out / dataset}",
                  f"generation.n={entry.n_synthetic or experiment.n_synthetic}"]
        if entry.test_path is not None:
            shared.append(f"pipeline.test_path={entry.test_path}")
        for method in experiment.methods:
            reason = not_applicable(method, entry, base)
            for seed in experiment.seeds:
                config = None if reason else load_config(
                    entry.config, [*shared, *method_overrides(method, experiment, entry, base),
                                   f"training.seed={seed}"])
                cells.append(Cell(dataset, method, seed, config, reason))
    return cells
