"""The `clingen` command line: one entry point whose subcommands call each stage's library functions."""

from __future__ import annotations

import argparse
import sys

from clingen.cli import data, experiment, generate, kg, knowledge, pipeline, prompts, quality, runs, train
from clingen.errors import ClinGenError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="clingen", description="ClinGen: knowledge-infused synthetic "
                                     "clinical NLP training data with Ray and vLLM.")
    sub = parser.add_subparsers(dest="command", required=True)
    kg.add_parser(sub)
    prompts.add_parser(sub)
    generate.add_parser(sub)
    runs.add_parsers(sub)
    knowledge.add_parsers(sub)
    train.add_parsers(sub)
    quality.add_parsers(sub)
    pipeline.add_parser(sub)
    experiment.add_parser(sub)
    data.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except (ClinGenError, FileNotFoundError, ImportError) as exc:
        print(f"clingen: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `clingen kg sample | head` is a normal way to use it
        sys.stderr.close()
        return 0

