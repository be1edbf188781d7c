"""The pipeline's deploy step (training -> serving): puts a trained model behind the classifier application on
Ray Serve, checks it answers over HTTP, and optionally keeps serving until interrupted."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from clingen.config import PipelineConfig
from clingen.errors import StepFailed

APP_NAME = "clingen-classifiers"
logger = logging.getLogger("clingen.pipeline")


def deploy_classifier(task: str, model_dir: Path, settings: PipelineConfig) -> dict:
    import requests
    from ray import serve

    from clingen.serving.classifier_app import build_app
    serve.start(http_options={"host": settings.deploy_host, "port": settings.deploy_port})
    serve.run(build_app({"models": {task: str(model_dir)}}), name=APP_NAME, route_prefix="/")
    host = "127.0.0.1" if settings.deploy_host == "0.0.0.0" else settings.deploy_host
    base = f"http://{host}:{settings.deploy_port}"
    health = requests.get(f"{base}/healthz", timeout=60)
    if health.status_code != 200 or task not in health.json().get("models", []):
        raise StepFailed(f"the deployed service at {base} answered /healthz with {health.status_code}: "
                         f"{health.text[:200]}")
    logger.info("serving %s at %s/v1/models/%s/predict (model %s)", task, base, task, model_dir)
    if settings.deploy_block:
        logger.info("serving until interrupted (Ctrl-C)")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            serve.delete(APP_NAME)
    return {"url": f"{base}/v1/models/{task}/predict", "health": health.json(), "app": APP_NAME}
