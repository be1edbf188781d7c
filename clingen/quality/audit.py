"""Label-fidelity audit (datasets -> quality): how far a run's kept labels are supported by their text.

Kept texts that break generation's content rules (placeholders, talk as an assistant, about their own label or
about the task), NER topics labelled where they occur, kept spans that are knowledge-graph names rather than
generic words or placeholders, relation entities present, pairs that are not near-copies.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from clingen.config import ClinGenConfig, config_from_dict
from clingen.parsing import fidelity, mentions
from clingen.parsing.parsers import KG_STRATEGIES
from clingen.runfolder.store import OutputStore
from clingen.tasks.registry import get_task
from clingen.tasks.spec import TaskSpec

SPAN_KINDS = ("kg_name", "generic", "placeholder", "other")


def audit_run(out: str) -> dict[str, Any]:
    """The audit of the run in `out` (its manifest's config and task): counts and shares, JSON-serialisable.
    Raises ConfigError when `out` holds no manifest."""
    store = OutputStore.open_run(out)
    manifest = store.read_manifest()
    config = config_from_dict(manifest.config, where=f" recorded in {out}", recorded=True)
    spec = get_task(config.task, config.task_file)
    table = store.read_examples()
    examples = table.to_pylist() if table is not None else []
    result: dict[str, Any] = {"out": out, "task": spec.name, "family": spec.family,
                              "strategy": config.prompts.strategy, "rows_done": manifest.counts.rows_done,
                              "examples": len(examples)}
    result.update(audit_texts(spec, examples))
    if spec.family in ("ner", "attribute"):
        result.update(audit_ner(spec, examples, _kg_names(config, spec)))
    elif spec.family == "relation":
        missing = sum(1 for e in examples if fidelity.relation_problem(spec, e["text"], e["head"], e["tail"]))
        result["relation_entities_missing"] = missing
        result["relation_roles_swapped"] = sum(1 for e in examples if fidelity.swapped_roles(spec, e["text"], e["head"],
                                                                                             e["tail"]))
    elif spec.family == "pair":
        threshold = config.generation.pair_copy_threshold
        copies = sum(1 for e in examples if fidelity.pair_copy_share(e["text_a"], e["text_b"]) >= threshold)
        result.update(near_copy_pairs=copies, near_copy_share=_share(copies, len(examples)),
                      pair_copy_threshold=threshold)
    return result


def audit_texts(spec: TaskSpec, examples: list[dict]) -> dict[str, Any]:
    """Kept examples whose text breaks a content rule of generation (fidelity.text_problem, the parsers' own
    check, with the example's prompt style; a pair by either text), by reason: `texts_by_reason`, and the
    `placeholder_texts` and the `meta_texts` (texts about the task: as an assistant, naming their label, about
    the prompt) among them. A run generated under older rules can hold such texts; `clingen reparse` rejects
    them."""
    by_reason: Counter = Counter()
    flagged: list[str] = []
    for example in examples:
        texts = [example["text"]] if "text" in example else [example["text_a"], example["text_b"]]
        problem = next((p for p in (fidelity.text_problem(spec, t, example.get("style")) for t in texts) if p), None)
        if problem:
            by_reason[problem[0]] += 1
            if len(flagged) < 20:
                flagged.append(f"{example.get('id')}: {problem[0]}: {problem[1]}")
    return {"placeholder_texts": by_reason["placeholder_text"],
            "meta_texts": sum(by_reason[reason] for reason in fidelity.TASK_TALK_REASONS),
            "texts_by_reason": dict(sorted(by_reason.items())), "flagged_texts": flagged}


def audit_ner(spec: TaskSpec, examples: list[dict], kg_names: set[str]) -> dict[str, Any]:
    """NER figures: examples whose topic occurs, those where every occurrence lies whole within a labelled span, and
    the kept spans by kind (kg_name: a knowledge-graph name or synonym of the type, case-insensitive; generic:
    a label/type word or pronoun; placeholder: a template placeholder or identifier; other)."""
    generic = mentions.label_words(spec)
    occurs = labelled = 0
    kinds: Counter = Counter()
    flagged: list[str] = []
    for example in examples:
        topic = example.get("topic") if example.get("strategy") in KG_STRATEGIES else None
        if topic and mentions.mention_problem(topic, generic):  # not a name: parsing does not label it either
            topic = None
        spans = [(s["start"], s["end"]) for s in example["spans"] or []]
        found = mentions.find_mentions(example["text"], topic) if topic else []
        if found:
            occurs += 1
            # Labelled whole: as its own span, or inside a longer listed name of the same entity.
            labelled += all(any(s <= a and b <= e for s, e in spans) for a, b in found)
        for span in example["spans"] or []:
            kind = span_kind(span["text"], generic, kg_names)
            kinds[kind] += 1
            if kind in ("generic", "placeholder") and len(flagged) < 20:
                flagged.append(f"{example['id']}: {span['text']!r}")
    total = sum(kinds.values())
    return {"topic_occurs": occurs, "topic_labelled": labelled, "topic_labelled_share": _share(labelled, occurs),
            "spans": total, "spans_by_kind": {k: kinds.get(k, 0) for k in SPAN_KINDS},
            "span_share_by_kind": {k: _share(kinds.get(k, 0), total) for k in SPAN_KINDS},
            "flagged_spans": flagged}


def span_kind(text: str, generic: frozenset[str], kg_names: set[str]) -> str:
    """One of SPAN_KINDS for a kept span's text."""
    problem = mentions.mention_problem(text, generic)
    if problem and problem[0] in ("mention_is_placeholder", "mention_is_identifier"):
        return "placeholder"
    if problem:
        return "generic"
    return "kg_name" if text.casefold() in kg_names else "other"


def _kg_names(config: ClinGenConfig, spec: TaskSpec) -> set[str]:
    from clingen.kg.source import load_graph
    entity_type = spec.kg_entity_type or (spec.labels[0].topics.entity_types or [None])[0]
    if entity_type is None:
        return set()
    return {name.casefold() for name in load_graph(config.kg).names_of_type(entity_type)}


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def format_audit(result: dict[str, Any]) -> str:
    """A few readable lines of an audit result."""
    lines = [f"{result['task']} ({result['family']}, {result['strategy']}): {result['examples']} examples kept "
             f"from {result['rows_done']} rows",
             f"texts with a placeholder: {result['placeholder_texts']}; texts about the task: {result['meta_texts']}"]
    by_reason = result.get("texts_by_reason") or {}
    if by_reason:
        lines.append("kept texts that today's rules reject: " + ", ".join(f"{k} {v}" for k, v in by_reason.items()))
        lines += [f"  flagged: {item}" for item in result.get("flagged_texts", [])]
    if "spans" in result:
        shares = result["span_share_by_kind"]
        lines.append(f"topic labelled where it occurs: {result['topic_labelled']}/{result['topic_occurs']} "
                     f"({_pct(result['topic_labelled_share'])})")
        lines.append(f"kept spans: {result['spans']}: " + ", ".join(
            f"{kind} {result['spans_by_kind'][kind]} ({_pct(shares[kind])})" for kind in SPAN_KINDS))
        lines += [f"  flagged: {item}" for item in result["flagged_spans"]]
    if "near_copy_pairs" in result:
        lines.append(f"near-copy pairs (>= {result['pair_copy_threshold']:.0%} of the second text in the first): "
                     f"{result['near_copy_pairs']} ({_pct(result['near_copy_share'])})")
    if "relation_entities_missing" in result:
        lines.append(f"relation examples missing an entity: {result['relation_entities_missing']}")
        lines.append(f"relation examples whose entities trade roles: {result['relation_roles_swapped']}")
    return "\n".join(lines)


def _pct(share: float | None) -> str:
    return "n/a" if share is None else f"{share:.1%}"
