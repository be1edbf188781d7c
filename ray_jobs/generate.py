"""`ray job submit` entry point for the main job, the same as `clingen generate`.

    ray job submit --working-dir . --runtime-env ray_jobs/runtime_env.yaml -- \
        python ray_jobs/generate.py --config configs/ncbi-disease.cpu.yaml --out s3://bucket/runs/ncbi
"""

from _entry import run  # ray_jobs/ is on sys.path when this file runs as a script

if __name__ == "__main__":
    run("generate")
