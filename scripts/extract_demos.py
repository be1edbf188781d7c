"""Writes the demonstration pools shipped with the built-in tasks (clingen/tasks/demos/<task>.jsonl):
at most 5 real training examples per class, drawn with ClinGen's seeded few-shot sampler.

    python scripts/extract_demos.py [SHARED_EVAL_DIR]   (default ../shared/data/eval)

Only CC BY 4.0 datasets are shipped; HoC (GPL-3.0) is left to the user's own --fewshot split.
"""

from __future__ import annotations

import sys
from pathlib import Path

from clingen.datasets.readers import fewshot_sample, read_real_split
from clingen.datasets.records import NERExample, write_jsonl

POOL_PER_CLASS = 5
SEED = 0
SPLITS = {"ncbi-disease": "ncbi-disease/train.tsv", "bc5cdr-disease": "bc5cdr-disease/train.tsv",
          "gad": "gad/train.tsv", "mediqa-rqe": "mediqa-rqe/RQE_Train_8588_AMIA2016.xml"}


def main() -> None:
    root = Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/data/eval")
    out = Path(__file__).resolve().parents[1] / "clingen/tasks/demos"
    for task, relative in SPLITS.items():
        examples = read_real_split(task, root / relative)
        if isinstance(examples[0], NERExample):  # a demo without entities teaches nothing about tagging
            examples = [e for e in examples if e.spans and len(e.tokens) <= 40]
        pool = fewshot_sample(examples, POOL_PER_CLASS, SEED)
        write_jsonl(out / f"{task}.jsonl", pool)
        print(f"{task}: {len(pool)} demonstrations -> {out / f'{task}.jsonl'}")


if __name__ == "__main__":
    main()
