"""The generation stream (prompts -> generation -> parsing): a lazy Ray Dataset of prompt rows, the
generator processor(s), and the parse stage, wired in one place."""

from __future__ import annotations

import numpy as np

from clingen._imports import require
from clingen.config import ClinGenConfig
from clingen.generation.models import check_chat_template, resolve_model_source
from clingen.generation.processors import LIGHT_STAGE_CPUS, build_vllm_processor
from clingen.generation.stages import ComposePrompts, ParseReplies, SecondStepPrompts
from clingen.tasks.spec import TaskSpec



def build_stream(config: ClinGenConfig, spec: TaskSpec, done_rows: np.ndarray):
    """(dataset of parsed rows, model name). Nothing runs until the dataset is consumed."""
    ray = require("ray")
    one_actor = ray.data.ActorPoolStrategy(size=1)  # each builds its graph, composer or checker once
    model_name, processor = build_generator(config)
    config_json = config.model_dump_json()
    prompts = ray.data.range(config.generation.n, override_num_blocks=_blocks(config)).map_batches(
        ComposePrompts, fn_constructor_args=(config_json, done_rows), batch_size=None, compute=one_actor,
        num_cpus=LIGHT_STAGE_CPUS)
    replies = processor(prompts)
    if spec.family == "pair":  # two steps as two stages of one stream
        first = replies.map_batches(ParseReplies, fn_constructor_args=(config_json, model_name, 1, True),
                                    compute=one_actor, num_cpus=LIGHT_STAGE_CPUS, batch_size=None)
        replies = processor(first.map_batches(SecondStepPrompts, num_cpus=LIGHT_STAGE_CPUS, batch_size=None))
    return replies.map_batches(ParseReplies, fn_constructor_args=(config_json, model_name, 2 if spec.family == "pair" else 1),
                               compute=one_actor, num_cpus=LIGHT_STAGE_CPUS, batch_size=None), model_name


def build_generator(config: ClinGenConfig):
    """(model name, processor: a dataset -> replies callable) for the configured backend. Ray is initialised."""
    generator = config.generator
    if generator.backend == "http":
        from clingen.generation.http import build_http_processor
        return generator.model.source, build_http_processor(generator)
    if generator.backend == "serve":
        from clingen.generation.serve_backend import build_serve_processor
        return generator.model.source, build_serve_processor(generator)
    source = resolve_model_source(generator.model.source)
    check_chat_template(source)
    return source, build_vllm_processor(generator, source, config.seed, _use_gpu(generator.device))


def _use_gpu(device: str) -> bool:
    if device != "auto":
        return device == "gpu"
    return require("ray").cluster_resources().get("GPU", 0) > 0


def _blocks(config: ClinGenConfig) -> int:
    # Small blocks keep the stream moving (and shards committing) instead of composing everything first.
    # Later stages take whole blocks (batch_size=None), so no stage waits to fill a larger batch.
    return max(1, min(4096, config.generation.n // config.generator.batch_size))
