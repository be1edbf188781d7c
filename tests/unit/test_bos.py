"""The vLLM engines get token ids that start with exactly one BOS, whatever the chat template (issue #34, vLLM
#27486): Llama 3 and Gemma templates write {{ bos_token }} and their tokenizers add one too, so Ray's chat-template
and tokenize stages (or vLLM's tokenization of the templated text) gave two. Real tokenizers, no Ray, no vLLM."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from clingen.config import GeneratorConfig
from clingen.generation import processors
from clingen.generation.processors import prompt_token_ids

pytestmark = pytest.mark.unit

transformers = pytest.importorskip("transformers")
tokenizers = pytest.importorskip("tokenizers")

CORPUS = ["Generate a sentence about BRCA1 and breast cancer.", "Return JSON with the keys sentence and entities.",
          "Crohn's disease, IL-6 and 5 mg/kg aspirin in naïve patients (Größe).", "You are a clinical writer."] * 10
LLAMA3_TEMPLATE = ("{{- bos_token }}{% for message in messages %}{{ '<|start_header_id|>' + message['role'] + "
                   "'<|end_header_id|>\n\n' + message['content'] | trim + '<|eot_id|>' }}{% endfor %}"
                   "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}")
GEMMA_TEMPLATE = ("{{ bos_token }}{% for message in messages %}{% set role = 'model' if message['role'] == 'assistant' "
                  "else message['role'] %}{{ '<start_of_turn>' + role + '\n' + message['content'] | trim + "
                  "'<end_of_turn>\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<start_of_turn>model\n' }}"
                  "{% endif %}")
# A template that leaves the BOS to the tokenizer (as Mistral-style templates without {{ bos_token }} do).
PLAIN_TEMPLATE = ("{% for message in messages %}{{ '[' + message['role'] + '] ' + message['content'] + '\n' }}"
                  "{% endfor %}{% if add_generation_prompt %}{{ '[assistant] ' }}{% endif %}")


def _llama3_style():
    """Byte-level BPE whose post-processor puts <|begin_of_text|> before every text, like Llama 3's."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors as post, trainers
    specials = ["<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer, tok.decoder = pre_tokenizers.ByteLevel(add_prefix_space=False), decoders.ByteLevel()
    tok.train_from_iterator(CORPUS, trainers.BpeTrainer(vocab_size=300, special_tokens=specials,
                                                        initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    tok.post_processor = post.TemplateProcessing(single="<|begin_of_text|> $A",
                                                 special_tokens=[("<|begin_of_text|>", 0)])
    return transformers.PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<|begin_of_text|>",
                                                eos_token="<|eot_id|>", chat_template=LLAMA3_TEMPLATE)


def _gemma_style(template: str = GEMMA_TEMPLATE):
    """SentencePiece-style Unigram (Metaspace) whose post-processor adds <bos>, like Gemma's."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors as post, trainers
    specials = ["<pad>", "<eos>", "<bos>", "<unk>", "<start_of_turn>", "<end_of_turn>"]
    tok = Tokenizer(models.Unigram())
    tok.pre_tokenizer, tok.decoder = pre_tokenizers.Metaspace(), decoders.Metaspace()
    tok.train_from_iterator(CORPUS, trainers.UnigramTrainer(vocab_size=150, special_tokens=specials,
                                                            unk_token="<unk>"))
    tok.post_processor = post.TemplateProcessing(single="<bos> $A", special_tokens=[("<bos>", 2)])
    return transformers.PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<bos>", eos_token="<eos>",
                                                unk_token="<unk>", pad_token="<pad>", chat_template=template)


def _no_bos():
    """Qwen-style: no BOS token at all, none added."""
    from tokenizers import Tokenizer, processors as post
    backend = Tokenizer.from_str(_llama3_style().backend_tokenizer.to_str())
    backend.post_processor = post.ByteLevel(trim_offsets=False)
    return transformers.PreTrainedTokenizerFast(tokenizer_object=backend, bos_token=None, eos_token="<|eot_id|>",
                                                chat_template=PLAIN_TEMPLATE)


def smollm2_tokenizer():
    """The embedded generator's tokenizer (ChatML; its BOS <|im_start|> opens every turn and it adds none)."""
    from clingen.generation import smollm2
    folder = smollm2.default_cache_dir() / smollm2.MODEL_SUBDIR
    if (folder / smollm2.MARKER_FILENAME).is_file():
        return transformers.AutoTokenizer.from_pretrained(folder)
    try:
        gguf = smollm2.find_smollm2_gguf()
    except RuntimeError as exc:
        pytest.skip(f"SmolLM2 unavailable: {exc}")
    return transformers.AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)


BUILDERS = {"llama3": _llama3_style, "gemma": _gemma_style, "plain-template": lambda: _gemma_style(PLAIN_TEMPLATE),
            "no-bos": _no_bos, "smollm2": smollm2_tokenizer}


@pytest.fixture(scope="module", params=sorted(BUILDERS))
def family(request):
    return request.param, BUILDERS[request.param]()


CHAT = [{"role": "system", "content": "You are a clinical writer."},
        {"role": "user", "content": "Generate a sentence about BRCA1 and breast cancer in naïve patients."}]


def _leading_bos(ids: list[int], bos: int | None) -> int:
    return next((i for i, token in enumerate(ids) if token != bos), len(ids)) if bos is not None else 0


def test_rays_two_stages_gave_two_bos_where_template_and_tokenizer_both_add_one() -> None:
    """The bug, as Ray's ChatTemplateUDF then TokenizeUDF (or vLLM's text prompt) produce the ids."""
    for tokenizer in (_llama3_style(), _gemma_style()):
        text = tokenizer.apply_chat_template(CHAT, tokenize=False, add_generation_prompt=True)
        assert _leading_bos(tokenizer(text)["input_ids"], tokenizer.bos_token_id) == 2


def test_the_engine_gets_exactly_one_bos(family) -> None:
    name, tokenizer = family
    ids = prompt_token_ids(tokenizer, CHAT)
    bos = tokenizer.bos_token_id
    assert _leading_bos(ids, bos) == (0 if name == "no-bos" else 1)
    if name in ("llama3", "gemma", "plain-template"):
        assert ids.count(bos) == 1
    reference = tokenizer.apply_chat_template(CHAT, tokenize=True, add_generation_prompt=True)["input_ids"]
    # transformers' own chat tokenization (no special tokens added) is the reference, plus the BOS a template
    # without {{ bos_token }} leaves to the tokenizer
    assert ids == ([bos] + reference if name == "plain-template" else reference)


_TEXT = st.text(st.sampled_from(list("abcdefgh BRCA1-,.éöß\n")), min_size=1, max_size=40).filter(str.strip)


@settings(max_examples=40)
@given(st.lists(st.tuples(st.sampled_from(["user", "assistant"]), _TEXT), min_size=1, max_size=4),
       st.booleans())
def test_any_chat_starts_with_one_bos_and_keeps_the_rest_of_the_template(family, turns, system) -> None:
    """Whatever the turns (a last assistant turn is continued, as Ray's chat stage does) and non-ASCII text."""
    name, tokenizer = family
    chat = ([{"role": "system", "content": "You are a clinical writer."}] if system else []) + \
        [{"role": role, "content": content} for role, content in turns]
    ids = prompt_token_ids(tokenizer, np.array(chat, dtype=object))  # as Ray Data hands a list column over
    bos = tokenizer.bos_token_id
    assert _leading_bos(ids, bos) == (0 if name == "no-bos" else 1)
    last_user = chat[-1]["role"] == "user"
    text = tokenizer.apply_chat_template(chat, tokenize=False, add_generation_prompt=last_user,
                                         continue_final_message=not last_user)
    rest = tokenizer(text, add_special_tokens=False)["input_ids"]
    assert ids[_leading_bos(ids, bos):] == rest[_leading_bos(rest, bos):]


def test_the_vllm_processor_hands_the_engine_those_ids_and_turns_rays_stages_off(monkeypatch, tmp_path) -> None:
    """build_vllm_processor as the generation job calls it, with ray.data.llm replaced by a recorder."""
    tokenizer = _llama3_style()
    tokenizer.save_pretrained(tmp_path)
    seen: dict = {}

    class FakeLLM:  # ray.data.llm and ray.data as the function uses them
        TaskPoolStrategy = staticmethod(lambda size: ("tasks", size))

        @staticmethod
        def vLLMEngineProcessorConfig(**kwargs):
            seen["config"] = kwargs
            return kwargs

        @staticmethod
        def build_processor(config, preprocess, postprocess, **_):
            seen["preprocess"] = preprocess
            return "processor"

    monkeypatch.setattr(processors, "require", lambda module: FakeLLM)
    monkeypatch.setattr(processors, "engine_kwargs_for", lambda *args: {})  # no vLLM import
    processors.engine_tokenizer.cache_clear()
    for use_gpu in (True, False):
        assert processors.build_vllm_processor(GeneratorConfig(), str(tmp_path), 0, use_gpu) == "processor"
        assert seen["config"]["chat_template_stage"] is False and seen["config"]["tokenize_stage"] is False
        row = seen["preprocess"]({"row_id": 7, "messages": np.array(CHAT, dtype=object), "placeholder": False})
        assert row["tokenized_prompt"] == prompt_token_ids(tokenizer, CHAT)
        assert _leading_bos(row["tokenized_prompt"], tokenizer.bos_token_id) == 1
        assert row["row_id"] == 7 and row["sampling_params"]["max_tokens"] > 1 and "prompt" not in row
