"""The generation stream (prompts -> generation -> parsing): a lazy Ray Dataset of prompt rows, the
generator processor(s), and the parse stage, wired in one place."""

from __future__ import annotations

import numpy as np

from clingen._imports import require
from clingen.config import ClinGenConfig, GeneratorConfig
from clingen.errors import ConfigError
from clingen.generation.models import check_chat_template, resolve_model_source
from clingen.generation.processors import LIGHT_STAGE_CPUS, build_vllm_processor
from clingen.generation.stages import ComposePrompts, ParseReplies, SecondStepPrompts
from clingen.tasks.spec import TaskSpec

# Each vLLM engine actor on a CPU node holds its placement bundle's one CPU (ray.data.llm, uni executor).
ENGINE_CPUS = 1.0


def build_stream(config: ClinGenConfig, spec: TaskSpec, done_rows: np.ndarray):
    """(dataset of parsed rows, model name). Nothing runs until the dataset is consumed."""
    ray = require("ray")
    one_actor = ray.data.ActorPoolStrategy(size=1)  # each builds its graph, composer or checker once
    steps = 2 if spec.family == "pair" else 1
    model_name, processor = build_generator(config, steps)
    config_json = config.model_dump_json()
    prompts = _prompt_rows(config.generation.n, _blocks(config)).map_batches(
        ComposePrompts, fn_constructor_args=(config_json, done_rows), batch_size=None, compute=one_actor,
        num_cpus=LIGHT_STAGE_CPUS)
    replies = processor(prompts)
    if spec.family == "pair":  # two steps as two stages of one stream
        first = replies.map_batches(ParseReplies, fn_constructor_args=(config_json, model_name, 1, True),
                                    compute=one_actor, num_cpus=LIGHT_STAGE_CPUS, batch_size=None)
        replies = processor(first.map_batches(SecondStepPrompts, num_cpus=LIGHT_STAGE_CPUS, batch_size=None))
    return replies.map_batches(ParseReplies, fn_constructor_args=(config_json, model_name, 2 if spec.family == "pair" else 1),
                               compute=one_actor, num_cpus=LIGHT_STAGE_CPUS, batch_size=None), model_name


def _prompt_rows(n: int, blocks: int):
    """ray.data.range(n) (one int64 column "id"), but read by light tasks: range's read tasks take a whole CPU
    each, which on a 2-CPU head kept the stream waiting for a CPU the engine held (it never started)."""
    ray = require("ray")
    from ray.data._internal.datasource.range_datasource import RangeDatasource
    return ray.data.read_datasource(RangeDatasource(n=n, block_format="arrow", column_name="id"),
                                    num_cpus=LIGHT_STAGE_CPUS, override_num_blocks=blocks)


def stream_cpu_demand(generator: GeneratorConfig, steps: int = 1) -> float:
    """Logical CPUs a stream with job-owned CPU engines holds at once: per generation step (a pair task has
    two) `replicas` engines of ENGINE_CPUS and two light stages (chat template, parse), plus reading the row ids
    and composing prompts, and for two steps the second step's prompts; each light stage takes
    LIGHT_STAGE_CPUS. NER on one replica: 2.0. Measured with `ray status` on a 2-CPU head, Ray 2.60."""
    light = 2 + 2 * steps + (steps - 1)
    return steps * generator.replicas * ENGINE_CPUS + light * LIGHT_STAGE_CPUS


def check_cpu_capacity(demand: float, cluster_cpus: float) -> None:
    """Ray Data starts a fixed engine pool only when every actor fits, so a cluster with fewer logical CPUs
    than the stream holds waits at 0 rows for ever: refuse it at once. Raises ConfigError naming both."""
    if cluster_cpus + 1e-9 < demand:
        raise ConfigError(
            f"this Ray cluster has {cluster_cpus:g} logical CPUs but the generation stream holds {demand:g} "
            f"(each CPU vLLM engine {ENGINE_CPUS:g}, each light stage {LIGHT_STAGE_CPUS:g}); it would wait "
            f"at 0 rows. Give the head more logical CPUs (`ray start --head --num-cpus=8`: the engines are the "
            f"only busy actors, so oversubscribing is safe), add nodes, or lower generator.replicas")


def build_generator(config: ClinGenConfig, steps: int = 1):
    """(model name, processor: a dataset -> replies callable) for the configured backend; the processor is
    applied `steps` times (a pair task: 2). Ray is initialised. Raises ConfigError when CPU engines cannot
    fit on the cluster (check_cpu_capacity)."""
    generator = config.generator
    if generator.backend == "http":
        from clingen.generation.http import build_http_processor
        return generator.model.source, build_http_processor(generator)
    if generator.backend == "serve":
        from clingen.generation.serve_backend import build_serve_processor
        return generator.model.source, build_serve_processor(generator)
    use_gpu = _use_gpu(generator.device)
    if not use_gpu:  # GPU engines land on GPU nodes, which an autoscaler may still have to start
        check_cpu_capacity(stream_cpu_demand(generator, steps), require("ray").cluster_resources().get("CPU", 0.0))
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
    return max(1, min(4096, config.generation.n // config.generator.batch_size))
