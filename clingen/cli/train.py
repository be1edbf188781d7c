"""`clingen train` and `clingen evaluate`: fine-tune with Ray Train, then score on a real test split."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from clingen.cli.common import add_config_options, resolve_config


def add_parsers(sub: argparse._SubParsersAction) -> None:
    train = sub.add_parser("train", help="fine-tune an encoder on a synthetic set (and few real examples)")
    add_config_options(train)
    train.add_argument("--task", help="task name (config: task)")
    train.add_argument("--train", help="a `clingen generate` output folder or URI (synthetic stage)")
    train.add_argument("--fewshot", type=Path, help="a real training split (few-shot stage)")
    train.add_argument("--out", type=Path, required=True, help="where the final model and model card go")
    train.add_argument("--encoder", help="config: training.encoder (folder, hub id, embedded:minilm-l6)")
    train.add_argument("--workers", type=int, help="config: training.num_workers")
    train.add_argument("--verbose", action="store_true", help="show Ray's, Ray Train's and the workers' own logs "
                       "on the console too (they are always copied to <out>/logs/)")
    train.set_defaults(handler=_train)

    evaluate = sub.add_parser("evaluate", help="evaluate a trained model on a real test split")
    add_config_options(evaluate)
    evaluate.add_argument("--model", type=Path, required=True, help="a `clingen train` output folder")
    evaluate.add_argument("--task", help="task name (default: the model card's)")
    evaluate.add_argument("--test", type=Path, required=True, help="the real test split (HoC: the corpus root)")
    evaluate.add_argument("--split", default="test", help="HoC document split (train, dev, test)")
    evaluate.add_argument("--out", type=Path, help="folder for evaluation.json and evaluation.txt "
                          "(default: the model folder)")
    evaluate.add_argument("--tune-thresholds-on", type=Path, metavar="FEWSHOT",
                          help="multi-label: choose per-label thresholds on the few-shot sample training took "
                          "from this real split (its --fewshot), instead of 0.5")
    evaluate.set_defaults(handler=_evaluate)


def _train(args: argparse.Namespace) -> int:
    from clingen.cli.console import TrainingProgress, diagnostics_on_stderr
    from clingen.cluster import save_ray_logs
    from clingen.training.run import run_training
    config = resolve_config(args, task=args.task, **{"training.encoder": args.encoder,
                                                     "training.num_workers": args.workers})
    started = time.time()
    try:
        with diagnostics_on_stderr(), TrainingProgress(config.task) as progress:
            report = run_training(config, args.train, args.fewshot, args.out, quiet=not args.verbose,
                                  on_progress=progress.update)
    except BaseException:
        logs = save_ray_logs(args.out, started)
        if logs:
            print(f"Ray and Ray Train logs: {logs}", file=sys.stderr)
        raise
    logs = save_ray_logs(args.out, started)
    card = report.card
    metrics = card.final_metrics or {}
    print(f"trained {card.task} ({', '.join(s['dataset'] for s in card.plan or [])}) in "
          f"{card.train_wall_s}s; last epoch loss {metrics.get('loss', float('nan')):.4f}, "
          f"{metrics.get('samples_per_s', 0):.1f} samples/s per worker")
    print(f"model: {report.model_dir}\ncard:  {report.model_dir / 'model_card.json'} (README.md: the same for people)")
    if logs:
        print(f"logs:  {logs} (Ray's and Ray Train's own output)")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from clingen.evaluation.evaluate import evaluate_model
    config = resolve_config(args)
    result, table, paths = evaluate_model(args.model, args.test, args.task, args.split, args.out, config,
                                          tune_on=args.tune_thresholds_on)
    print(table)
    print(f"\nwrote {paths[0]} and {paths[1]}")
    print(json.dumps({"primary": result["primary"]}))
    return 0
