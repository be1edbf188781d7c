"""`ray job submit` entry point for `clingen evaluate` (same arguments); see ray_jobs/generate.py for the command."""

import os
import sys

from clingen.cli import main

if __name__ == "__main__":
    os.environ.setdefault("RAY_ADDRESS", "auto")  # join the cluster the job runs in
    sys.exit(main(["evaluate", *sys.argv[1:]]))
