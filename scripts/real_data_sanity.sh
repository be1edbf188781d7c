#!/usr/bin/env bash
# Real-data sanity check of the training stage: the offline MiniLM encoder fine-tuned with Ray Train on
# the real NCBI-disease and GAD training splits (capped steps, CPU), evaluated on their real test splits.
#   usage: scripts/real_data_sanity.sh [SHARED_EVAL_DIR] [OUT_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
eval_dir="${1:-../shared/data/eval}"
out="${2:-runs/sanity}"
common=(--set training.fewshot_per_class=100000 --set training.fewshot_epochs=1 --set training.max_steps=300
        --set training.batch_size=16 --set training.num_workers=2 --set training.learning_rate=1e-4
        --set "training.storage_path=$out/ray")
.venv/bin/clingen train --task ncbi-disease --fewshot "$eval_dir/ncbi-disease/train.tsv" --out "$out/ncbi-disease" "${common[@]}"
.venv/bin/clingen evaluate --model "$out/ncbi-disease" --test "$eval_dir/ncbi-disease/test.tsv"
.venv/bin/clingen train --task gad --fewshot "$eval_dir/gad/train.tsv" --out "$out/gad" "${common[@]}"
.venv/bin/clingen evaluate --model "$out/gad" --test "$eval_dir/gad/test.tsv"
