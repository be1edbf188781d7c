"""generator.backend=serve without Ray: its config, the application check against `ray.serve.status()`-shaped
objects, and the pre/postprocess functions on plain dicts shaped as ray.data.llm's Serve deployment stage hands
them over (a ChatCompletionResponse.model_dump() merged into the row, an ErrorResponse, a request that raised)."""

from __future__ import annotations

import json
from enum import Enum
from types import SimpleNamespace

import numpy as np
import pytest

from clingen.config import GeneratorConfig, field_kind, load_config
from clingen.errors import ConfigError
from clingen.generation.commits import ShardBuffer
from clingen.generation.job import RunCounters, _absorb
from clingen.generation.serve_backend import (PlainChatRequest, check_serve_app, llm_server_deployment, reply_row, request_row,
                                              serve_target)
from clingen.generation.stages import ComposePrompts, ParseReplies, StageInputs
from clingen.parsing.dedup import Deduplicator

pytestmark = pytest.mark.unit

SCHEMA = {"type": "object", "properties": {"sentence": {"type": "string", "maxLength": 80}},
          "required": ["sentence"], "additionalProperties": False}
PROMPT = {"row_id": 3, "topic": "gout", "messages": [{"role": "user", "content": "Write one sentence."}],
          "json_schema": json.dumps(SCHEMA), "placeholder": None}


def response(content: str, prompt_tokens: int = 12, completion_tokens: int = 7, finish: str = "stop") -> dict:
    """ChatCompletionResponse(...).model_dump() as vLLM 0.32 under Ray 2.60 writes it."""
    return {"id": "chatcmpl-8b377326f4ee0075", "object": "chat.completion", "created": 1796353594,
            "model": "clingen-generator",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content, "refusal": None,
                                                 "annotations": None, "audio": None, "function_call": None,
                                                 "reasoning": None},
                         "logprobs": None, "finish_reason": finish, "stop_reason": None, "token_ids": None,
                         "routed_experts": None}],
            "service_tier": None, "system_fingerprint": None,
            "usage": {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens + completion_tokens,
                      "completion_tokens": completion_tokens, "prompt_tokens_details": None,
                      "completion_tokens_details": None},
            "prompt_logprobs": None, "prompt_token_ids": None, "prompt_text": None, "kv_transfer_params": None,
            "ec_transfer_params": None, "metrics": None}


ERROR_RESPONSE = {"error": {"message": "The model `smol` does not exist.", "type": "NotFoundError", "param": None,
                            "code": 404}}


def through_stage(prompt: dict, config: GeneratorConfig, output: dict | None = None, raised: str = "") -> dict:
    """What ServeDeploymentStageUDF makes of a preprocessed row: it pops request_kwargs and merges the first item
    the deployment yields (model_dump()) with its bookkeeping; a recoverable exception gives an error row that
    keeps the input columns and the request as a truncated string."""
    row = {**prompt, **request_row(config, prompt)}
    kwargs = row.pop("request_kwargs")
    if raised:
        return {**row, "batch_uuid": "ab12", "__inference_error__": raised, "request_kwargs": str(kwargs)[:200]}
    return {**row, **output, "request_id": "0", "batch_uuid": "ab12", "time_taken": 0.4, "__inference_error__": ""}


def test_serve_backend_config():
    config = GeneratorConfig(backend="serve")
    assert (config.serve_app, config.serve_deployment) == ("generator", None)
    loaded = load_config(overrides=["generator.backend=serve", "generator.serve_app=gen2",
                                    "generator.serve_deployment=LLMServer:qwen"]).generator
    assert (loaded.backend, loaded.serve_app, loaded.serve_deployment) == ("serve", "gen2", "LLMServer:qwen")
    with pytest.raises(ConfigError, match=r"generator.backend: Input should be 'vllm', 'http' or 'serve'"):
        load_config(overrides=["generator.backend=serv"])
    with pytest.raises(ConfigError, match=r"generator.serve_app: String should have at least 1 character"):
        load_config(overrides=["generator.backend=serve", "generator.serve_app=''"])
    # Where and how it runs, not what it makes: moving a run between backends resumes the same dataset.
    assert field_kind(GeneratorConfig, "serve_app") is False and field_kind(GeneratorConfig, "backend") is False
    http = load_config(overrides=["generator.backend=http", "generator.url=http://127.0.0.1:8000/v1"])
    serve = load_config(overrides=["generator.backend=serve", "generator.serve_app=gen2"])
    assert http.dataset_fingerprint() == serve.dataset_fingerprint()


