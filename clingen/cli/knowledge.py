"""`clingen topics` and `clingen styles`: LLM-proposed topic and style lists, through the generator."""

from __future__ import annotations

import argparse
from pathlib import Path

from clingen.cli.common import add_config_options, add_verbose_option, resolve_config


def add_parsers(sub: argparse._SubParsersAction) -> None:
    topics = sub.add_parser("topics", help="ask the generator for topics of an entity type (clingen-llm)")
    add_config_options(topics)
    topics.add_argument("--task", help="task name (config: task)")
    topics.add_argument("--entity-type", required=True, help="e.g. disease, chemical, symptom")
    topics.add_argument("--n", type=int, default=50, help="how many topics to keep")
    topics.add_argument("--out", type=Path, required=True, help="plain text file, one topic per line")
    add_verbose_option(topics)
    topics.set_defaults(handler=_topics)

    styles = sub.add_parser("styles", help="ask the generator for writing styles of a task")
    add_config_options(styles)
    styles.add_argument("--task", help="task name (config: task)")
    styles.add_argument("--n", type=int, default=10, help="how many styles to keep")
    styles.add_argument("--out", type=Path, required=True, help="plain text file, one style per line")
    add_verbose_option(styles)
    styles.set_defaults(handler=_styles)


def _topics(args: argparse.Namespace) -> int:
    from clingen.generation.proposals import propose_topics
    items = propose_topics(resolve_config(args, task=args.task), args.entity_type, args.n, args.out,
                           quiet=not args.verbose)
    return _report(items, "topics", args.out, f"--set prompts.topics_file={args.out} --strategy clingen-llm")


def _styles(args: argparse.Namespace) -> int:
    from clingen.generation.proposals import propose_styles
    items = propose_styles(resolve_config(args, task=args.task), args.n, args.out, quiet=not args.verbose)
    return _report(items, "styles", args.out, f"--set prompts.styles_file={args.out}")


def _report(items: list[str], what: str, out: Path, use: str) -> int:
    """The summary line; exit code 3 when every proposal was rejected (the file's header says how many were)."""
    if not items:
        print(f"kept no {what}: every proposed item was rejected (an echo of the prompt or its demonstrations, a "
              f"placeholder, a duplicate); {out} holds only its header. A larger generator proposes usable ones")
        return 3
    print(f"wrote {len(items)} {what} to {out}; use them with {use}")
    return 0
