"""`clingen topics` and `clingen styles`: LLM-proposed topic and style lists, through the generator."""

from __future__ import annotations

import argparse
from pathlib import Path

from clingen.cli.common import add_config_options, resolve_config


def add_parsers(sub: argparse._SubParsersAction) -> None:
    topics = sub.add_parser("topics", help="ask the generator for topics of an entity type (clingen-llm)")
    add_config_options(topics)
    topics.add_argument("--task", help="task name (config: task)")
    topics.add_argument("--entity-type", required=True, help="e.g. disease, chemical, symptom")
    topics.add_argument("--n", type=int, default=50, help="how many topics to keep")
    topics.add_argument("--out", type=Path, required=True, help="plain text file, one topic per line")
    topics.set_defaults(handler=_topics)

    styles = sub.add_parser("styles", help="ask the generator for writing styles of a task")
    add_config_options(styles)
    styles.add_argument("--task", help="task name (config: task)")
    styles.add_argument("--n", type=int, default=10, help="how many styles to keep")
    styles.add_argument("--out", type=Path, required=True, help="plain text file, one style per line")
    styles.set_defaults(handler=_styles)


def _topics(args: argparse.Namespace) -> int:
    from clingen.generation.proposals import propose_topics
    items = propose_topics(resolve_config(args, task=args.task), args.entity_type, args.n, args.out)
    print(f"wrote {len(items)} topics to {args.out}; use them with --set prompts.topics_file={args.out} "
          f"--strategy clingen-llm")
    return 0 if items else 3


def _styles(args: argparse.Namespace) -> int:
    from clingen.generation.proposals import propose_styles
    items = propose_styles(resolve_config(args, task=args.task), args.n, args.out)
    print(f"wrote {len(items)} styles to {args.out}; use them with --set prompts.styles_file={args.out}")
    return 0 if items else 3
