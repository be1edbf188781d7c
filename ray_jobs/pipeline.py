"""`ray job submit` entry point for `clingen pipeline`, with the same arguments."""

from _entry import run  # ray_jobs/ is on sys.path when this file runs as a script

if __name__ == "__main__":
    run("pipeline")