def test_the_deployment_is_named_as_build_openai_app_names_it():
    assert llm_server_deployment("clingen-generator") == "LLMServer:clingen-generator"
    assert llm_server_deployment("Qwen/Qwen2.5-7B-Instruct") == "LLMServer:Qwen--Qwen2_5-7B-Instruct"
    config = GeneratorConfig(backend="serve", model={"source": "clingen-generator"})
    assert serve_target(config) == ("generator", "LLMServer:clingen-generator")
    custom = GeneratorConfig(backend="serve", serve_app="llm", serve_deployment="MyServer:x")
    assert serve_target(custom) == ("llm", "MyServer:x")


class AppState(str, Enum):  # as ray.serve.schema.ApplicationStatus
    RUNNING = "RUNNING"
    DEPLOYING = "DEPLOYING"
    DEPLOY_FAILED = "DEPLOY_FAILED"


def serve_status(**apps) -> SimpleNamespace:
    """A ray.serve.status() result: applications by name, each with a status, a message and its deployments."""
    return SimpleNamespace(applications={
        name: SimpleNamespace(status=state, message=message, deployments={d: object() for d in deployments})
        for name, (state, message, deployments) in apps.items()})


def test_the_application_check_names_what_runs_instead():
    config = GeneratorConfig(backend="serve", model={"source": "clingen-generator"})
    generator = (AppState.RUNNING, "", ["OpenAiIngress", "LLMServer:clingen-generator"])
    assert check_serve_app(config, serve_status(generator=generator)) == "LLMServer:clingen-generator"
    assert check_serve_app(config, serve_status(generator=(AppState.DEPLOYING, "", generator[2]))) == \
        "LLMServer:clingen-generator"  # requests wait for the replica
    missing = GeneratorConfig(backend="serve", serve_app="missing", model={"source": "clingen-generator"})
    with pytest.raises(ConfigError, match=r"generator.serve_app='missing': no Serve application of that name on "
                                          r"this Ray cluster \(applications: generator \(RUNNING\), classifiers "
                                          r"\(RUNNING\)\)"):
        check_serve_app(missing, serve_status(generator=generator, classifiers=(AppState.RUNNING, "", ["Api"])))
    with pytest.raises(ConfigError, match=r"\(applications: none\); start it \(`serve run serve_config.yaml`\)"):
        check_serve_app(config, serve_status())  # no Serve on the cluster: ray.serve.status() is empty
    with pytest.raises(ConfigError, match="'generator' is DEPLOY_FAILED, not RUNNING: engine did not start"):
        check_serve_app(config, serve_status(generator=(AppState.DEPLOY_FAILED, "engine did not start", [])))
    embedded = GeneratorConfig(backend="serve")  # the model source left at the embedded SmolLM2
    with pytest.raises(ConfigError, match=r"has no deployment 'LLMServer:embedded:smollm2-135m-instruct' \(it has: "
                                          r"OpenAiIngress, LLMServer:clingen-generator\); set generator.model.source "
                                          r"to the model id it serves \(clingen-generator\)"):
        check_serve_app(embedded, serve_status(generator=generator))


def test_request_row_is_a_chat_call_with_the_http_body():
    config = GeneratorConfig(backend="serve", model={"source": "clingen-generator",
                                                     "sampling": {"temperature": 0.5, "max_tokens": 200}})
    assert request_row(config, PROMPT) == {"method": "chat", "dtype": "ChatCompletionRequest", "request_kwargs": {
        "model": "clingen-generator", "messages": PROMPT["messages"], "temperature": 0.5, "top_p": 0.9,
        "max_tokens": 200, "stream": False,
        "response_format": {"type": "json_schema", "json_schema": {"name": "reply", "schema": SCHEMA}}}}
    placeholder = request_row(config, {**PROMPT, "placeholder": True})["request_kwargs"]
    assert placeholder["max_tokens"] == 1 and "response_format" not in placeholder
    free = GeneratorConfig(backend="serve", structured_outputs=False, model={"sampling": {"repetition_penalty": 1.1}})
    unconstrained = request_row(free, PROMPT)["request_kwargs"]
    assert "response_format" not in unconstrained and unconstrained["repetition_penalty"] == 1.1


