"""LLM-proposed knowledge (prompts stage): the prompts that ask a generator for topics and writing styles,
and the cleaning that turns its list replies into plain, editable one-per-line files."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path

from clingen.datasets.records import Record
from clingen.prompts.templates import render_demo
from clingen.tasks.spec import TaskSpec

# "1." "-" "(a)" and the "disease 7:" small models number their items with.
_LIST_MARKER = re.compile(r"^\s*(?:\d+\s*[.):-]|[-*\u2022\u2013]|\(\w\)|[A-Za-z][A-Za-z ]{0,30} \d+\s*[:.)])\s*")
_QUOTES = "\"'`\u201c\u201d\u2018\u2019"
# "label: ...", "text: ...": a small model filling the list with fields of the demonstrations it was shown.
_FIELD_ECHO = re.compile(r"^[A-Za-z_]+\s*:")
JSON_ONLY = "Reply with JSON only"
STYLE_PROMPT_DEMOS = 3  # demonstrations shown when asking for styles


def list_schema(max_items: int) -> dict:
    """The reply schema of a proposal request: a bounded list of short strings, so that a small model
    cannot run out of tokens in the middle of it."""
    item = {"type": "string", "minLength": 2, "maxLength": 60}
    return {"type": "object", "properties": {"items": {"type": "array", "items": item, "minItems": 1,
                                                       "maxItems": max_items}},
            "required": ["items"], "additionalProperties": False}


def topic_prompt(entity_type: str, n: int) -> list[dict]:
    """The reference ClinGen question for LLM-proposed topics."""
    kind = entity_type.replace("_", " ")
    return [{"role": "user", "content": (
        f"Suppose you are a clinician and want to collect a set of {kind}s. Could you list {n} entities "
        f"about {kind}? {JSON_ONLY}: {{\"items\": [\"...\", \"...\"]}}")}]


def style_prompt(spec: TaskSpec, demos: list[Record], n: int) -> list[dict]:
    """Ask for candidate writing styles of the task, showing a few demonstrations."""
    shown = "\n\n".join(render_demo(spec, d) for d in demos[:STYLE_PROMPT_DEMOS])
    examples = f"\n\nHere are some examples of the data:\n\n{shown}" if shown else ""
    return [{"role": "user", "content": (
        f"Suppose you need to create a dataset for {spec.domain} ({spec.name}). List {n} different writing "
        f"styles or text sources such text could come from, such as medical literature, clinical notes or "
        f"doctor-patient dialogue.{examples}\n\n{JSON_ONLY}: {{\"items\": [\"...\", \"...\"]}}")}]


def split_list_reply(reply: str) -> list[str]:
    """Items of a list reply: a JSON {"items": [...]} or [...] when the reply is JSON, else lines (or, for a
    one-line reply, comma-separated parts)."""
    text = reply.strip()
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError:
        parsed = None
    if isinstance(parsed, dict):
        parsed = parsed.get("items")
    if isinstance(parsed, list):
        return [str(item) for item in parsed]
    if text.startswith(("{", "[")):  # JSON cut short (out of tokens): salvage its complete strings
        return [item for item in re.findall(r'"((?:[^"\\]|\\.)*)"', text) if item != "items"]
    lines = [line for line in text.splitlines() if line.strip()]
    return lines if len(lines) > 1 else [part for part in text.split(",") if part.strip()]


def normalise_case(item: str) -> str:
    """Lower-case words except acronyms and names with inner capitals (HIV, COVID-19, BRCA1, mRNA)."""
    return " ".join(word if sum(ch.isupper() for ch in word) > 1 or any(ch.isdigit() for ch in word)
                    else word.lower() for word in item.split())


def looks_like_a_phrase(item: str) -> bool:
    """Small models fill lists with timestamps, numbers and one word repeated ("genetics, genetics"); a topic
    or style is mostly letters and does not repeat its words."""
    letters = sum(c.isalpha() for c in item)
    words = re.findall(r"[^\W\d_]+", item.casefold())
    return letters >= 1 and letters / len(item) >= 0.3 and len(set(words)) >= 0.6 * len(words)


def clean_proposed_list(items: list[str], max_words: int = 8, max_chars: int = 80,
                        echoes: Sequence[str] = ()) -> list[str]:
    """Strip numbering, bullets and quotes; normalise case; drop preambles, empty and overlong items, field
    echoes ("label: ...", "tags_category_2") and phrases of three or more words copied from `echoes` (the
    demonstrations and the instruction the model was shown); dedupe keeping order."""
    cleaned: list[str] = []
    seen: set[str] = set()
    shown = {gram for text in echoes for gram in _trigrams(text)}
    for raw in items:
        if raw.strip().endswith(":"):  # a preamble such as "Here are 50 diseases:"
            continue
        item = _LIST_MARKER.sub("", raw.strip())
        # Identifiers (tags_category_2) and fields are the schema or template leaking into the list.
        if _FIELD_ECHO.match(item.strip()) or "_" in item or _copied(item, shown):
            continue
        item = item.strip().strip(_QUOTES).strip().rstrip(".,;:").strip().strip(_QUOTES).strip()
        item = normalise_case(re.sub(r"\s+", " ", item))
        if not item or len(item) > max_chars or len(item.split()) > max_words or any(c in item for c in "{}[]"):
            continue
        if not looks_like_a_phrase(item):
            continue
        key = item.casefold()
        if key not in seen:
            seen.add(key)
            cleaned.append(item)
    return cleaned


def _trigrams(text: str) -> set[tuple[str, ...]]:
    words = re.findall(r"\w+", text.casefold())
    return {tuple(words[i:i + 3]) for i in range(len(words) - 2)}


def _copied(item: str, shown: set[tuple[str, ...]]) -> bool:
    """Half or more of the item's word trigrams were in what the model was shown (a typo or two in a copied
    sentence still counts as copied)."""
    grams = _trigrams(item)
    return bool(grams) and len(grams & shown) >= 0.5 * len(grams)


def write_list_file(path: Path, items: list[str], header: str) -> None:
    """A plain file a user can read and edit: a '#' header line, then one item per line."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"# {header}\n" + "\n".join(items) + "\n")
