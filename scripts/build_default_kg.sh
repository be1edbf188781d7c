#!/usr/bin/env bash
# Rebuilds the embedded default knowledge graph (clingen/kg/data) from the open sources.
#   usage: scripts/build_default_kg.sh [SHARED_KG_DIR]   (default ../shared/data/kg)
set -euo pipefail
cd "$(dirname "$0")/.."
exec .venv/bin/clingen kg build --source open-sources --path "${1:-../shared/data/kg}" --out clingen/kg/data
