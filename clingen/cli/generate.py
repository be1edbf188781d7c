"""`clingen generate`: the main job, synthetic data for one task through Ray Data and vLLM."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from clingen.cli.common import add_config_options, resolve_config
from clingen.runfolder.manifest import MANIFEST_FILE
from clingen.runfolder.usage import manifest_usage

if TYPE_CHECKING:
    from clingen.runfolder.manifest import Manifest

EXIT_INCOMPLETE = 3  # the run ended without every requested row: re-run the same command to finish


def add_parser(sub: argparse._SubParsersAction) -> None:
    cmd = sub.add_parser("generate", help="generate a synthetic dataset for a task (resumable)")
    add_config_options(cmd)
    cmd.add_argument("--task", help="task name (config: task)")
    cmd.add_argument("--n", type=int, help="prompt rows to generate (config: generation.n)")
    cmd.add_argument("--out", help="output directory or s3://, gs:// URI (config: generation.out)")
    cmd.add_argument("--examples", type=int, help="generate until this many examples are kept, in rounds of rows "
                     "sized by the kept rate (config: generation.examples; --n is then ignored)")
    cmd.add_argument("--strategy", choices=["clingen-kg", "clingen-llm", "zero-shot", "few-shot"],
                     help="config: prompts.strategy")
    cmd.add_argument("--seed", type=int, help="config: seed")
    cmd.add_argument("--model", help="generator model: local folder, hub id, or embedded:... (config: "
                     "generator.model.source)")
    cmd.add_argument("--verbose", action="store_true", help="show Ray's, Ray Data's and vLLM's own logs on the "
                     "console too (they are always copied to <out>/logs/)")
    cmd.add_argument("--json", action="store_true", help="print the summary as one JSON object (the manifest's "
                     "counts, paths and this run's rates) instead of text")
    cmd.add_argument("--wait", action="store_true", help="when another command is writing --out, wait for it to "
                     "finish instead of stopping")
    cmd.set_defaults(handler=_generate)


def _generate(args: argparse.Namespace) -> int:
    from clingen.generation.job import run_generation
    config = resolve_config(args, task=args.task, seed=args.seed, **{
        "generation.n": args.n, "generation.out": args.out, "generation.examples": args.examples, "prompts.strategy": args.strategy,
        "generator.model.source": args.model})
    from clingen.cli.console import GenerationProgress, diagnostics_on_stderr
    from clingen.cluster import save_ray_logs
    from clingen.runfolder.store import writing
    started = time.time()
    out = config.generation.out
    # The lock spans the log copy into <out>/logs/ too; what a run sets aside is said when it is found.
    with writing(out, "clingen generate", wait=args.wait):
        try:
            with diagnostics_on_stderr(), GenerationProgress(config.task) as progress:
                report = run_generation(config, on_row=progress.update, quiet=not args.verbose)
        except KeyboardInterrupt:
            logs = save_ray_logs(out, started)
            raise KeyboardInterrupt(f"committed shards are kept in {out}; run the same command again to resume"
                                    + (f" (Ray and vLLM logs: {logs})" if logs else "")) from None
        except BaseException:
            logs = save_ray_logs(out, started)
            if logs:
                print(f"Ray and vLLM logs: {logs}", file=sys.stderr)
            raise
        logs = save_ray_logs(out, started)
    if args.json:
        print(json.dumps(summary_json(report, logs)))
    else:
        print(summary_line(report.manifest))
        print(f"data:     {Path(report.out) / 'data'}\nfailures: {Path(report.out) / 'failures'}\n"
              f"manifest: {Path(report.out) / MANIFEST_FILE}\ncard:     {Path(report.out) / 'README.md'} "
              f"(datasets.load_dataset(\"{report.out}\") reads the folder)")
        if logs:
            print(f"logs:     {logs} (Ray's and vLLM's own output)")
    if not report.complete:
        print("incomplete: some rows failed in the generator; run the same command again to retry them",
              file=sys.stderr)
        return EXIT_INCOMPLETE
    return 0


def summary_json(report, logs: Path | None = None) -> dict:
    """The machine-readable summary: the manifest's counts and tokens, this run's entry and the paths (`logs`:
    the copy of Ray's and vLLM's logs, or None)."""
    manifest = report.manifest
    return {"task": manifest.task, "complete": manifest.complete, "counts": manifest.counts.model_dump(),
            "tokens": manifest.tokens.model_dump(), "usage": manifest_usage(manifest).to_dict(),
            "run": manifest.runs[-1].model_dump(),
            "fingerprint": manifest.fingerprint,
            "out": report.out, "manifest": report.manifest_path, "set_aside": report.set_aside,
            "logs": str(logs) if logs else None}


def summary_line(manifest: Manifest) -> str:
    counts, last = manifest.counts, manifest.runs[-1]
    wall = max(last.wall_s, 1e-9)
    rows = last.rows + last.generation_errors
    # Rows that gave no example, each counted once by its first reason (duplicates included).
    rejected = counts.rejected_rows_by_reason
    top = ", ".join(f"{reason} {n}" for reason, n in sorted(rejected.items(), key=lambda item: -item[1])[:4])
    failure_rate = sum(rejected.values()) / counts.rows_done if counts.rows_done else 0.0
    goal = (f" (goal {last.examples_goal}, {last.rounds} round{'s' if last.rounds != 1 else ''})"
            if last.examples_goal else "")
    return (f"{manifest.task}: {counts.examples} examples{goal} from {counts.rows_done}/{counts.prompts} "
            f"rows | this run: {last.examples / wall:.2f} examples/s, {last.completion_tokens / wall:.1f} "
            f"output tokens/s over {rows} rows in {wall:.0f}s | rows without example {failure_rate:.1%}"
            f"{f' ({top})' if top else ''}, duplicates {counts.duplicates}, {manifest_usage(manifest).text()}"
            f"{_requests_text(last.requests)}")


def _requests_text(requests: dict) -> str:
    """', 1,204 requests (12 retries, 7 rate-limited, 0 rows failed)' for an http run; '' otherwise."""
    if not requests.get("requests"):
        return ""
    return (f", {requests['requests']:,} requests ({requests.get('retries', 0)} retries, "
            f"{requests.get('rate_limited', 0)} rate-limited, {requests.get('failed_rows', 0)} rows failed)")