def test_reply_row_reads_the_response_and_keeps_the_prompt_columns():
    config = GeneratorConfig(backend="serve", model={"source": "clingen-generator"})
    ok = reply_row(through_stage(PROMPT, config, response('{"sentence": "Gout flared."}', 12, 7, "length")))
    assert ok == {**PROMPT, "generated_text": '{"sentence": "Gout flared."}', "num_input_tokens": 12,
                  "num_generated_tokens": 7, "finish_reason": "length", "__inference_error__": None}
    # In a batch that also held an ErrorResponse, Ray Data unified the columns: the good row carries error=None.
    unified = reply_row({**through_stage(PROMPT, config, response("{}")), "error": None})
    assert unified["__inference_error__"] is None and unified["generated_text"] == "{}"
    error = reply_row(through_stage(PROMPT, config, ERROR_RESPONSE))
    assert error == {**PROMPT, "generated_text": "", "num_input_tokens": 0, "num_generated_tokens": 0,
                     "finish_reason": None, "__inference_error__": "endpoint error: The model `smol` does not exist."}
    raised = reply_row(through_stage(PROMPT, config, raised="TimeoutError: Request timed out after 300.0s"))
    assert raised == {**PROMPT, "generated_text": "", "num_input_tokens": 0, "num_generated_tokens": 0,
                      "finish_reason": None,
                      "__inference_error__": "serve request failed: TimeoutError: Request timed out after 300.0s"}


def test_failed_requests_reach_the_driver_as_generation_errors():
    config = load_config(overrides=["task=ncbi-disease", "generation.min_words=3", "generator.backend=serve",
                                    "generator.model.source=clingen-generator"])
    prompts = ComposePrompts(inputs=StageInputs.for_config(config), done_rows=np.array([], dtype=np.int64))({"id": np.arange(3)})
    rows = [dict(zip(prompts, values)) for values in zip(*prompts.values())]
    topic = rows[0]["topic"]
    reply = json.dumps({"sentence": f"Screening found {topic} in several older adults.", "entities": [topic]})
    outputs = [through_stage(rows[0], config.generator, response(reply, 40, 20)),
               through_stage(rows[1], config.generator, ERROR_RESPONSE),
               through_stage(rows[2], config.generator, raised="ValidationError: 1 validation error")]
    replies = [reply_row(row) for row in outputs]
    batch = {name: [row.get(name) for row in replies] for name in replies[0]}
    out = ParseReplies(inputs=StageInputs.for_config(config, "clingen-generator"))(batch)
    buffer, run = ShardBuffer(), RunCounters()
    for row in [dict(zip(out, values)) for values in zip(*out.values())]:
        _absorb(row, Deduplicator(), buffer, run)
    assert buffer.rows == [0] and len(buffer.examples) == 1  # the failed rows stay undone: the next run retries
    assert (run.generation_errors, run.prompt_tokens, run.completion_tokens) == (2, 40, 20)
    assert run.first_error == "endpoint error: The model `smol` does not exist."


def test_the_request_type_turns_the_stages_numpy_lists_back_into_plain_values():
    # Inside the Serve stage a row's nested lists arrive as numpy arrays; the engine would fail on them.
    schema = {"type": "object", "required": np.array(["sentence"], dtype=object),
              "properties": {"sentence": {"type": "string"}}}
    request = PlainChatRequest(model="clingen-generator", request_id="0", idx_in_batch=0, max_tokens=8,
                               messages=np.array([{"role": "user", "content": "Hi"}], dtype=object),
                               response_format={"type": "json_schema",
                                                "json_schema": {"name": "reply", "schema": schema}})
    assert type(request).__name__ == "ChatCompletionRequest"
    assert request.response_format.json_schema.json_schema["required"] == ["sentence"]
    assert request.messages == [{"role": "user", "content": "Hi"}]
