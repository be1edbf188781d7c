"""The generator application for Ray Serve (serving edge, feeding generation): an OpenAI-compatible
endpoint built with `ray.serve.llm`, which `clingen generate` reaches over HTTP with generator.backend=http, or
through the handle of its `LLMServer:<model_id>` deployment with generator.backend=serve."""

from __future__ import annotations

from pydantic import Field

from clingen._imports import require
from clingen.config import EMBEDDED_GENERATOR, StrictModel


class GeneratorAppArgs(StrictModel):
    """`args:` of the generator application in serve_config.yaml."""

    model_id: str = Field("clingen-generator", description="Name clients put in the request's `model` field.")
    model_source: str = Field(EMBEDDED_GENERATOR, description="Local HF folder, hub id, or the embedded SmolLM2.")
    device: str = Field("cpu", pattern="^(cpu|gpu)$", description="cpu or gpu.")
    tensor_parallel_size: int = Field(1, ge=1, description="GPUs per replica (gpu only).")
    min_replicas: int = Field(1, ge=0, description="Autoscaling lower bound.")
    max_replicas: int = Field(1, ge=1, description="Autoscaling upper bound.")
    target_ongoing_requests: int = Field(32, ge=1, description="Autoscaling target per replica.")
    max_model_len: int = Field(2048, ge=64, description="Context length per request.")
    engine_kwargs: dict = Field(default_factory=dict, description="Extra vLLM engine arguments.")
    replica_cpus: float = Field(0.0, ge=0, description="CPUs held by each Serve replica actor itself, on top of "
                                "its engine's bundle (1 CPU, or 1 CPU per GPU). The replica only relays requests "
                                "to the engine, so 0 (Ray Serve LLM's default is 1) lets the generator and one "
                                "classifier replica fit a 2-CPU machine.")
    ingress_cpus: float = Field(0.0, ge=0, description="CPUs held by each replica of the OpenAI-compatible ingress "
                                "(it parses requests and forwards them to the engine replicas, as Serve's own "
                                "proxy does with 0 CPUs); Ray Serve's default is 1.")


def build_generator_app(args: dict):
    """`import_path: clingen.serving.generator_app:build_generator_app` in serve_config.yaml."""
    parsed = GeneratorAppArgs.model_validate(args or {})
    llm = require("ray.serve.llm")
    from clingen.generation.models import check_engine_kwargs, cpu_engine_kwargs, resolve_model_source
    source = resolve_model_source(parsed.model_source)
    engine_kwargs = {"max_model_len": parsed.max_model_len, "seed": 0}
    if parsed.device == "cpu":
        engine_kwargs.update(cpu_engine_kwargs())
        bundles = [{"CPU": 1}]
    else:
        engine_kwargs["tensor_parallel_size"] = parsed.tensor_parallel_size
        bundles = [{"GPU": 1, "CPU": 1}] * parsed.tensor_parallel_size
    engine_kwargs.update(parsed.engine_kwargs)
    check_engine_kwargs(engine_kwargs)
    config = llm.LLMConfig(
        model_loading_config={"model_id": parsed.model_id, "model_source": source},
        engine_kwargs=engine_kwargs,
        placement_group_config={"bundles": bundles},
        runtime_env={"env_vars": {"VLLM_HOST_IP": "127.0.0.1"}} if parsed.device == "cpu" else None,
        # ray.serve.llm adds the replica actor's CPUs to the engine's first bundle (LLMServer.get_deployment_options).
        deployment_config={"ray_actor_options": {"num_cpus": parsed.replica_cpus}, "autoscaling_config": {
            "min_replicas": parsed.min_replicas, "max_replicas": parsed.max_replicas,
            "target_ongoing_requests": parsed.target_ongoing_requests}},
        log_engine_metrics=False,
    )
    return llm.build_openai_app({"llm_configs": [config],
                                 "ingress_deployment_config": {"ray_actor_options": {"num_cpus": parsed.ingress_cpus}}})
