"""The `clingen` command line: one entry point whose subcommands call each stage's library functions."""

from __future__ import annotations

import argparse
import sys
import tempfile
import traceback
from collections.abc import Callable

from clingen.cli import (data, experiment, export, generate, kg, knowledge, pipeline, prompts, quality, runs, serve,
                         train)
from clingen.cli.console import route_library_logs
from clingen.errors import ClinGenError

EXIT_INTERRUPTED = 130  # 128 + SIGINT, as a shell reports a command stopped by Ctrl-C


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
    export.add_parser(sub)
    serve.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    route_library_logs()
    return run_handler(args.handler, args)


def run_handler(handler: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    """Run one subcommand's handler; its exit code. An expected failure (ClinGenError, a missing file or
    package, an OS refusal) prints one `clingen: error:` line and returns 2; Ctrl-C one `clingen: interrupted`
    line and 130; anything else is a bug: one line naming it and the file holding its full traceback, and 1."""
    try:
        return handler(args)
    except KeyboardInterrupt as exc:  # Ctrl-C: what was committed stays; the handler may say how to resume
        print(f"clingen: interrupted{f': {exc}' if str(exc) else ''}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except (ClinGenError, FileNotFoundError, ImportError) as exc:
        print(f"clingen: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `clingen kg sample | head` is a normal way to use it
        sys.stderr.close()
        return 0
    except OSError as exc:  # a read-only --out, a path under a file, a folder given as a file: the OS names it
        print(f"clingen: error: {exc}", file=sys.stderr)
        return 2
    except RecursionError as exc:
        if "decoding a JSON" not in str(exc):  # not an input's JSON nested deeper than json's parser goes: a bug
            return _bug(exc)
        print(f"clingen: error: an input holds JSON nested deeper than can be read ({exc}); expected JSON of the "
              f"depth ClinGen's files and records have", file=sys.stderr)
        return 2
    except Exception as exc:  # noqa: BLE001 - a bug: one line for the console, the traceback kept in a file
        return _bug(exc)


def _bug(exc: BaseException) -> int:
    """One line naming an unexpected exception and the file holding its traceback; exit status 1. Called while
    the exception is handled (the traceback is the current one)."""
    first_line = (str(exc).strip().splitlines() or [""])[0]
    print(f"clingen: error: unexpected {type(exc).__name__}: {first_line} (full traceback: "
          f"{_save_traceback()})", file=sys.stderr)
    return 1


def _save_traceback() -> str:
    """Write the current exception's traceback to a new file in the temporary folder; its path."""
    with tempfile.NamedTemporaryFile("w", prefix="clingen-error-", suffix=".txt", delete=False) as handle:
        traceback.print_exc(file=handle)
        return handle.name
