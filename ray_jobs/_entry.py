"""Shared body of the `ray job submit` entry points: join the job's cluster, run one clingen subcommand."""

import os
import sys

from clingen.cli import main


def run(subcommand: str) -> None:
    # Submitted jobs run on the cluster: join it (the job supervisor sets RAY_ADDRESS; "auto" finds it).
    os.environ.setdefault("RAY_ADDRESS", "auto")
    sys.exit(main([subcommand, *sys.argv[1:]]))
