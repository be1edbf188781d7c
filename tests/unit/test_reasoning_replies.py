"""Replies of reasoning models (issue #34): the thinking never feeds extraction, in any family and on every
backend path (vLLM text, HTTP and Serve reasoning fields); a reply that is only thinking, or stopped inside it, is
`reasoning_only`; null content at the token limit is `truncated`, not `empty_reply`. The raw reply is recorded
whole."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from clingen.config import load_config
from clingen.generation.http import reply_from_response
from clingen.generation.rows import ParsedRow
from clingen.generation.serve_backend import reply_row
from clingen.generation.stages import ComposePrompts, ParseReplies, StageInputs
from clingen.parsing.checker import ReplyRecord
from clingen.parsing.parsers import ParseOptions, ReplyEnd, parse_reply
from clingen.parsing.reasoning import TAGS, reasoning_block, split_reasoning
from clingen.tasks.registry import get_task

pytestmark = pytest.mark.unit
OPTIONS = ParseOptions(min_words=3, max_words=60, model="m", max_tokens=256)
GAD = get_task("gad")
# The issue's reply: the thinking drafts the opposite sentence; it was kept, labelled Has_relation.
DRAFT = '{"sentence": "@GENE$ is not associated with @DISEASE$ in this cohort of patients."}'
ANSWER = '{"sentence": "Variants of @GENE$ raise the risk of @DISEASE$ in older adults."}'
ISSUE_REPLY = f"<think>Draft {DRAFT} ... no, the label is Has_relation, so the gene must raise the risk.</think>\n{ANSWER}"


def gad_row(label: str = "Has_relation") -> dict:
    return {"row_id": 7, "task": "gad", "strategy": "zero-shot", "label": label, "topic": None, "style": None,
            "demo_ids": [], "head": None, "tail": None}


def outcome(result) -> tuple:
    """What a parse decided, without the raw text it quotes."""
    return result.example, result.value, [(f.reason, f.detail, f.step) for f in result.failures]


# ----- the issue's cases --------------------------------------------------------------------------------------
def test_the_issue_reply_keeps_the_answer_not_the_draft_in_the_thinking():
    result = parse_reply(GAD, gad_row(), ISSUE_REPLY, OPTIONS, ReplyEnd("stop", 90))
    assert result.failures == []
    assert (result.example.text, result.example.label) == (
        "Variants of @GENE$ raise the risk of @DISEASE$ in older adults.", "Has_relation")
    assert outcome(result) == outcome(parse_reply(GAD, gad_row(), ANSWER, OPTIONS, ReplyEnd("stop", 90)))


@pytest.mark.parametrize("reply, how", [
    (f"<think>Draft {DRAFT} and then", "stopped inside its reasoning (never closed)"),  # cut: unclosed
    (f"<think>Draft {DRAFT}</think>", "has no answer after its reasoning"),
    (f"<Thinking>Draft {DRAFT}</THINKING>  \n", "has no answer after its reasoning"),
    (f"<reasoning>Draft {DRAFT}</reasoning><think>more</think>", "has no answer after its reasoning"),
    (f"Draft {DRAFT}</think>", "has no answer after its reasoning"),  # the chat template opened the block
])
def test_a_reply_that_is_only_thinking_is_reasoning_only_and_recorded_whole(reply, how):
    result = parse_reply(GAD, gad_row(), reply, OPTIONS, ReplyEnd("stop", 90))
    assert result.example is None and [f.reason for f in result.failures] == ["reasoning_only"]
    assert result.failures[0].detail.startswith(f"the reply {how}; ") and result.failures[0].raw == reply


def test_thinking_cut_at_the_token_limit_says_so():
    reply = f"<think>Draft {DRAFT} but"
    for end in (ReplyEnd("length", 256), ReplyEnd(None, 256)):
        failure, = parse_reply(GAD, gad_row(), reply, OPTIONS, end).failures
        assert failure.reason == "reasoning_only" and "token" in failure.detail and failure.raw == reply


@pytest.mark.parametrize("reply, end, reason", [
    (None, ReplyEnd("length", 256), "truncated"),  # the issue: null content at the limit was empty_reply
    ("", ReplyEnd(None, 256), "truncated"),  # vLLM: all its tokens generated, no text
    ("  ", ReplyEnd("stop", 3), "empty_reply"),
    (None, ReplyEnd("stop", 0), "empty_reply"),
    (None, None, "empty_reply"),
])
def test_no_text_at_the_token_limit_is_truncated_not_empty(reply, end, reason):
    failure, = parse_reply(GAD, gad_row(), reply, OPTIONS, end).failures
    assert failure.reason == reason
    if reason == "truncated":
        assert failure.detail.endswith(", with no text")


def test_an_answer_after_thinking_that_was_cut_is_truncated():
    result = parse_reply(GAD, gad_row(), '<think>ok</think>{"sentence": "Variants of @GENE$ raise the',
                         OPTIONS, ReplyEnd("length", 256))
    assert [f.reason for f in result.failures] == ["truncated"]


# ----- the backends: reasoning fields of an OpenAI-compatible message ----------------------------------------
def chat_response(content: str | None, finish: str = "stop", **message) -> dict:
    return {"object": "chat.completion", "usage": {"prompt_tokens": 30, "completion_tokens": 256},
            "choices": [{"index": 0, "finish_reason": finish,
                         "message": {"role": "assistant", "content": content, **message}}]}


@pytest.mark.parametrize("field", ["reasoning_content", "reasoning"])
def test_a_reasoning_field_is_kept_in_the_reply_and_never_parsed(field):
    reply = reply_from_response(chat_response(ANSWER, **{field: f"Draft {DRAFT}"}))
    assert reply["generated_text"] == f"<think>Draft {DRAFT}</think>{ANSWER}" and reply["__inference_error__"] is None
    end = ReplyEnd(reply["finish_reason"], reply["num_generated_tokens"])
    assert outcome(parse_reply(GAD, gad_row(), reply["generated_text"], OPTIONS, end)) == \
        outcome(parse_reply(GAD, gad_row(), ANSWER, OPTIONS, end))


@pytest.mark.parametrize("response, reason", [
    (chat_response(None, "length", reasoning=f"Draft {DRAFT} hmm"), "reasoning_only"),
    (chat_response(None, "length", reasoning_content=f"Draft {DRAFT} hmm", reasoning=None), "reasoning_only"),
    (chat_response(None, "stop", reasoning="I cannot decide."), "reasoning_only"),
    (chat_response(None, "length", reasoning=None), "truncated"),
    (chat_response(None, "stop"), "empty_reply"),
])
def test_null_content_is_told_by_its_reasoning_and_its_end(response, reason):
    reply = reply_from_response(response)
    end = ReplyEnd(reply["finish_reason"], reply["num_generated_tokens"])
    failure, = parse_reply(GAD, gad_row(), reply["generated_text"], OPTIONS, end).failures
    assert failure.reason == reason
    reasoning = response["choices"][0]["message"].get("reasoning") or \
        response["choices"][0]["message"].get("reasoning_content") or ""
    assert reasoning in failure.raw  # the thinking is recorded with the failure


def test_content_that_is_not_a_string_is_refused_with_its_type():
    reply = reply_from_response(chat_response([{"type": "text", "text": ANSWER}]))
    assert reply["generated_text"] == "" and reply["__inference_error__"].startswith(
        "choices[0].message.content is a list, expected a string or null")


def test_the_serve_and_vllm_paths_through_the_parse_stage():
    """Rows as the Serve stage (a ChatCompletionResponse merged into the row) and vLLM (text and token counts, no
    finish_reason) hand them to the parse stage: counted by their reason, the thinking in the reply record."""
    config = load_config(overrides=["task=ncbi-disease", "generation.min_words=3", "generator.backend=serve",
                                    "generator.model.source=g", "generator.model.sampling.max_tokens=256"])
    prompts = ComposePrompts(inputs=StageInputs.for_config(config), done_rows=np.array([], dtype=np.int64))({"id": np.arange(5)})
    rows = [dict(zip(prompts, values)) for values in zip(*prompts.values())]
    def good(row: dict) -> str:
        return json.dumps({"sentence": f"Screening found {row['topic']} in older adults.", "entities": [row["topic"]]})
    draft = json.dumps({"sentence": "A draft about asthma in children and adults.", "entities": ["asthma"]})
    served = [chat_response(good(rows[0]), "stop", reasoning=f"Draft: {draft}"),
              chat_response(None, "length", reasoning=f"Draft: {draft} but"),
              chat_response(None, "length")]
    replies = [reply_row({**row, **response, "__inference_error__": ""}) for row, response in zip(rows, served)]
    replies += [{**row, "generated_text": text, "num_input_tokens": 30, "num_generated_tokens": tokens,
                 "__inference_error__": None} for row, text, tokens in
                ((rows[3], "", 256), (rows[4], f"<think>{draft}</think>{good(rows[4])}", 80))]
    batch = {name: [row.get(name) for row in replies] for name in replies[0]}
    out = ParseReplies(inputs=StageInputs.for_config(config, "g"))(batch)
    parsed = [ParsedRow.from_columns(dict(zip(out, values))) for values in zip(*out.values())]
    assert [p.example is not None for p in parsed] == [True, False, False, False, True]
    assert [p.failures[0]["reason"] for p in parsed[1:4]] == ["reasoning_only", "truncated", "truncated"]
    assert [parsed[i].example["text"] for i in (0, 4)] == [json.loads(good(rows[i]))["sentence"] for i in (0, 4)]
    assert draft in ReplyRecord.from_json(parsed[0].example["reply_record"]).replies[0]
    assert draft in parsed[1].failures[0]["raw"]


# ----- properties: any reply wrapped in thinking parses as the reply alone --------------------------------------
WORDS = ["gout", "asthma", "flares", "were", "frequent", "in", "older", "men", "après", "le", "traitement", "Ödem",
         "der", "Lunge", "患者", "blood", "pressure", "rose", "after", "the", "dose", "was", "doubled", "cancer"]
DISEASES = ["gout", "asthma", "cystic fibrosis", "Crohn's disease", "Morbus Ödem"]


def words(low: int = 4, high: int = 12):
    return st.lists(st.sampled_from(WORDS), min_size=low, max_size=high).map(" ".join)


@st.composite
def family_reply(draw) -> tuple[str, dict, str, str]:
    """(task, prompt row, a reply in its format, a draft in the same format with another text)."""
    family = draw(st.sampled_from(["relation", "ner", "attribute", "classification", "pair-1", "pair-2"]))
    texts = draw(words()), draw(words())
    name = draw(st.sampled_from(DISEASES))
    ascii_only = draw(st.booleans())
    if family == "relation":
        task, row = "gad", gad_row(draw(st.sampled_from(["Has_relation", "No_relation"])))
        replies = [{"sentence": f"@GENE$ {text} @DISEASE$."} for text in texts]
    elif family == "ner":
        task = "ncbi-disease"
        row = {"row_id": 3, "task": task, "strategy": "few-shot", "label": "Disease", "topic": None, "style": None,
               "demo_ids": []}
        replies = [{"sentence": f"{name} {text}.", "entities": [name, draw(st.sampled_from(WORDS))]} for text in texts]
    elif family == "attribute":
        task = "casi"
        row = {"row_id": 3, "task": task, "strategy": "few-shot", "label": None, "topic": None, "demo_ids": []}
        replies = [{"sentence": f"Give {name} {text}.", "attributes": [{"type": "Medication", "text": name}]}
                   for text in texts]
    elif family == "classification":
        row = {"row_id": 5, "task": "hoc", "strategy": "zero-shot", "label": "cellular energetics", "demo_ids": []}
        return "hoc", row, f"Label: cellular energetics\nText: {texts[0]}.", f"Text: {texts[1]}."
    else:
        task = "mediqa-rqe"
        row = {"row_id": 2, "task": task, "strategy": "zero-shot", "label": "Entail", "demo_ids": [],
               "sentence_a": "Can asthma in older men be cured?" if family == "pair-2" else None}
        replies = [{"sentence": f"{text}?"} for text in texts]
    reply, draft = (json.dumps(value, ensure_ascii=ascii_only) for value in replies)
    return task, row, reply, draft


# Thinking text: any characters, but no tag of its own (in a reply's text, a literal tag ends the thinking as
# vLLM's reasoning parsers read it too).
THINKING = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40).filter(
    lambda text: not re.search(r"</?(?:think|thinking|reasoning)\s*>", text, re.IGNORECASE))


@st.composite
def block(draw, draft: str) -> str:
    tag = draw(st.sampled_from(TAGS))
    tag = "".join(draw(st.sampled_from([c.lower(), c.upper()])) for c in tag)
    inside = draw(THINKING) + draw(st.sampled_from([draft, "", f"```json\n{draft}\n```"])) + draw(THINKING)
    return f"<{tag}>{inside}</{tag}>"


@given(family_reply(), st.data())
def test_any_reply_wrapped_in_thinking_parses_as_the_reply_alone(case, data):
    task, row, reply, draft = case
    spec = get_task(task)
    before = data.draw(st.lists(block(draft), max_size=3).map("\n".join))
    after = data.draw(st.lists(block(draft), max_size=2).map("".join))
    opened = data.draw(st.sampled_from(["", f"{draft} so the answer is</think>"]))  # the template opened it
    space = data.draw(st.sampled_from(["", "\n", "\n\n  "]))
    wrapped = opened + before + space + reply + space + after
    end = data.draw(st.sampled_from([None, ReplyEnd("stop", 80), ReplyEnd(None, 80)]))
    alone, thinking = parse_reply(spec, row, reply, OPTIONS, end), parse_reply(spec, row, wrapped, OPTIONS, end)
    assert outcome(thinking) == outcome(alone)
    assert all(failure.raw == wrapped for failure in thinking.failures)  # the raw reply is recorded whole


# A server's reasoning field may hold any text, tags of other names included; one holding the closing tags of all
# three names could not be told from its answer (no model writes that), so two names' tags are drawn here.
FIELD_TEXT = st.lists(st.one_of(THINKING, st.sampled_from(["<think>", "</think>", "<thinking>", "</thinking>",
                                                             "<THINK>", '{"sentence": "@GENE$ draft @DISEASE$."}'])),
                      max_size=6).map("".join)


@given(family_reply(), FIELD_TEXT, st.sampled_from(["reasoning_content", "reasoning"]))
def test_any_content_with_a_reasoning_field_parses_as_the_content_alone(case, reasoning, field):
    task, row, reply, _ = case
    text = reply_from_response(chat_response(reply, **{field: reasoning}))["generated_text"]
    split = split_reasoning(text)
    assert (split.answer, split.reasoning, split.unclosed) == (reply, reasoning, False)
    spec = get_task(task)
    assert outcome(parse_reply(spec, row, text, OPTIONS)) == outcome(parse_reply(spec, row, reply, OPTIONS))


@given(FIELD_TEXT.filter(str.strip))
def test_a_reasoning_field_alone_reads_back_whole_as_only_reasoning(reasoning):
    split = split_reasoning(reasoning_block(reasoning))
    assert (split.answer, split.reasoning, split.only_reasoning) == ("", reasoning, True)


def test_proposed_topics_leave_the_thinking_out(monkeypatch, tmp_path):
    """`clingen knowledge propose` reads list replies through the same processors: a list drafted in the thinking
    (here from a reasoning field) is not proposed. Ray is replaced by the replies it would return."""
    import ray.data

    import clingen.cluster
    import clingen.generation.stream
    from clingen.generation.proposals import propose_topics
    reply = reply_from_response(chat_response('{"items": ["gout", "asthma"]}',
                                              reasoning='Draft: {"items": ["disease X", "psoriasis"]}'))

    class Replies:
        def __init__(self, rows):
            self.rows = rows

        def take_all(self):
            return [{**row, **reply} for row in self.rows]

    monkeypatch.setattr(clingen.cluster, "ensure_ray", lambda *args, **kwargs: None)
    monkeypatch.setattr(ray.data, "from_items", list)
    monkeypatch.setattr(clingen.generation.stream, "build_generator", lambda config: ("g", Replies))
    config = load_config(overrides=["task=ncbi-disease"])
    assert propose_topics(config, "disease", 2, tmp_path / "topics.txt", quiet=True) == ["gout", "asthma"]
