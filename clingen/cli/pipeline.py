"""`clingen pipeline`: every step for one task, end to end, resumable (orchestration over all stages)."""

from __future__ import annotations

import argparse
import json

from clingen.cli.common import add_config_options, resolve_config

EXIT_STEP_FAILED = 4  # a step failed; finished steps are kept and the same command resumes at the failed one


def add_parser(sub: argparse._SubParsersAction) -> None:
    cmd = sub.add_parser("pipeline", help="topics, styles, generation, quality, training, evaluation (and "
                         "deploy) for one task; a re-run skips finished steps")
    add_config_options(cmd)
    cmd.add_argument("--task", help="task name (config: task)")
    cmd.add_argument("--out", help="pipeline folder (config: pipeline.out)")
    cmd.add_argument("--steps", help="comma-separated steps, e.g. generate,train,evaluate (config: pipeline.steps)")
    cmd.add_argument("--n", type=int, help="prompt rows to generate (config: generation.n)")
    cmd.set_defaults(handler=_pipeline)


def _pipeline(args: argparse.Namespace) -> int:
    from clingen.pipeline.run import run_pipeline
    steps = [s.strip() for s in args.steps.split(",") if s.strip()] if args.steps else None
    config = resolve_config(args, task=args.task, **{"pipeline.out": args.out, "pipeline.steps": steps,
                                                     "generation.n": args.n})
    report = run_pipeline(config)
    print("\nstep       status   seconds  folder")
    for step in report.steps:
        print(f"{step.name:<10} {step.status:<8} {step.wall_s:>7.0f}  {step.folder or step.reason}")
    evaluation = report.outputs("evaluate")
    if evaluation:
        print(f"\ntest primary metric: {json.dumps(evaluation['primary'])}")
    failed = report.failed
    if failed:
        print(f"\nstep {failed.name} failed: {failed.reason}\nfix the cause and run the same command again; "
              f"finished steps are reused", flush=True)
        return EXIT_STEP_FAILED
    print(f"\nsummary: {report.out / 'pipeline.json'}")
    return 0
