"""Prompt templates (prompts stage): pure functions that turn a task, topic, style, label and demonstrations
into the prompt text for each family, following the reference ClinGen templates in substance."""

from __future__ import annotations

import json

from clingen.datasets.records import ClassificationExample, NERExample, PairExample, Record, RelationExample
from clingen.tasks.spec import LabelSpec, TaskSpec

SENTENCE_A_SLOT = "<<SENTENCE_A>>"  # filled in by the second step of sentence-pair generation
# Fixed wording of the prompts below: a reply that repeats it is about the prompt, not the domain
# (parsing's meta_text rule).
# ("list every", "exactly as written" are left out: a prescription may say "take exactly as written".)
INSTRUCTION_PHRASES = ("mimic the style of", "relevant to the subtopic", "reply with json", "create a dataset for",
                       "suppose you need to", "generate a sentence", "here are some examples", "the sentence should")
_DEMO_WORDS = 80  # long real documents (HoC abstracts) are cut so demonstrations fit a small context


def _clip(text: str, words: int = _DEMO_WORDS) -> str:
    parts = text.split()
    return text if len(parts) <= words else " ".join(parts[:words]) + " ..."


def render_demo(spec: TaskSpec, demo: Record) -> str:
    """One demonstration in the reply format the template asks for."""
    if isinstance(demo, ClassificationExample):
        return f"Label: {', '.join(demo.labels)}\nText: {_clip(demo.text)}"
    if isinstance(demo, RelationExample):
        return f"Label: {demo.label}\n{json.dumps({'sentence': _clip(demo.text)}, ensure_ascii=False)}"
    if isinstance(demo, PairExample):
        role_a, role_b = spec.pair_roles
        return f"{role_a}: {_clip(demo.text_a)}\n{role_b}: {_clip(demo.text_b)}\nLabel: {demo.label}"
    if isinstance(demo, NERExample) and spec.family == "attribute":
        attributes = [{"type": s.type, "text": s.text} for s in demo.spans]
        return json.dumps({"sentence": demo.text, "attributes": attributes}, ensure_ascii=False)
    if isinstance(demo, NERExample):
        return json.dumps({"sentence": demo.text, "entities": [s.text for s in demo.spans]}, ensure_ascii=False)
    raise TypeError(f"cannot render a {type(demo).__name__} demonstration")


def _demo_block(demos: list[str], header: str = "Here are some examples:") -> str:
    return f"\n\n{header}\n\n" + "\n\n".join(demos) if demos else ""


def _related_line(related: list[str], step: int) -> str:
    return f"\n{step}. where it is natural, also mention these related entities: {', '.join(related)}." if related else ""


def _hard_negative_line(names: list[str], kind: str, spec: TaskSpec, step: int) -> str:
    """'5. also mention the gene BRCA1; it is not a disease entity, so do not list it.' (NER hard negatives)"""
    if not names:
        return ""
    kind = kind.replace("_", " ")
    if len(names) == 1:
        return f"\n{step}. also mention the {kind} {names[0]}; it is not a {spec.domain} entity, so do not list it."
    return (f"\n{step}. also mention the {kind}s {', '.join(names)}; they are not {spec.domain} entities, so do not "
            f"list them.")


def classification(spec: TaskSpec, label: LabelSpec, topic: str | None, style: str | None,
                   related: list[str], demos: list[str]) -> str:
    if topic is None and style is None:  # zero-shot (ZeroGen) and few-shot (DemoGen) baselines
        head = (f"Suppose you need to create a dataset for {spec.domain}. Generate a sentence about "
                f"{label.name} ({label.description}).")
    else:
        head = (f"Suppose you need to create a dataset for {spec.domain}. Your task is to:\n"
                f"1. generate a sentence about {spec.domain},\n"
                f"2. the sentence should mimic the style of {style},\n"
                f"3. the sentence should be relevant to the subtopic of {topic} for {label.name} "
                f"({label.description}).{_related_line(related, 4)}")
    return f"{head}{_demo_block(demos)}\n\nLabel: {label.name}\nText:"


