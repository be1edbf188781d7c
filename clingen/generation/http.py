"""OpenAI-compatible generator endpoints (generation stage edge): the Ray Serve generator from
serve_config.yaml, a vLLM server, or a hosted API. The request body, the reading of a reply, the endpoint check
before streaming and local token counts; the stage that sends the requests is http_stage's."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request

from clingen._imports import require
from clingen.config import GeneratorConfig
from clingen.errors import ConfigError
from clingen.generation.processors import sampling_params
from clingen.parsing.reasoning import reasoning_block

REASONING_FIELDS = ("reasoning_content", "reasoning")


def chat_payload(config: GeneratorConfig, row: dict) -> dict:
    """An OpenAI chat-completions body. JSON replies are constrained with `response_format` (json_schema),
    which vLLM's server, Ray Serve LLM and OpenAI all accept."""
    params = sampling_params(config, row)
    payload = {"model": config.model.source, "messages": row["messages"], "temperature": params["temperature"],
               "top_p": params["top_p"], "max_tokens": params["max_tokens"]}
    if params["repetition_penalty"] != 1.0:
        payload["repetition_penalty"] = params["repetition_penalty"]  # a vLLM extension to the OpenAI body
    if "structured_outputs" in params:
        payload["response_format"] = {"type": "json_schema", "json_schema": {
            "name": "reply", "schema": json.loads(params["structured_outputs"]["json"])}}
    return payload


# The columns a generator stage adds to a prompt row (the http and serve backends; failed_reply's keys).


def failed_reply(message: str) -> dict:
    """The reply columns of a row whose request failed (the http and serve backends)."""
    return {"generated_text": "", "num_input_tokens": 0, "num_generated_tokens": 0, "finish_reason": None,
            "__inference_error__": message}


def reply_from_response(response: dict | None) -> dict:
    """generated_text (the message's reasoning, if any, as a <think> block, then its content; "" for null
    content), token counts, finish_reason and an error (or None) from one chat-completions response.
    A response is an error only when its error field is set (or it is an error object): Ray Data unifies the
    columns of a batch, so the good replies of a batch that also holds an error carry `"error": None`."""
    if not isinstance(response, dict):
        return failed_reply(f"no JSON response (got {type(response).__name__})")
    if response.get("error") or response.get("object") == "error":
        error = response.get("error") or response
        message = error.get("message", error) if isinstance(error, dict) else error
        return failed_reply(f"endpoint error: {str(message)[:1000]}")
    try:
        choice = response["choices"][0]
        message = choice["message"]
        content = message["content"]
    except (KeyError, IndexError, TypeError):
        return failed_reply(f"response has no choices[0].message.content: {str(response)[:500]}")
    if content is not None and not isinstance(content, str):
        return failed_reply(f"choices[0].message.content is a {type(content).__name__}, expected a string or "
                            f"null: {str(content)[:500]}")
    usage = response.get("usage") or {}
    # A reasoning parser's output goes back in front of the answer, as the model wrote it: the reply is stored
    # whole, and the parsers leave it out of extraction and tell a reply that is only reasoning (content null).
    text = reasoning_block(reasoning_of(message)) + (content or "")
    return {"generated_text": text, "num_input_tokens": int(usage.get("prompt_tokens") or 0),
            "num_generated_tokens": int(usage.get("completion_tokens") or 0),
            "finish_reason": choice.get("finish_reason"), "__inference_error__": None}


def reasoning_of(message) -> str:
    """The reasoning a server parsed out of a chat message: vLLM's and DeepSeek's `reasoning_content`, or the
    `reasoning` field of newer vLLM and OpenRouter ("" when neither holds text)."""
    fields = (message.get(name) for name in REASONING_FIELDS) if isinstance(message, dict) else ()
    return next((value for value in fields if isinstance(value, str) and value), "")


def request_headers(config: GeneratorConfig) -> dict | None:
    """The Authorization header from generator.api_key_env (None without a key)."""
    if not config.api_key_env:
        return None
    key = os.environ.get(config.api_key_env)
    if not key:
        raise ConfigError(f"generator.api_key_env names {config.api_key_env!r}, which is not set in the "
                          f"environment; export it (keys never live in config files)")
    return {"Authorization": f"Bearer {key}"}


def check_endpoint(config: GeneratorConfig) -> list[str]:
    """GET <url>/models before any row is sent, so that a refused port, an endpoint that never answers, a
    rejected key or an unserved model fail at once with the URL named (ConfigError). Returns the served model
    ids (empty when the server does not list them)."""
    if not config.url:
        raise ConfigError("generator.backend=http needs generator.url, e.g. http://127.0.0.1:8000/v1")
    url = config.url.rstrip("/") + "/models"
    timeout = min(config.request_timeout_s, 20.0)
    request = urllib.request.Request(url, headers=request_headers(config) or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        if exc.code in (401, 403):
            raise ConfigError(f"generator.url {config.url}: GET {url} was refused with HTTP {exc.code}; check "
                              f"the key in ${config.api_key_env or '(generator.api_key_env is unset)'}") from None
        return []  # it answers; not every OpenAI-compatible server lists its models
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ConfigError(f"generator.url {config.url} is not reachable: GET {url} failed within {timeout:.0f} s "
                          f"({type(reason).__name__}: {reason}); start the endpoint (e.g. `serve run "
                          f"serve_config.yaml`) or fix the URL") from None
    except ValueError:
        return []
    served = [m.get("id") for m in body.get("data", []) if isinstance(m, dict)] if isinstance(body, dict) else []
    if served and config.model.source not in served:
        raise ConfigError(f"generator.url {config.url} serves {served}, not generator.model.source="
                          f"{config.model.source!r}; set it to one of them")
    return served


def with_counted_tokens(reply: dict, messages: list[dict], counter) -> dict:
    """`reply` with its prompt and completion tokens counted locally (`counter`: token_counter's function) when the
    endpoint reported no usage for a reply that has text; else `reply` as it is."""
    if counter is None or reply["num_generated_tokens"] or not reply["generated_text"]:
        return reply
    return {**reply, "num_input_tokens": sum(counter(str(m.get("content") or "")) for m in messages),
            "num_generated_tokens": counter(reply["generated_text"])}


def token_counter(spec: str | None):
    """A text -> token count function for endpoints that report no usage: an HF tokenizer folder, or a
    tiktoken encoding name (OpenAI models). None when not configured."""
    if spec is None:
        return None
    if os.path.isdir(spec):
        tokenizer = require("transformers").AutoTokenizer.from_pretrained(spec)
        return lambda text: len(tokenizer.encode(text, add_special_tokens=False))
    try:
        encoding = require("tiktoken").get_encoding(spec)
    except Exception as exc:  # tiktoken downloads its encodings on first use
        raise ConfigError(f"generator.model.tokenizer_for_counting={spec!r}: tiktoken could not load it "
                          f"({exc}); give a local HF tokenizer folder instead") from None
    return lambda text: len(encoding.encode(text))
