"""The generation stream (prompts -> generation -> parsing): a lazy Ray Dataset of prompt rows, the
generator processor(s), and the parse stage, wired in one place."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from clingen._imports import require
from clingen.config import ClinGenConfig, GeneratorConfig
from clingen.errors import ConfigError
from clingen.generation.models import check_chat_template, resolve_model_source
from clingen.generation.processors import LIGHT_STAGE_CPUS, build_vllm_processor
from clingen.generation.stages import ComposePrompts, ParseReplies, SecondStepPrompts, StageInputs
from clingen.tasks.spec import TaskSpec

# Each vLLM engine actor on a CPU node holds its placement bundle's one CPU (ray.data.llm, uni executor).
ENGINE_CPUS = 1.0
# ray.data.llm's Serve deployment stage takes no num_cpus, so each of its workers holds Ray's default 1 CPU.
SERVE_WORKER_CPUS = 1.0


@dataclass(frozen=True)
class Stream:
    """The parsed rows (a lazy Ray Dataset: nothing runs until it is consumed), the served model's name, and the
    generator's request counts so far (http: requests, retries, rate_limited, failed_rows; {} for engines)."""

    dataset: object
    model_name: str
    request_counts: Callable[[], dict]
    close: Callable[[], None]  # ends what the stream started beside Ray Data's own actors (the HTTP ledger)


def build_stream(config: ClinGenConfig, spec: TaskSpec, done_rows: np.ndarray) -> Stream:
    """The generation stream of the rows below generation.n not in `done_rows`."""
    ray = require("ray")
    # Each actor builds its graph, composer or checker once; a pool that grows from one with the load keeps
    # composing and parsing ahead of many engines (composition and checks are per row, so any actor will do).
    stage_pool = ray.data.ActorPoolStrategy(min_size=1, max_size=config.generation.stage_workers)
    steps = 2 if spec.family == "pair" else 1
    model_name, processor = build_generator(config, steps)
    inputs = StageInputs.for_run(config, spec, model_name)  # once, on the driver
    light = {"compute": stage_pool, "num_cpus": LIGHT_STAGE_CPUS, "batch_size": None}
    prompts = _prompt_rows(config.generation.n, _blocks(config)).map_batches(
        ComposePrompts, fn_constructor_kwargs={"inputs": inputs, "done_rows": done_rows}, **light)
    replies = processor(prompts)
    if spec.family == "pair":  # two steps as two stages of one stream
        first = replies.map_batches(ParseReplies, fn_constructor_kwargs={"inputs": inputs, "step": 1,
                                                                         "keep_prompt": True}, **light)
        replies = processor(first.map_batches(SecondStepPrompts, num_cpus=LIGHT_STAGE_CPUS, batch_size=None))
    parsed = replies.map_batches(ParseReplies, fn_constructor_kwargs={"inputs": inputs, "step": steps}, **light)
    return Stream(parsed, model_name, getattr(processor, "totals", dict), getattr(processor, "close", lambda: None))


def _prompt_rows(n: int, blocks: int):
    """ray.data.range(n) (one int64 column "id"), but read by light tasks: range's read tasks take a whole CPU
    each, which on a 2-CPU head kept the stream waiting for a CPU the engine held (it never started)."""
    ray = require("ray")
    from ray.data._internal.datasource.range_datasource import RangeDatasource
    return ray.data.read_datasource(RangeDatasource(n=n, block_format="arrow", column_name="id"),
                                    num_cpus=LIGHT_STAGE_CPUS, override_num_blocks=blocks)


