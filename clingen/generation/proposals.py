"""LLM-proposed topics and styles (prompts <- generation): asks the configured generator, through the same
Ray Data processor as the main job, and caches the cleaned lists as plain files users can edit."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

from clingen.config import ClinGenConfig
from clingen.parsing.mentions import label_words, mention_problem
from clingen.parsing.reasoning import split_reasoning
from clingen.prompts.demos import load_demo_pool
from clingen.prompts.knowledge import (JSON_ONLY, STYLE_PROMPT_DEMOS, clean_proposed_list, list_schema,
                                       split_list_reply, style_prompt, topic_prompt, write_list_file)
from clingen.prompts.templates import render_demo
from clingen.tasks.registry import get_task
from clingen.tasks.spec import TaskSpec

_ITEMS_PER_REQUEST = 20  # small models drift in long lists; ask several times for short ones


def _ask(config: ClinGenConfig, messages: list[dict], requests: int, max_items: int, quiet: bool) -> list[str]:
    """`requests` replies to the same question (the sampling temperature makes them differ); `quiet` keeps Ray's
    and vLLM's worker output off the console."""
    import ray

    from clingen.generation.stream import build_generator
    from clingen.cluster import ensure_ray
    ensure_ray(config, quiet=quiet)
    _, processor = build_generator(config)
    rows = [{"row_id": i, "messages": messages, "json_schema": json.dumps(list_schema(max_items)), "placeholder": False}
            for i in range(requests)]
    replies = processor(ray.data.from_items(rows)).take_all()
    errors = [r["__inference_error__"] for r in replies if r.get("__inference_error__")]
    if len(errors) == len(replies):
        from clingen.generation.job import GenerationFailed
        raise GenerationFailed(f"every proposal request failed; first error: {errors[0]}")
    # A reasoning model's thinking (its drafts of the list included) is no part of the proposed list.
    return [split_reasoning(r["generated_text"]).answer for r in sorted(replies, key=lambda r: r["row_id"])
            if not r.get("__inference_error__")]


def propose_topics(config: ClinGenConfig, entity_type: str, n: int, out: Path, quiet: bool = False) -> list[str]:
    requests = math.ceil(n / _ITEMS_PER_REQUEST) * 2  # replies overlap; ask for twice what is needed
    replies = _ask(config, topic_prompt(entity_type, _ITEMS_PER_REQUEST), requests, _ITEMS_PER_REQUEST, quiet)
    proposed = [item for reply in replies for item in split_list_reply(reply)]
    spec = get_task(config.task, config.task_file)
    items = usable_topics(clean_proposed_list(proposed, echoes=[JSON_ONLY]), spec, entity_type)[:n]
    write_list_file(out, items, f"{len(items)} {entity_type} topics proposed by {config.generator.model.source} "
                                f"for task {config.task} (kept from {len(proposed)} proposed items); edit freely")
    return items


def usable_topics(items: list[str], spec: TaskSpec, entity_type: str) -> list[str]:
    """The proposed topics a prompt can use: without those that the NER rules would never label (parsing.
    mentions.mention_problem: a type word, numbered or lettered as small models list them, "Disease1",
    "DiseaseA", "disease"; a placeholder or identifier), since a prompt about them teaches no entity."""
    generic = label_words(spec) | {entity_type.casefold().replace("_", " ")}
    # "Disease1", "DiseaseA": the numbering glued on, as "Disease 1" would be read.
    return [item for item in items if mention_problem(_GLUED_NUMBERING.sub(r"\1 \2", item), generic) is None]


_GLUED_NUMBERING = re.compile(r"^([A-Za-z]+?[a-z])(\d+|[A-Z])$")


def propose_styles(config: ClinGenConfig, n: int, out: Path, quiet: bool = False) -> list[str]:
    spec = get_task(config.task, config.task_file)
    demos = load_demo_pool(spec, config.prompts.fewshot_path, config.prompts.demo_pool_per_class, config.seed)
    replies = _ask(config, style_prompt(spec, demos, n), 4, n, quiet)
    proposed = [item for reply in replies for item in split_list_reply(reply)]
    # Small models copy the demonstrations they are shown into the list; those are not styles.
    shown = [render_demo(spec, demo) for demo in demos[:STYLE_PROMPT_DEMOS]] + [JSON_ONLY]
    items = clean_proposed_list(proposed, echoes=shown)[:n]
    write_list_file(out, items, f"{len(items)} writing styles proposed by {config.generator.model.source} for "
                                f"task {config.task} (kept from {len(proposed)} proposed items); edit freely")
    return items
