"""Runs an experiment grid (orchestration): each cell is a pipeline run (so finished generation and training
are reused across cells and re-runs), then one quality report per dataset over its synthetic sets, then the
results table and chart."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from pathlib import Path

from clingen.experiment.grid import Cell, ExperimentConfig, build_cells
from clingen.experiment.results import write_results

logger = logging.getLogger("clingen.experiment")


def run_cell(cell: Cell, log: Callable[[str], None] | None = None, report_only: bool = False) -> dict:
    from clingen.pipeline.run import run_pipeline
    log = log or logger.info
    record = {"dataset": cell.dataset, "method": cell.method, "seed": cell.seed}
    if cell.config is None:
        return {**record, "status": "not applicable", "reason": cell.reason}
    log(f"=== {cell.dataset} / {cell.method} / seed {cell.seed}")
    started = time.time()
    report = run_pipeline(cell.config, log=log, cached_only=report_only, check_data=False)  # run_experiment did
    generated = report.outputs("generate")
    evaluated = report.outputs("evaluate")
    # The synthetic examples training actually used: what the filter step kept, else what generation kept.
    used = report.outputs("filter").get("examples", generated.get("examples"))
    record.update(wall_s=round(time.time() - started, 1), examples=used, generated=generated.get("examples"),
                  synthetic=report.outputs("filter").get("data", generated.get("data")),
                  primary=evaluated.get("primary"), baseline=_baseline(evaluated))
    failed = report.failed
    missing = next((s for s in report.steps if s.status == "not run"), None)
    if failed:
        record.update(status="failed", reason=f"failed at {failed.name}: {failed.reason}")
    elif missing:
        record.update(status="not run", reason=f"not run: {missing.name} has no result yet")
    else:
        record["status"] = "ok"
    return record


def _baseline(evaluated: dict) -> dict | None:
    """The majority baseline the evaluate step measured on the same test split (None for NER metrics)."""
    path = evaluated.get("evaluation")
    if not path or not Path(path).is_file():
        return None
    return json.loads(Path(path).read_text()).get("majority_baseline", {}).get("primary")


def compare_quality(experiment: ExperimentConfig, dataset: str, cells: list[Cell], records: list[dict]) -> dict | None:
    """One quality report over the dataset's synthetic sets, beside its real test split."""
    from clingen.pipeline.steps import real_test_split, task_spec
    from clingen.quality.report import build_quality_report
    from clingen.quality.settings import QualitySettings
    sets = {r["method"]: r["synthetic"] for r in records if r["dataset"] == dataset and r.get("synthetic")}
    config = next((c.config for c in cells if c.dataset == dataset and c.config is not None), None)
    if not sets or config is None:
        return None
    spec = task_spec(config)
    report = build_quality_report(sets, real_test_split(config, spec), spec.name, experiment.out / dataset / "quality",
                                  config, QualitySettings(seed=config.seed, real_split=config.pipeline.test_split))
    return {name: entry["metrics"] for name, entry in report["sets"].items()}


def check_cells_data(cells: list[Cell]) -> None:
    """Read every real split any cell will read, each (task, file, split) once, so that a bad file stops the
    experiment before its first cell rather than hours into it."""
    from clingen.datasets.readers import check_real_files
    from clingen.pipeline.steps import real_data_files, task_spec
    checked: set[tuple] = set()
    for cell in cells:
        if cell.config is None:
            continue
        spec = task_spec(cell.config)
        for setting, (path, split) in real_data_files(cell.config, spec).items():
            key = (spec.name, str(cell.config.task_file), str(path), split)
            if path is not None and key not in checked:
                check_real_files(spec, {f"{cell.dataset}: {setting}": (path, split)})
                checked.add(key)


def selected(cell: Cell, only: dict[str, list[str] | None] | None) -> bool:
    """Whether a run restricted to `only` ({"method": [...], "dataset": [...]}; None or empty = all) runs `cell`."""
    return all(not names or getattr(cell, field) in names for field, names in (only or {}).items())


def run_experiment(experiment: ExperimentConfig, log: Callable[[str], None] | None = None, report_only: bool = False,
                   only: dict[str, list[str] | None] | None = None,
                   start_ray: Callable[[list[Cell]], None] | None = None) -> dict:
    """Every cell (or, with report_only, only what earlier runs finished), then quality and the results.
    `only` ({"method": [...], "dataset": [...]}, None = all) runs just those cells; the others are
    tabulated from what earlier runs finished. Progress lines go to `log` (default: the "clingen.experiment"
    logger at INFO, which the CLI prints on stdout). `start_ray(cells to run)` is called once their data is
    checked, before the first cell (the CLI starts Ray there, quiet unless --verbose)."""
    log = log or logger.info
    started = time.time()
    cells = build_cells(experiment)  # every cell's config is validated before anything runs
    if not report_only:
        to_run = [cell for cell in cells if selected(cell, only)]
        check_cells_data(to_run)
        if start_ray is not None and to_run:
            start_ray(to_run)
    records = [run_cell(cell, log, report_only or not selected(cell, only)) for cell in cells]
    quality = {}
    for dataset in experiment.datasets:
        try:
            quality[dataset] = compare_quality(experiment, dataset, cells, records)
        except Exception as exc:  # the scores stand without the quality report; say why it is missing
            quality[dataset] = {"error": f"{type(exc).__name__}: {exc}"}
    datasets = list(experiment.datasets)
    return write_results(Path(experiment.out), records, list(experiment.methods), datasets,
                         {"quality": quality, "wall_s": round(time.time() - started, 1),
                          "experiment": experiment.model_dump(mode="json")})
