import json

import pytest

from clingen.config import GeneratorConfig, load_config
from clingen.errors import ConfigError
from clingen.generation.models import (check_chat_template, check_engine_kwargs, cpu_dtype, engine_kwargs_for,
                                       resolve_model_source)
from clingen.generation.processors import sampling_params
from clingen.generation.http import chat_payload, reply_from_response

pytestmark = pytest.mark.unit


def test_model_source_validation(tmp_path):
    with pytest.raises(ConfigError, match=r"'/nonexistent/model' is not an existing directory"):
        resolve_model_source("/nonexistent/model")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match=r"has no config.json; it is not a Hugging Face model folder"):
        resolve_model_source(str(tmp_path / "empty"))
    with pytest.raises(ConfigError, match=r"neither a local folder nor a hub id"):
        resolve_model_source("just-a-name")
    assert resolve_model_source("Qwen/Qwen2.5-7B-Instruct") == "Qwen/Qwen2.5-7B-Instruct"


def test_chat_template_is_required(tmp_path):
    (tmp_path / "tokenizer_config.json").write_text(json.dumps({"model_max_length": 512}))
    with pytest.raises(ConfigError, match=r"has no chat template"):
        check_chat_template(str(tmp_path))
    (tmp_path / "chat_template.jinja").write_text("{{ messages }}")
    check_chat_template(str(tmp_path))


def test_unknown_engine_arguments_are_named_with_suggestions():
    check_engine_kwargs({"max_model_len": 512, "enforce_eager": True})
    with pytest.raises(ConfigError, match=r"'max_model_length' \(did you mean max_model_len"):
        check_engine_kwargs({"max_model_length": 512})


def test_cpu_engine_kwargs_seed_the_engine_and_bound_the_kv_cache():
    config = load_config(overrides=["generator.engine_kwargs={max_num_seqs: 32}",
                                    "generator.model.dtype=bfloat16"]).generator
    kwargs = engine_kwargs_for(config, seed=7, use_gpu=False)
    assert kwargs["seed"] == 7 and kwargs["kv_cache_memory_bytes"] == 256 << 20
    assert kwargs["enforce_eager"] is True and kwargs["dtype"] == "bfloat16" and kwargs["max_num_seqs"] == 32
    fp32 = engine_kwargs_for(load_config(overrides=["generator.model.dtype=float32"]).generator, 7, use_gpu=False)
    assert fp32["dtype"] == "float32" and fp32["kv_cache_memory_bytes"] == 512 << 20  # the same tokens in fp32


def test_auto_dtype_on_the_cpu_is_bf16_only_where_the_cpu_computes_it():
    assert cpu_dtype("flags\t: fpu avx2 fma") == "float32"  # AVX2: bf16 is emulated, ~50x slower
    assert cpu_dtype("flags\t: fpu avx2 avx512f avx512_bf16") == "bfloat16"
    assert cpu_dtype("flags\t: fpu avx512f amx_bf16 amx_tile") == "bfloat16"
    assert cpu_dtype("Features\t: fp asimd bf16 i8mm") == "bfloat16"  # Arm
    assert engine_kwargs_for(GeneratorConfig(), 0, use_gpu=False)["dtype"] == cpu_dtype()


def test_sampling_params_carry_the_schema_but_never_a_seed():
    config = GeneratorConfig()
    row = {"json_schema": '{"type": "object"}'}
    params = sampling_params(config, row)
    assert params["structured_outputs"] == {"json": '{"type": "object"}'} and "seed" not in params
    assert "structured_outputs" not in sampling_params(GeneratorConfig(structured_outputs=False), row)
    assert sampling_params(config, {"placeholder": True})["max_tokens"] == 1


def test_http_payload_and_responses():
    config = GeneratorConfig(backend="http", url="http://127.0.0.1:1/v1")
    payload = chat_payload(config, {"messages": [{"role": "user", "content": "hi"}],
                                    "json_schema": '{"type": "object"}'})
    assert payload["response_format"] == {"type": "json_schema",
                                          "json_schema": {"name": "reply", "schema": {"type": "object"}}}
    ok = reply_from_response({"choices": [{"message": {"content": "{}"}, "finish_reason": "stop"}],
                              "usage": {"prompt_tokens": 5, "completion_tokens": 2}})
    assert ok == {"generated_text": "{}", "num_input_tokens": 5, "num_generated_tokens": 2, "finish_reason": "stop",
                  "__inference_error__": None}
    error = reply_from_response({"object": "error", "message": "model not found", "code": 404})
    assert error["__inference_error__"] == "endpoint error: model not found"
    nested = reply_from_response({"error": {"message": "prompt is too long"}, "choices": None})
    assert nested["__inference_error__"] == "endpoint error: prompt is too long"


def test_a_good_reply_beside_an_error_in_its_batch_is_not_an_error():
    # Ray Data unifies a batch's columns: the good replies of a batch that holds an error get "error": None.
    good = reply_from_response({"choices": [{"message": {"content": '{"sentence": "x"}'}, "finish_reason": "length"}],
                                "usage": {"prompt_tokens": 9, "completion_tokens": 256}, "error": None,
                                "object": "chat.completion"})
    assert good["__inference_error__"] is None
    assert (good["generated_text"], good["finish_reason"], good["num_generated_tokens"]) == ('{"sentence": "x"}', "length", 256)
    with pytest.raises(ValueError, match="must start with http"):
        GeneratorConfig(url="127.0.0.1:8000")
