#!/usr/bin/env bash
# The evidence experiment's limits on NCBI-disease (issue 19; docs/results/evidence-cpu.md), measured with the
# experiment's own encoder and budget. Run after `clingen experiment --config configs/experiments/evidence-cpu.yaml
# --datasets ncbi-disease`, which it reads ClinGen-KG's generated set from:
#   - set size and step budget: the same encoder trained on N *real* training sentences for the same 300 steps
#     (N = ClinGen-KG's kept set), so the gap to ClinGen-KG is what its labels and texts cost;
#   - step budget: ClinGen-KG's set trained for 2x the steps (600).
# Each run prints one line "<what> seed <s>: entity F1 <x>". Needs ../shared (the real NCBI training split).
#   scripts/evidence_limits.sh [N] [SEEDS]    # defaults: ClinGen-KG's set size, "0 1"
set -euo pipefail
cd "$(dirname "$0")/.."
CLINGEN=${CLINGEN:-.venv/bin/clingen}
PY=${PY:-.venv/bin/python}
EXP=${EXP:-runs/experiments/evidence-cpu/ncbi-disease}
OUT=${OUT:-runs/experiments/evidence-limits}
TRAIN=${TRAIN:-../shared/data/eval/ncbi-disease/train.tsv}
TEST=clingen/tasks/testsets/ncbi-disease.test.tsv
CONFIG=configs/ncbi-disease.cpu.yaml
STEPS=300  # the experiment's training.total_steps
BATCH=32   # training.batch_size 16 x training.num_workers 2

# ClinGen-KG's generated set: the generate folder of the experiment whose manifest says strategy clingen-kg.
KG_SET=$($PY - "$EXP" <<'EOF'
import json, pathlib, sys
for manifest in sorted(pathlib.Path(sys.argv[1]).glob("generate-*/manifest.json")):
    data = json.loads(manifest.read_text())
    if data["config"]["prompts"]["strategy"] == "clingen-kg" and not data["config"]["generation"]["ner_label_completion"]:
        print(manifest.parent, data["counts"]["examples"])
        break
else:
    sys.exit(f"no ClinGen-KG generate folder with a manifest under {sys.argv[1]}; run the experiment first")
EOF
)
read -r KG_DIR KG_N <<<"$KG_SET"
N=${1:-$KG_N}
SEEDS=${2:-"0 1"}
EPOCHS=$(( (STEPS + (N + BATCH - 1) / BATCH - 1) / ((N + BATCH - 1) / BATCH) ))  # ceil(300 / steps per epoch)
mkdir -p "$OUT"

score() {  # <model folder> <label>: evaluate on the real test split, print the entity F1
  "$CLINGEN" evaluate --model "$1" --test "$TEST" --out "$1/eval" >/dev/null
  $PY -c "import json,sys; e=json.load(open('$1/eval/evaluation.json')); print(f\"$2: entity F1 {e['primary']['value']:.3f}\")" \
    | tee -a "$OUT/results.txt"
}

for seed in $SEEDS; do
  model="$OUT/real-$N-seed$seed"
  [ -f "$model/eval/evaluation.json" ] || {
    "$CLINGEN" train --config "$CONFIG" --fewshot "$TRAIN" --out "$model" --set training.fewshot_per_class="$N" \
      --set training.fewshot_epochs="$EPOCHS" --set training.synthetic_stage=false --set training.seed="$seed" \
      --set training.storage_path="$OUT/ray_train" >/dev/null
    score "$model" "real $N sentences x $EPOCHS epochs ($STEPS steps) seed $seed"; }
  model="$OUT/clingen-kg-600-steps-seed$seed"
  [ -f "$model/eval/evaluation.json" ] || {
    "$CLINGEN" train --config "$CONFIG" --train "$KG_DIR" --fewshot clingen/tasks/demos/ncbi-disease.jsonl \
      --out "$model" --set training.total_steps=600 --set training.fewshot_epochs=5 --set training.seed="$seed" \
      --set training.storage_path="$OUT/ray_train" >/dev/null
    score "$model" "clingen-kg $KG_N examples, 600 steps, seed $seed"; }
done
