"""`ray job submit` entry point for the main job (generation), the same as `clingen generate`.

    ray job submit --working-dir . --runtime-env ray_jobs/runtime_env.yaml -- \
        python ray_jobs/generate.py --config configs/ncbi-disease.cpu.yaml --out s3://bucket/runs/ncbi

Inside a job, Ray is already initialised by the job's driver connection; ClinGen joins that cluster.
"""

import os
import sys

from clingen.cli import main

if __name__ == "__main__":
    # Submitted jobs run on the cluster: join it (RAY_ADDRESS is set by the job supervisor).
    os.environ.setdefault("RAY_ADDRESS", "auto")
    sys.exit(main(["generate", *sys.argv[1:]]))
