"""The Ray Serve generator through its deployment handle (generation stage edge): `generator.backend=serve` sends
prompt rows to the `chat` method of the LLMServer deployment that serve_config.yaml's `generator` application
runs, through `ray.data.llm`'s Serve deployment processor, with no HTTP hop.

The request body is the HTTP backend's (`http.chat_payload`, JSON replies constrained with response_format), and
the rows that come back carry the same reply columns (`http.reply_from_response`, `http.failed_reply`), so the
parse stage reads both alike."""

from __future__ import annotations

import functools

from clingen._batches import plain
from clingen._imports import require
from clingen.config import GeneratorConfig
from clingen.errors import ConfigError
from clingen.generation.contracts import GENERATE
from clingen.generation.http import chat_payload, failed_reply, reply_from_response
from clingen.generation.processors import LIGHT_STAGE_CPUS

_LIGHT_STAGE = {"num_cpus": LIGHT_STAGE_CPUS}
REQUEST_TYPE = "ChatCompletionRequest"
# States in which the deployment takes requests: while an app (re)deploys, requests wait for a replica.
_SERVING = ("RUNNING", "DEPLOYING")
# What the Serve stage adds to a row: the ChatCompletionResponse (or ErrorResponse) fields merged in, its own
# bookkeeping, and the request it popped (a truncated string on an error row). The prompt columns are kept.
_RESPONSE_COLUMNS = frozenset((
    "id", "object", "created", "model", "choices", "usage", "service_tier", "system_fingerprint", "prompt_logprobs",
    "prompt_token_ids", "prompt_text", "kv_transfer_params", "ec_transfer_params", "metrics", "error",
    "request_id", "batch_uuid", "time_taken", "method", "dtype", "request_kwargs", "__inference_error__"))


def llm_server_deployment(model_id: str) -> str:
    """The deployment `ray.serve.llm.build_openai_app` makes for a model: "LLMServer:" and the model id with '/'
    as '--' and '.' as '_' (ray/llm/_internal/serve/core/server/builder.py, `_get_deployment_name`)."""
    return "LLMServer:" + model_id.replace("/", "--").replace(".", "_")


def serve_target(config: GeneratorConfig) -> tuple[str, str]:
    """(application, deployment) that the serve backend calls."""
    return config.serve_app, config.serve_deployment or llm_server_deployment(config.model.source)


def _state(value) -> str:
    return str(getattr(value, "value", value))  # Serve's statuses are str enums


def check_serve_app(config: GeneratorConfig, status=None) -> str:
    """Before any row is sent: the application must be on this Ray cluster, serving, with the deployment; else a
    ConfigError names what is running instead. `status`: a `ray.serve.status()` result (fetched when None).
    Returns the deployment name."""
    app_name, deployment = serve_target(config)
    if status is None:
        status = require("ray.serve").status()  # an empty status when no Serve runs on the cluster
    apps = status.applications
    if app_name not in apps:
        running = ", ".join(f"{name} ({_state(app.status)})" for name, app in apps.items()) or "none"
        raise ConfigError(f"generator.serve_app={app_name!r}: no Serve application of that name on this Ray "
                          f"cluster (applications: {running}); start it (`serve run serve_config.yaml`), or join "
                          f"the cluster that runs it (cluster.address=auto), or name a running one")
    app = apps[app_name]
    if _state(app.status) not in _SERVING:
        raise ConfigError(f"generator.serve_app={app_name!r} is {_state(app.status)}, not RUNNING: "
                          f"{str(app.message)[:500] or 'see `serve status`'}")
    if deployment not in app.deployments:
        models = [name.split(":", 1)[1] for name in app.deployments if name.startswith("LLMServer:")]
        hint = (f"set generator.model.source to the model id it serves ({', '.join(models)})" if models
                else "set generator.serve_deployment")
        raise ConfigError(f"generator.serve_app={app_name!r} has no deployment {deployment!r} (it has: "
                          f"{', '.join(app.deployments) or 'none'}); {hint}")
    return deployment


def request_row(config: GeneratorConfig, row: dict) -> dict:
    """Preprocess: the Serve stage's inputs for one prompt row, a `chat` call with the HTTP backend's body (the
    stage builds a ChatCompletionRequest from `request_kwargs`). Not streamed, so that the first item the
    deployment yields is the whole reply."""
    GENERATE.check(row)
    return {"method": "chat", "dtype": REQUEST_TYPE, "request_kwargs": {**chat_payload(config, row), "stream": False}}


def reply_row(row: dict) -> dict:
    """A row out of the Serve stage -> the prompt columns and generated_text, num_input_tokens,
    num_generated_tokens, finish_reason and `__inference_error__` (None, or why the row failed). A row fails
    when its request raised (the stage's error row) or when the deployment answered with an ErrorResponse."""
    kept = {k: v for k, v in row.items() if k not in _RESPONSE_COLUMNS}
    if row.get("__inference_error__"):
        return {**kept, **failed_reply(f"serve request failed: {str(row['__inference_error__'])[:1000]}")}
    response = {k: row.get(k) for k in ("object", "choices", "usage", "error")}
    return {**kept, **reply_from_response(response)}


class PlainChatRequest:
    """The Serve stage's request type (its dtype_mapping entry, which must be a class): constructing it gives a
    ChatCompletionRequest built from the row's request_kwargs with plain Python values. The stage hands nested
    lists over as numpy arrays (Arrow -> numpy), which pydantic passes through into the JSON schema, and vLLM's
    engine then fails on every request (EngineGenerateError) when it serialises the schema for the grammar."""

    def __new__(cls, **request_kwargs):
        request_type = getattr(require("ray.serve.llm.openai_api_models"), REQUEST_TYPE)
        return request_type(**plain(request_kwargs))


def build_serve_processor(config: GeneratorConfig):
    """A dataset -> replies function over the Serve deployment processor (checks the application first; Ray is
    already initialised). Requests that raise (a timeout, a request the deployment refuses to build) become
    error rows, counted as generation errors; a deployment that is gone fails the job."""
    deployment = check_serve_app(config)
    llm = require("ray.data.llm")
    processor_config = llm.ServeDeploymentProcessorConfig(
        deployment_name=deployment, app_name=config.serve_app, dtype_mapping={REQUEST_TYPE: PlainChatRequest},
        should_continue_on_error=True, request_timeout_s=config.request_timeout_s, batch_size=config.batch_size,
        # (min, max): an autoscaling pool from one worker, as the http backend's. Each worker holds 1 logical CPU
        # (the stage takes no num_cpus), and a fixed pool would claim them all at start.
        concurrency=(1, config.http_concurrency))
    processor = llm.build_processor(processor_config, preprocess=functools.partial(request_row, config),
                                    preprocess_map_kwargs=_LIGHT_STAGE, postprocess_map_kwargs=_LIGHT_STAGE)

    def replies(dataset):
        # Not as the processor's postprocess: with should_continue_on_error, Ray resets `__inference_error__` to ""
        # on every row the stage itself did not fail, which would hide an ErrorResponse. Same CPUs: Ray fuses the
        # two maps into one task.
        return processor(dataset).map(reply_row, **_LIGHT_STAGE)

    return replies