def ner(spec: TaskSpec, topic: str | None, style: str | None, related: list[str], demos: list[str],
        hard_negatives: list[str] | None = None, hard_negative_type: str = "gene") -> str:
    description = spec.labels[0].description
    if topic is None and style is None:
        head = (f"Suppose you need to generate a sentence about {spec.domain}. Generate a sentence that "
                f"mentions {spec.domain} entities ({description}), and list the {spec.domain} entities in it.")
    else:
        negatives = _hard_negative_line(hard_negatives or [], hard_negative_type, spec, 4 + bool(related))
        head = (f"Suppose you need to generate a sentence about {spec.domain}. Your task is to:\n"
                f"1. generate a sentence about {spec.domain} that mentions the {spec.domain} named '{topic}',\n"
                f"2. the sentence should mimic the style of {style},\n"
                f"3. list every {spec.domain} entity ({description}) in the sentence, exactly as written."
                f"{_related_line(related, 4)}{negatives}")
    reply = '{"sentence": "...", "entities": ["...", "..."]}'
    return f"{head}\nReply with JSON only: {reply}{_demo_block(demos)}"


def attribute(spec: TaskSpec, topic: str | None, style: str | None, demos: list[str]) -> str:
    kinds = "; ".join(f"{label.name}: {label.description}" for label in spec.labels)
    subject = f"the {spec.domain} '{topic}'" if topic else f"a {spec.domain}"
    styled = f", in the style of {style}" if style else ""
    reply = '{"sentence": "...", "attributes": [{"type": "...", "text": "..."}]}'
    return (f"Suppose you need to generate a clinical sentence about {subject}{styled}. The sentence should "
            f"mention the {spec.domain} and some of its attributes ({kinds}). Then list each attribute with "
            f"its type and its text exactly as written in the sentence.\nReply with JSON only: {reply}"
            f"{_demo_block(demos)}")


def relation(spec: TaskSpec, label: LabelSpec, head: str | None, tail: str | None, style: str | None,
             demos: list[str]) -> str:
    """A relation prompt. Where the task's real data masks its entities (@GENE$, @DISEASE$), the real
    demonstrations are masked too, so the instruction asks for the masks as well: the prompt never shows one
    form and asks for the other. Without masks (or with no sampled entities and no masks) it asks for names."""
    masked = bool(spec.head_mask and spec.tail_mask)
    if head is None:
        task = (f"Give a sentence about the '{label.name}' relation between a {spec.head_role} and a "
                f"{spec.tail_role}, where {label.description}.")
    else:
        task = (f"Give a sentence about the '{label.name}' relation between the {spec.head_role} '{head}' and "
                f"the {spec.tail_role} '{tail}', where {label.description}.")
    if masked:
        task += (f" Write {spec.head_mask} in place of the {spec.head_role}'s name and {spec.tail_mask} in place "
                 f"of the {spec.tail_role}'s name, each exactly once{', as the examples do' if demos else ''}.")
    elif head is not None:
        task += f" The sentence must name both '{head}' and '{tail}'."
    styled = f" The sentence should mimic the style of {style}." if style else ""
    return (f"Suppose you need to generate a sentence about {spec.domain}. {task}{styled}\n"
            f'Reply with JSON only: {{"sentence": "..."}}{_demo_block(demos)}\n\nLabel: {label.name}')


def _indefinite(noun: str) -> str:
    """The noun with its indefinite article, chosen by its first letter ("an evidence passage", "a claim");
    the pair roles of the built-in tasks have no silent or sounded exceptions (hour, unit)."""
    return f"{'an' if noun[:1].lower() in 'aeiou' else 'a'} {noun}"


def pair_first(spec: TaskSpec, topic: str | None, style: str | None, related: list[str], demos: list[str]) -> str:
    """The first step's prompt: the first text of the pair about the topic (already worded by the task's topic
    phrase, e.g. 'ivermectin in COVID-19' for a health claim), in the style."""
    subject = f" about {topic}" if topic else ""
    styled = f" in the style of {style}" if style else ""
    extra = f" Where it is natural, also mention: {', '.join(related)}." if related else ""
    return (f"Suppose you need to create a dataset for {spec.domain}. Write {_indefinite(spec.pair_roles[0])}"
            f"{subject}{styled}.{extra}\n"
            f'Reply with JSON only: {{"sentence": "..."}}{_demo_block(demos)}')


def pair_second(spec: TaskSpec, label: LabelSpec, demos: list[str]) -> str:
    """The second step's prompt, with SENTENCE_A_SLOT where the first step's sentence goes."""
    role_a, role_b = spec.pair_roles
    return (f"Suppose you need to create a dataset for {spec.domain}.{_demo_block(demos)}\n\n"
            f"Given the {role_a}: \"{SENTENCE_A_SLOT}\"\nWrite {_indefinite(role_b)} so that {label.description}.\n"
            f'Reply with JSON only: {{"sentence": "..."}}\nLabel: {label.name}')
