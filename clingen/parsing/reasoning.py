"""A reasoning model's thinking, told apart from its answer (generation -> parsing/filtering).

Reasoning models (DeepSeek-R1, Qwen3, QwQ, ...) write their thinking before the answer, in <think>...</think>
(some <thinking> or <reasoning>); a chat template that opens the block itself (DeepSeek-R1's) leaves only the
closing tag in the reply. The thinking often holds drafts in the answer's own format (a JSON object with another
sentence, the opposite label), so it must never feed extraction: parsers read only `SplitReply.answer`. An
OpenAI-compatible server that parses reasoning out returns it in the message's `reasoning_content` or
`reasoning` field; `reasoning_block` writes it back in front of the answer, as the model generated it, so the
stored reply is whole and is parsed as a reply generated in one piece.

Pure functions, no I/O."""

from __future__ import annotations

import re
from dataclasses import dataclass

TAGS = ("think", "thinking", "reasoning")
_TAG = re.compile(r"<(/?)(" + "|".join(TAGS) + r")\s*>", re.IGNORECASE)


@dataclass(frozen=True)
class SplitReply:
    """A reply cut into its answer and its reasoning."""

    answer: str  # the reply without its reasoning: what the parsers read
    reasoning: str  # the reasoning blocks' text, joined ("" when the reply has none)
    unclosed: bool  # a reasoning block was opened and never closed: the reply stopped inside its reasoning

    @property
    def only_reasoning(self) -> bool:
        """Reasoning and no answer: the model stopped inside its reasoning, or after it without answering."""
        return not self.answer.strip() and (self.unclosed or bool(self.reasoning.strip()))


def split_reasoning(reply: str) -> SplitReply:
    """`reply` cut into answer and reasoning. A block runs from an opening tag to the first closing tag of the same
    name (as vLLM's reasoning parsers read it; other tags inside it are its text); an opening tag never closed
    makes the rest reasoning; a closing tag with no block open ends reasoning that the chat template opened, so
    everything before it is reasoning. Tags are matched ignoring case."""
    answer: list[str] = []
    reasoning: list[str] = []
    position = 0
    while (tag := _TAG.search(reply, position)) is not None:
        before = reply[position:tag.start()]
        if tag.group(1):  # a closing tag outside any block: what came before was reasoning
            reasoning += [*answer, before]
            answer = []
            position = tag.end()
            continue
        answer.append(before)
        close = re.compile(rf"</{tag.group(2)}\s*>", re.IGNORECASE).search(reply, tag.end())
        if close is None:
            reasoning.append(reply[tag.end():])
            return SplitReply("".join(answer), "".join(reasoning), unclosed=True)
        reasoning.append(reply[tag.end():close.start()])
        position = close.end()
    answer.append(reply[position:])
    return SplitReply("".join(answer), "".join(reasoning), unclosed=False)


def reasoning_block(reasoning: str) -> str:
    """`reasoning` (a response's reasoning field) as the block a model writes before its answer, under the first
    tag whose closing tag the text does not hold, so that `split_reasoning` reads it back whole. (A text that holds
    the closing tags of all three names could not be; vLLM's own parsers end the field at the first </think>.)"""
    if not reasoning:
        return ""
    tag = next((name for name in TAGS if not re.search(rf"</{name}\s*>", reasoning, re.IGNORECASE)), TAGS[0])
    return f"<{tag}>{reasoning}</{tag}>"
