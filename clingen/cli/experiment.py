"""`clingen experiment`: a grid of methods x datasets through the pipeline, with a results table and chart."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction) -> None:
    cmd = sub.add_parser("experiment", help="compare methods (ClinGen-KG, ClinGen-LLM, zero-shot, few-shot, ...) "
                         "across datasets; writes results.md, results.json and results.png")
    cmd.add_argument("--config", type=Path, required=True, help="experiment YAML (see configs/experiments/)")
    cmd.add_argument("--out", type=Path, help="results folder (experiment config: out)")
    cmd.add_argument("--report-only", action="store_true", help="run no cell: tabulate what earlier (or still "
                     "running) runs finished; the rest shows as 'not run'")
    cmd.add_argument("--methods", help="comma-separated: run only these methods' cells (the table still shows "
                     "every method's finished cells), e.g. to run a long grid in parts")
    cmd.add_argument("--datasets", help="comma-separated: run only these datasets' cells")
    cmd.add_argument("--verbose", action="store_true", help="show Ray's, Ray Data's, vLLM's and Ray Train's own "
                     "logs on the console too (they are always copied to <out>/logs/)")
    cmd.set_defaults(handler=_experiment)


def _experiment(args: argparse.Namespace) -> int:
    from clingen.experiment.grid import load_experiment
    from clingen.experiment.run import run_experiment
    experiment = load_experiment(args.config)
    if args.out:
        experiment = experiment.model_copy(update={"out": args.out})
    only = {"method": _names(args.methods, experiment.methods, "method"),
            "dataset": _names(args.datasets, list(experiment.datasets), "dataset")}
    from clingen.cluster import save_ray_logs
    started = time.time()
    try:
        result = run_experiment(experiment, report_only=args.report_only, only=only,
                                start_ray=lambda cells: _start_ray(cells, quiet=not args.verbose))
    finally:
        logs = save_ray_logs(experiment.out, started)
        if logs:
            print(f"Ray, vLLM and Ray Train logs: {logs}", file=sys.stderr)
    print(result["markdown"])
    out = experiment.out
    print(f"\nresults: {out / 'results.md'}, {out / 'results.json'}, {out / 'results.png'}")
    failed = [c for c in result.get("cells", []) if c.get("status") == "failed"]
    return 4 if failed else 0


def _start_ray(cells, quiet: bool) -> None:
    """Ray for every cell, started once before the first: whether worker output reaches the console is fixed
    when Ray starts (as for `clingen pipeline`); sized for the largest generation stream among the cells."""
    from clingen.cluster import ensure_ray
    from clingen.generation.stream import stream_cpu_demand
    from clingen.tasks.registry import get_task

    def demand(config) -> float:
        steps = 2 if get_task(config.task, config.task_file).family == "pair" else 1
        return stream_cpu_demand(config.generator, steps)

    largest = max(cells, key=lambda cell: demand(cell.config))
    ensure_ray(largest.config, quiet=quiet, min_cpus=demand(largest.config))


def _names(value: str | None, known: list[str], what: str) -> list[str] | None:
    """A comma-separated subset of the experiment's names (None: all); an unknown name lists the known ones."""
    from clingen.errors import UnknownNameError
    if not value:
        return None
    names = [name.strip() for name in value.split(",") if name.strip()]
    for name in names:
        if name not in known:
            raise UnknownNameError(f"{what} of this experiment", name, known)
    return names
