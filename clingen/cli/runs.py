"""`clingen reparse` and `clingen audit` (datasets -> parsing/filtering, datasets -> quality).

Re-check a generation run's stored replies with today's rules, and measure the label fidelity of what a run
kept.
"""

from __future__ import annotations

import argparse
import json

from clingen.cli.common import add_config_options


def add_parsers(sub: argparse._SubParsersAction) -> None:
    reparse = sub.add_parser("reparse", help="re-run today's parsing and filters on every raw reply a generation "
                             "run stored, as a new version of its data/ and failures/")
    reparse.add_argument("out", help="a `clingen generate` output folder or URI")
    add_config_options(reparse)
    reparse.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    reparse.add_argument("--wait", action="store_true", help="when another command is writing the folder, wait "
                         "for it to finish instead of stopping")
    reparse.set_defaults(handler=_reparse)

    audit = sub.add_parser("audit", help="label fidelity of a generation run: topics labelled, spans that are "
                           "knowledge-graph names vs generic words or placeholders, near-copy pairs")
    audit.add_argument("out", help="a `clingen generate` output folder or URI")
    audit.add_argument("--json", action="store_true", help="print the audit as one JSON object")
    audit.set_defaults(handler=_audit)


def _reparse(args: argparse.Namespace) -> int:
    from clingen.config import config_from_dict, load_config
    from clingen.generation.reparse import reparse_run
    from clingen.runfolder.store import OutputStore
    overrides = None
    if args.config:
        overrides = load_config(args.config, args.overrides)
    elif args.overrides:  # the run's own config, with the user's changes (e.g. generation.require_topic=false)
        manifest = OutputStore.open_run(args.out).read_manifest()
        overrides = config_from_dict(manifest.config, args.overrides, f" of {args.out}", recorded=True)
    report = reparse_run(args.out, overrides, wait=args.wait)
    summary = {"out": report.out, "previous_version": report.previous_version, "changes": report.changes,
               "before": _counts(report.before), "after": _counts(report.after), "set_aside": report.set_aside}
    if args.json:
        print(json.dumps(summary))
        return 0
    before, after = summary["before"], summary["after"]
    print(f"reparsed {args.out}: {after['rows_done']} rows | examples {before['examples']} -> {after['examples']} | "
          + ", ".join(f"{name} {count}" for name, count in sorted(report.changes.items())))
    print(f"after: {after['examples']} examples + {after['rejected_rows']} rejected rows = {after['rows_done']} rows; "
          f"rejected rows by reason: {after['rejected_rows_by_reason']}")
    print(f"previous version: {report.previous_version}")
    return 0


def _counts(counts: dict) -> dict:
    keys = ("rows_done", "examples", "rejected_rows", "rejected_rows_by_reason", "rejected_mentions_by_reason")
    return {key: counts.get(key) for key in keys}


def _audit(args: argparse.Namespace) -> int:
    from clingen.quality.audit import audit_run, format_audit
    result = audit_run(args.out)
    print(json.dumps(result) if args.json else format_audit(result))
    return 0
