"""`ray job submit` entry point for `clingen topics` (same arguments); see ray_jobs/generate.py for the command."""

import os
import sys

from clingen.cli import main

if __name__ == "__main__":
    os.environ.setdefault("RAY_ADDRESS", "auto")  # join the cluster the job runs in
    sys.exit(main(["topics", *sys.argv[1:]]))
