"""Serving edge (training -> serving): trained classifiers, and optionally the generator, on a fresh local Ray
instance behind one Ray Serve HTTP proxy, for `clingen serve`."""

from __future__ import annotations

from pathlib import Path

from clingen._imports import require
from clingen.errors import ConfigError
from clingen.training.card import ModelCard

CLASSIFIERS, GENERATOR = "classifiers", "generator"


def parse_models(specs: list[str]) -> dict[str, str]:
    """`NAME=DIR` or `DIR` (named by its model card's task) -> {name: folder}; ConfigError names a folder that
    is not a `clingen train` output or a name given twice."""
    models: dict[str, str] = {}
    for spec in specs:
        name, sep, folder = spec.partition("=")
        if not sep:
            name, folder = "", spec
        card = Path(folder) / "model_card.json"
        if not card.is_file():
            raise ConfigError(f"--model {spec}: {folder} has no model_card.json; expected a `clingen train --out` "
                              f"folder")
        # Read as prediction reads it: a broken card fails here with its file, before Ray starts.
        name = name or ModelCard.read(folder).task
        if name in models:
            raise ConfigError(f"--model {spec}: the name {name!r} is given twice; name them NAME=DIR")
        models[name] = folder
    if not models:
        raise ConfigError("clingen serve needs at least one --model (a `clingen train --out` folder)")
    return models


def start_services(models: dict[str, str], host: str, port: int, replicas: int, num_cpus: int,
                   generator: str | None = None) -> dict[str, str]:
    """Start a fresh local Ray instance and Serve on host:port with the classifiers (routes under /classifiers
    when the generator is served too, else at /) and the generator (OpenAI-compatible, at /v1). Returns
    {what: base URL}."""
    serve = require("ray.serve")
    from clingen.cluster import start_local_ray
    from clingen.serving.classifier_app import build_app
    # A fresh instance of its own, never a cluster found on the machine; ended by stop_services.
    start_local_ray(num_cpus, quiet=True)
    serve.start(http_options={"host": host, "port": port})
    shown = "127.0.0.1" if host == "0.0.0.0" else host
    urls = {}
    prefix = "/classifiers" if generator else "/"
    serve.run(build_app({"models": models, "min_replicas": replicas, "max_replicas": replicas}), name=CLASSIFIERS,
              route_prefix=prefix)
    urls[CLASSIFIERS] = f"http://{shown}:{port}{prefix.rstrip('/')}"
    if generator:
        from clingen.serving.generator_app import build_generator_app
        serve.run(build_generator_app({"model_source": generator, "device": "cpu"}), name=GENERATOR, route_prefix="/")
        urls[GENERATOR] = f"http://{shown}:{port}/v1"
    return urls


def stop_services() -> None:
    ray, serve = require("ray"), require("ray.serve")
    try:
        serve.shutdown()
    finally:
        ray.shutdown()
