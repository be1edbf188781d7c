"""Shared edge helper: imports heavy optional libraries lazily, with an install hint when missing."""

from __future__ import annotations

import importlib
from types import ModuleType

_HINTS = {
    "vllm": "pip install -e '.[cpu]' (CPU) or pip install -e '.[gpu]' (GPU), or run scripts/setup.sh",
    "ray": "pip install 'ray[data,train,serve]==2.60.0'",
    "torch": "pip install torch==2.13.0 (CPU) or your CUDA build of torch",
    "transformers": "pip install 'transformers>=5.16.1,<5.20'",
    "datasketch": "pip install datasketch",
    "gguf": "pip install gguf",
    "datasets": "pip install 'datasets>=3'",
}


def require(module: str) -> ModuleType:
    """Import `module`, or raise ImportError that says how to install it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        top = module.split(".")[0]
        hint = _HINTS.get(top, f"pip install {top}")
        raise ImportError(f"ClinGen needs '{module}' for this step but it is not importable ({exc}). "
                          f"Install it with: {hint}") from exc
