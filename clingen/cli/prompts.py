"""`clingen prompts preview`: print composed prompts with their topic, style and demonstrations."""

from __future__ import annotations

import argparse

import numpy as np

from clingen.cli.common import add_config_options, resolve_config


def add_parser(sub: argparse._SubParsersAction) -> None:
    prompts = sub.add_parser("prompts", help="inspect composed prompts")
    prompts_sub = prompts.add_subparsers(dest="prompts_command", required=True)
    preview = prompts_sub.add_parser("preview", help="print N composed prompts for a task")
    add_config_options(preview)
    preview.add_argument("--task", help="task name (config: task)")
    preview.add_argument("--n", type=int, default=5, help="how many prompts")
    preview.add_argument("--start", type=int, default=0, help="first row index")
    preview.add_argument("--strategy", choices=["clingen-kg", "clingen-llm", "zero-shot", "few-shot"],
                         help="config: prompts.strategy")
    preview.add_argument("--seed", type=int, help="config: seed")
    preview.set_defaults(handler=_preview)


def _preview(args: argparse.Namespace) -> int:
    from clingen.datasets.readers import check_real_files
    from clingen.prompts.compose import PromptComposer
    from clingen.tasks.registry import get_task
    config = resolve_config(args, task=args.task, seed=args.seed, **{"prompts.strategy": args.strategy})
    spec = get_task(config.task, config.task_file)
    # The demonstration pool is read from this file; checked first so that its errors name the setting.
    check_real_files(spec, {"prompts.fewshot_path": (config.prompts.fewshot_path, "train")})
    composer = PromptComposer.from_config(config, spec)
    for row in composer.compose(np.arange(args.start, args.start + args.n)):
        print(f"=== row {row.row_id} | task {row.task} | strategy {row.strategy} | label {row.label}")
        print(f"topic: {row.topic}" + (f" | related: {', '.join(row.related)}" if row.related else ""))
        print(f"style: {row.style}")
        print(f"demonstrations: {', '.join(row.demo_ids) or '(none)'}")
        for message in row.messages:
            print(f"--- {message['role']}\n{message['content']}")
        if row.followup:
            print(f"--- user (second step; {'<<SENTENCE_A>>'} is the first step's reply)\n{row.followup}")
        print()
    return 0
