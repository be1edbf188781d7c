"""Datasets stage CLI: `clingen data check` reads a real split the way every command reads it and says what it holds."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from clingen.cli.common import add_config_options, resolve_config


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add `clingen data check FILE --task T [--split S] [--json]` to the CLI's subcommands."""
    data = sub.add_parser("data", help="inspect real datasets")
    data_sub = data.add_subparsers(dest="data_command", required=True)
    check = data_sub.add_parser("check", help="read a real split for a task: detected format, examples, count "
                                "per label (NER: mentions per type) and problems")
    add_config_options(check)
    check.add_argument("path", type=Path, metavar="FILE", help="the real split (HoC: the corpus folder; ChemProt "
                       "BioCreative VI: the split's folder or one of its files)")
    check.add_argument("--task", required=True, help="the task whose labels the file is read with (a built-in "
                       "task, or one of --set task_file=...)")
    check.add_argument("--split", help="HoC only: the document split of the corpus folder (train, dev, test, all; "
                       "default all); other formats are one split per file")
    check.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    check.set_defaults(handler=_check)


def _check(args: argparse.Namespace) -> int:
    from clingen.datasets.readers import detect_format, read_task_data
    from clingen.datasets.summary import format_summary, summarize
    from clingen.errors import ConfigError
    from clingen.tasks.registry import get_task
    config = resolve_config(args, task=args.task)
    spec = get_task(config.task, config.task_file)
    if args.split is not None and detect_format(args.path) != "hoc":
        raise ConfigError(f"--split {args.split}: {args.path} is in the {detect_format(args.path)} format, which "
                          f"holds one split per file; --split chooses a document split of a HoC corpus folder only "
                          f"(leave it out, or give the file of the split you mean)")
    summary = summarize(spec, read_task_data(spec, args.path, args.split or "all"))
    print(json.dumps(summary, ensure_ascii=False) if args.json else format_summary(summary))
    return 0
