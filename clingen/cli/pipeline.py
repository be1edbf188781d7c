"""`clingen pipeline`: every step for one task, end to end, resumable (orchestration over all stages)."""

from __future__ import annotations

import argparse
import json
import sys
import time

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
    cmd.add_argument("--verbose", action="store_true", help="show Ray's, Ray Data's, vLLM's and Ray Train's own "
                     "logs on the console too (they are always copied to <out>/logs/)")
    cmd.set_defaults(handler=_pipeline)


def _pipeline(args: argparse.Namespace) -> int:
    from clingen.pipeline.run import run_pipeline
    steps = [s.strip() for s in args.steps.split(",") if s.strip()] if args.steps else None
    config = resolve_config(args, task=args.task, **{"pipeline.out": args.out, "pipeline.steps": steps,
                                                     "generation.n": args.n})
    from clingen.cluster import save_ray_logs
    started = time.time()
    try:
        _check_then_start_ray(config, quiet=not args.verbose)
        report = run_pipeline(config, check_data=False)
    finally:
        logs = save_ray_logs(config.pipeline.out, started)
        if logs:
            print(f"Ray, vLLM and Ray Train logs: {logs}", file=sys.stderr)
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


def _check_then_start_ray(config, quiet: bool) -> None:
    """The task and every real split the steps read are checked first (a bad file fails before Ray starts);
    then Ray for every step, started once here: whether worker output reaches the console is fixed when Ray
    starts, so the first step that needs it (styles, generate) must not start it with its own default. Sized
    for the generation stream as `clingen generate` is."""
    from clingen.cluster import ensure_ray
    from clingen.generation.stream import stream_cpu_demand
    from clingen.datasets.readers import check_real_files
    from clingen.pipeline.steps import real_data_files, task_spec
    spec = task_spec(config)
    check_real_files(spec, real_data_files(config, spec))
    steps = 2 if spec.family == "pair" else 1
    ensure_ray(config, quiet=quiet, min_cpus=stream_cpu_demand(config.generator, steps))
