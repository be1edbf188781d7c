"""`clingen export`: a generation run's examples (or failures) as JSONL, Parquet or a Hugging Face `datasets` folder."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction) -> None:
    from clingen.runfolder.export import FORMATS
    cmd = sub.add_parser("export", help="write a generation run's examples as JSONL, Parquet or a `datasets` "
                         "folder (save_to_disk, labels as ClassLabel)")
    cmd.add_argument("run", help="a `clingen generate` output folder or URI")
    cmd.add_argument("--format", required=True, choices=FORMATS, help="jsonl: one JSON object per line; parquet: "
                     "one file; hf: a folder for datasets.load_from_disk")
    cmd.add_argument("--out", type=Path, required=True, help="the file (jsonl, parquet) or folder (hf) to write; "
                     "must not exist")
    cmd.add_argument("--failures", action="store_true", help="export the failure records (reason, raw reply) "
                     "instead of the examples")
    cmd.add_argument("--wait", action="store_true", help="when --out lies in a run folder another command is "
                     "writing, wait for it to finish instead of stopping")
    cmd.set_defaults(handler=_export)


def _export(args: argparse.Namespace) -> int:
    from clingen.runfolder.export import export_run
    if args.format == "hf":
        import datasets
        datasets.disable_progress_bars()  # the CLI prints its own one-line summary
    report = export_run(args.run, args.format, args.out, failures=args.failures, wait=args.wait)
    print(f"wrote {report.rows} {report.which} of {args.run} to {report.out} ({report.format})")
    return 0