def stream_cpu_demand(generator: GeneratorConfig, steps: int = 1) -> float:
    """Logical CPUs the stream holds at once: per generation step (a pair task has two) its engines or request
    workers and the parse stage, plus reading the row ids and composing prompts, and for two steps the second
    step's prompts; each light stage takes LIGHT_STAGE_CPUS.
    - vllm (job-owned CPU engines): `replicas` engines of ENGINE_CPUS per step. The preprocess task renders the
      chat template and tokenizes (processors.engine_request): Ray's chat-template and tokenize stages are off,
      so no actor of theirs holds a CPU. NER on one replica: 1.75 (2.0 with the chat-template stage, `ray status`
      on a 2-CPU head, Ray 2.60).
    - serve: one deployment-handle worker of SERVE_WORKER_CPUS (the pool starts at one); NER: 1.75 (1.5
      measured at its peak beside serve_config.yaml's applications, plus a transient preprocess task).
    - http: one request worker at LIGHT_STAGE_CPUS (the pool starts at one).
    GPU engines are not counted: they wait for GPU nodes, which an autoscaler may still have to start."""
    if generator.backend == "vllm":
        workers = steps * generator.replicas * ENGINE_CPUS
    else:
        workers = steps * (SERVE_WORKER_CPUS if generator.backend == "serve" else LIGHT_STAGE_CPUS)
    return workers + (2 + steps + steps - 1) * LIGHT_STAGE_CPUS


def check_cpu_capacity(demand: float, cluster_cpus: float, free_of: float | None = None) -> None:
    """Ray Data starts a fixed engine pool only when every actor fits, so a cluster with fewer logical CPUs
    than the stream holds waits at 0 rows for ever: refuse it at once. `cluster_cpus`: the cluster's logical
    CPUs, or with `free_of` (its total) those free now (the serve backend shares the cluster with Serve's
    replicas). Raises ConfigError naming both figures and the fix."""
    if cluster_cpus + 1e-9 >= demand:
        return
    have = (f"{cluster_cpus:g} of its {free_of:g} logical CPUs free (Serve's replicas hold the others)"
            if free_of is not None else f"{cluster_cpus:g} logical CPUs")
    raise ConfigError(
        f"this Ray cluster has {have} but the generation stream holds {demand:g} (each CPU vLLM engine "
        f"{ENGINE_CPUS:g}, each Serve handle worker {SERVE_WORKER_CPUS:g}, each light stage {LIGHT_STAGE_CPUS:g}); "
        f"it would wait at 0 rows. Give the head more logical CPUs (`ray start --head --num-cpus=8`, before "
        f"`serve run serve_config.yaml` when Serve shares it: the engines are the only busy actors, so "
        f"oversubscribing is safe), add nodes, or lower generator.replicas")


def build_generator(config: ClinGenConfig, steps: int = 1):
    """(model name, processor: a dataset -> replies callable) for the configured backend; the processor is
    applied `steps` times (a pair task: 2). Ray is initialised. Raises ConfigError when the stream of CPU
    engines cannot fit on the cluster, or that of the serve backend in the CPUs Serve left free
    (check_cpu_capacity)."""
    generator = config.generator
    if generator.backend == "http":
        from clingen.generation.http_stage import build_http_processor
        return generator.model.source, build_http_processor(generator, rows_per_block(config))
    ray = require("ray")
    if generator.backend == "serve":
        from clingen.generation.serve_backend import build_serve_processor
        check_cpu_capacity(stream_cpu_demand(generator, steps), ray.available_resources().get("CPU", 0.0),
                           free_of=ray.cluster_resources().get("CPU", 0.0))
        return generator.model.source, build_serve_processor(generator)
    use_gpu = _use_gpu(generator.device)
    if not use_gpu:  # GPU engines land on GPU nodes, which an autoscaler may still have to start
        check_cpu_capacity(stream_cpu_demand(generator, steps), ray.cluster_resources().get("CPU", 0.0))
    source = resolve_model_source(generator.model.source)
    check_chat_template(source)
    return source, build_vllm_processor(generator, source, config.seed, use_gpu)


def _use_gpu(device: str) -> bool:
    if device != "auto":
        return device == "gpu"
    return require("ray").cluster_resources().get("GPU", 0) > 0


def _blocks(config: ClinGenConfig) -> int:
    # Small blocks keep the stream moving (and shards committing) instead of composing everything first.
    # Later stages take whole blocks (batch_size=None), so no stage waits to fill a larger batch.
    generator = config.generator
    rows = generator.http_batch_size if generator.backend == "http" else generator.batch_size
    return max(1, min(4096, config.generation.n // rows))


def rows_per_block(config: ClinGenConfig) -> int:
    """Prompt rows in each block of the stream (the last may hold fewer)."""
    return -(-config.generation.n // _blocks(config))
