"""Quality stage: the "can I train on this?" checks of one synthetic set (datasets -> quality report), in pure
Python and numpy (no Ray): labels asked vs kept, example cards per label, a row table that adds up, failure
reasons with sample replies, text lengths and leakage against the real split, and pass/fail flags.

Labels are counted per committed example: classification counts each of its labels (multi-label: every one),
relation and pair tasks their one label, NER and attribute tasks each entity type with at least one span in the
example (so "kept" is examples holding that type, comparable with the rows that asked for it; mentions per type
are counted beside). "Asked" is each prompt row's label: a kept example's `provenance.prompt_label`, a rejected
row's `prompt.label` in the `reply_record` JSON of its failures (checker.ReplyRecord; only a row's first failure
carries one); a row whose label cannot be read counts as "unknown".
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable

import numpy as np

from clingen.datasets.records import ClassificationExample, NERExample, PairExample, Record
from clingen.parsing.dedup import normalise, shingles
from clingen.runfolder.reasons import NO_EXAMPLE, level_of

UNKNOWN = "unknown"
TEXT_CHARS, RAW_CHARS = 300, 400  # example and leak texts; failure replies
FAILURE_SAMPLES, LEAK_SAMPLES = 3, 3


def text_of(record: Record) -> str:
    """The text a record contributes to embeddings, n-gram counts, lengths and leakage (a pair: both texts)."""
    if isinstance(record, PairExample):
        return f"{record.text_a} {record.text_b}"
    return record.text


def truncate(text: str | None, limit: int) -> str:
    """`text` cut to at most `limit` characters, an ellipsis marking a cut; None reads as ""."""
    text = text or ""
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "\u2026"


def load_failures(path: str) -> list[dict]:
    """Every failure row of a `clingen generate` output folder (or URI), as dicts with the store's columns
    row_id, reason, detail, raw, step, reply_record; [] when it has none. Nothing is created or changed."""
    from clingen.runfolder.store import OutputStore
    return OutputStore(path, create=False).read_failures().to_pylist()


def record_labels(record: Record) -> list[str]:
    """The labels an example counts under (module docstring), without repeats."""
    if isinstance(record, NERExample):
        return sorted({span.type for span in record.spans})
    if isinstance(record, ClassificationExample):
        return list(dict.fromkeys(record.labels))
    return [record.label]


def failure_prompt_label(failure: dict) -> str | None:
    """The label a failure's prompt row asked for (`prompt.label` of its reply_record JSON); None when the
    record is absent, is not JSON of that shape, or names no label."""
    try:
        prompt = json.loads(failure.get("reply_record") or "").get("prompt")
    except (ValueError, AttributeError):
        return None
    label = prompt.get("label") if isinstance(prompt, dict) else None
    return label if isinstance(label, str) and label else None


def rejected_rows(records: list[Record], failures: list[dict]) -> list[list[dict]]:
    """The failures of each row that kept no example, one list per row in first-seen order (a failure without
    a row id is a row of its own). Rows that kept an example (their mention-level failures) are left out."""
    kept = {r.provenance.row_id for r in records if r.provenance and r.provenance.row_id is not None}
    rows: dict[object, list[dict]] = {}
    for index, failure in enumerate(failures):
        row = failure.get("row_id")
        if row is not None and row in kept:
            continue
        rows.setdefault(("row", row) if row is not None else ("failure", index), []).append(failure)
    return list(rows.values())


def asked_labels(records: list[Record], failures: list[dict]) -> Counter:
    """Rows asked per prompt label: kept examples and rejected rows (module docstring); "unknown" where a row's
    label cannot be read."""
    asked = Counter((r.provenance.prompt_label if r.provenance else None) or UNKNOWN for r in records)
    for group in rejected_rows(records, failures):
        asked[next((label for label in map(failure_prompt_label, group) if label), UNKNOWN)] += 1
    return asked


def _label_order(labels: Iterable[str], task_labels: list[str]) -> list[str]:
    seen = set(labels) | set(task_labels)
    rest = sorted(seen - set(task_labels) - {UNKNOWN})
    return [*task_labels, *rest, *([UNKNOWN] if UNKNOWN in seen else [])]


def label_table(records: list[Record], failures: list[dict], task_labels: list[str]) -> dict:
    """Labels asked vs kept: {"examples": n, "unit": what "kept" counts, "rows": [{"label", "asked", "kept",
    "share"}] (share: kept / examples, None without examples) in task order, then others, "unknown" last,
    "mentions": {entity type: spans} for NER/attribute sets, else None}."""
    kept = Counter(label for record in records for label in record_labels(record))
    asked = asked_labels(records, failures)
    ner = bool(records) and isinstance(records[0], NERExample)
    n = len(records)
    rows = [{"label": label, "asked": asked.get(label, 0), "kept": kept.get(label, 0),
             "share": kept.get(label, 0) / n if n else None} for label in _label_order([*kept, *asked], task_labels)]
    mentions = dict(Counter(s.type for r in records for s in r.spans)) if ner else None
    unit = "examples with a span of the type" if ner else "examples with the label"
    return {"examples": n, "unit": unit, "rows": rows, "mentions": mentions}


def _card(record: Record, label: str) -> dict:
    text = f"{record.text_a} || {record.text_b}" if isinstance(record, PairExample) else record.text
    provenance = record.provenance
    card = {"id": record.id, "text": truncate(text, TEXT_CHARS), "topic": provenance and provenance.topic,
            "style": provenance and provenance.style}
    if isinstance(record, NERExample):
        card["mentions"] = [span.text for span in record.spans if span.type == label]
    return card


def examples_per_label(records: list[Record], per_label: int) -> dict[str, list[dict]]:
    """Up to `per_label` example cards per label, the first committed ones: {label: [{"id", "text" (cut to
    TEXT_CHARS), "topic", "style", and for NER "mentions" of that type}]}."""
    cards: dict[str, list[dict]] = {}
    for record in records:
        for label in record_labels(record):
            bucket = cards.setdefault(label, [])
            if len(bucket) < per_label:
                bucket.append(_card(record, label))
    return cards


def _first_row_reason(group: list[dict]) -> str:
    return next((f["reason"] for f in group if level_of(f["reason"] or "") == "row"), NO_EXAMPLE)


def row_table(records: list[Record], failures: list[dict], counts=None) -> dict:
    """Where the done rows went: {"source": "manifest" | "failures", "rows_done", "kept", "rejected":
    [{"reason", "rows", "share"}] (first row-level reason per row, most first), "total" (kept + rejected),
    "adds_up" (total == rows_done), "mention_failures": [{"reason", "count"}] (mentions dropped without
    rejecting a row)}. `counts`: the manifest's ManifestCounts; without it the failures table decides."""
    kept = len(records)
    if counts is not None:
        source, rows_done = "manifest", counts.rows_done
        rejected, mentions = dict(counts.rejected_rows_by_reason), dict(counts.rejected_mentions_by_reason)
    else:
        rejected = dict(Counter(_first_row_reason(g) for g in rejected_rows(records, failures)))
        mentions = dict(Counter(f["reason"] for f in failures if level_of(f["reason"] or "") == "mention"))
        source, rows_done = "failures", kept + sum(rejected.values())
    rejected = {reason: rows for reason, rows in rejected.items() if rows}
    total = kept + sum(rejected.values())
    return {"source": source, "rows_done": rows_done, "kept": kept,
            "rejected": [{"reason": reason, "rows": rows, "share": rows / rows_done if rows_done else None}
                         for reason, rows in sorted(rejected.items(), key=lambda item: (-item[1], item[0]))],
            "total": total, "adds_up": total == rows_done,
            "mention_failures": [{"reason": r, "count": c} for r, c in sorted(mentions.items(), key=lambda i: -i[1])]}


def failure_reasons(failures: list[dict], rows_done: int, samples: int = FAILURE_SAMPLES) -> list[dict]:
    """Each failure reason, most frequent first: {"reason", "level" (row | mention | retry), "count" (failure
    rows), "rows" (distinct rows), "share" (rows / rows_done, None when no rows are done), "samples": up to
    `samples` of {"row_id", "detail", "raw" (the reply cut to RAW_CHARS)}}."""
    groups: dict[str, list[dict]] = {}
    for failure in failures:
        groups.setdefault(failure.get("reason") or UNKNOWN, []).append(failure)
    out = []
    for reason, group in sorted(groups.items(), key=lambda item: (-len(item[1]), item[0])):
        rows = len({f.get("row_id") if f.get("row_id") is not None else ("failure", i) for i, f in enumerate(group)})
        out.append({"reason": reason, "level": level_of(reason), "count": len(group), "rows": rows,
                    "share": rows / rows_done if rows_done else None,
                    "samples": [{"row_id": f.get("row_id"), "detail": truncate(f.get("detail"), RAW_CHARS),
                                 "raw": truncate(f.get("raw"), RAW_CHARS)} for f in _one_per_row(group, samples)]})
    return out


def _one_per_row(group: list[dict], samples: int) -> list[dict]:
    """Up to `samples` failures of distinct rows (a reply that dropped two mentions is shown once), topped up
    with repeats only when fewer rows failed so."""
    seen, first, rest = set(), [], []
    for failure in group:
        row = failure.get("row_id")
        (rest if row is not None and row in seen else first).append(failure)
        seen.add(row)
    return (first + rest)[:samples]


def length_stats(texts: list[str]) -> dict | None:
    """Whitespace-word lengths: {"texts", "mean", "median", "p10", "p90"}; None for no texts."""
    if not texts:
        return None
    words = np.array([len(text.split()) for text in texts], dtype=float)
    return {"texts": len(texts), "mean": float(words.mean()), "median": float(np.median(words)),
            "p10": float(np.percentile(words, 10)), "p90": float(np.percentile(words, 90))}


def lengths(texts: list[str], real_texts: list[str] | None) -> dict:
    """{"synthetic": length_stats, "real": length_stats or None, "median_ratio": synthetic median / real median,
    None without a real split (or a real median of 0)}."""
    mine, real = length_stats(texts), length_stats(real_texts) if real_texts else None
    ratio = mine["median"] / real["median"] if mine and real and real["median"] else None
    return {"synthetic": mine, "real": real, "median_ratio": ratio}


class RealIndex:
    """The real split's texts, indexed to find the one a synthetic text copies: exactly (equal after
    dedup.normalise), nearly (Jaccard similarity of dedup.shingles >= threshold, the quantity the parse stage's
    MinHash estimates, here computed exactly) or as a part of it (dedup.containment of the synthetic text in
    the real one >= threshold). Candidates come from prefix filtering: a text whose 5-grams are >= threshold
    contained in a real text shares at least one of its floor((1 - threshold) * n) + 1 rarest 5-grams with it,
    and Jaccard >= threshold implies that containment. Synthetic texts are only looked up, never added, so they
    never match each other. Raises ValueError for a threshold outside (0, 1]."""

    def __init__(self, texts: list[str], threshold: float):
        if not 0 < threshold <= 1:
            raise ValueError(f"leak threshold {threshold}; expected a similarity in (0, 1]")
        self.texts, self.threshold = list(texts), threshold
        self._exact: dict[str, int] = {}
        self._shingles = [shingles(text) for text in self.texts]
        self._postings: dict[str, list[int]] = {}
        for index, (text, grams) in enumerate(zip(self.texts, self._shingles)):
            self._exact.setdefault(normalise(text), index)
            for gram in grams:
                self._postings.setdefault(gram, []).append(index)

    def _candidates(self, grams: set[str]) -> set[int]:
        rarest = sorted(grams, key=lambda gram: len(self._postings.get(gram, ())))
        prefix = int((1 - self.threshold) * len(grams) + 1e-9) + 1
        return {index for gram in rarest[:prefix] for index in self._postings.get(gram, ())}

    def match(self, text: str) -> tuple[str, int, float] | None:
        """(kind, index into texts, similarity) of the real text `text` copies most: kind "exact" (1.0),
        "near_duplicate" (Jaccard) before "contained" (containment); None when none reaches the threshold."""
        exact = self._exact.get(normalise(text))
        if exact is not None:
            return "exact", exact, 1.0
        grams, best = shingles(text), None
        for index in self._candidates(grams):
            shared = len(grams & self._shingles[index])
            jaccard, contained = shared / len(grams | self._shingles[index]), shared / len(grams)
            key = (1, jaccard) if jaccard >= self.threshold else (0, contained) if contained >= self.threshold else None
            if key is not None and (best is None or key > best[0]):
                best = (key, index)
        if best is None:
            return None
        (rank, score), index = best
        return ("near_duplicate" if rank else "contained"), index, score


def leakage(texts: list[str], real: RealIndex | None, samples: int = LEAK_SAMPLES) -> dict | None:
    """Synthetic texts that copy a real one (RealIndex.match): {"threshold", "checked", "count", "share",
    "by_kind": {kind: count}, "samples": up to `samples` of {"kind", "similarity", "synthetic", "real"} (cut
    to TEXT_CHARS)}; None without a real split."""
    if real is None:
        return None
    by_kind: Counter = Counter()
    shown = []
    for text in texts:
        hit = real.match(text)
        if hit is None:
            continue
        kind, index, score = hit
        by_kind[kind] += 1
        if len(shown) < samples:
            shown.append({"kind": kind, "similarity": score, "synthetic": truncate(text, TEXT_CHARS),
                          "real": truncate(real.texts[index], TEXT_CHARS)})
    count = sum(by_kind.values())
    return {"threshold": real.threshold, "checked": len(texts), "count": count,
            "share": count / len(texts) if texts else 0.0, "by_kind": dict(by_kind), "samples": shown}


def _flag(name: str, value, threshold, passed: bool, message: str) -> dict:
    return {"name": name, "value": value, "threshold": threshold, "passed": bool(passed), "message": message}


def _label_flag(labels: dict, task_labels: list[str], limit: float) -> dict | None:
    known = {row["label"] for row in labels["rows"] if row["asked"] and row["label"] != UNKNOWN}
    if labels["examples"] == 0 or len(set(task_labels) or known) < 2:
        return None  # one label (NCBI's Disease) is no imbalance
    top = max(labels["rows"], key=lambda row: row["kept"])
    return _flag("max_label_share", top["share"], limit, top["share"] <= limit,
                 f"label {top['label']!r} holds {top['share']:.0%} of {labels['examples']} examples "
                 f"(at most {limit:.0%} allowed)")


def _row_flags(rows: dict, settings) -> list[dict]:
    done = rows["rows_done"]
    if not done:
        return []
    kept = rows["kept"] / done
    out = [_flag("min_kept_share", kept, settings.min_kept_share, kept >= settings.min_kept_share,
                 f"kept {rows['kept']} of {done} rows ({kept:.0%}; at least {settings.min_kept_share:.0%} wanted)")]
    top = rows["rejected"][0] if rows["rejected"] else {"reason": None, "share": 0.0, "rows": 0}
    limit = settings.max_reason_share
    message = (f"{top['reason']} rejected {top['rows']} of {done} rows ({top['share']:.0%}; at most {limit:.0%} "
               f"allowed)" if top["reason"] else "no row was rejected")
    out.append(_flag("max_reason_share", top["share"], limit, top["share"] <= limit, message))
    return out


def _real_flags(lens: dict, leaks: dict | None, settings) -> list[dict]:
    out = []
    ratio, (low, high) = lens["median_ratio"], settings.length_ratio_range
    if ratio is not None:
        out.append(_flag("length_ratio_range", ratio, [low, high], low <= ratio <= high,
                         f"median length {lens['synthetic']['median']:g} words vs {lens['real']['median']:g} in "
                         f"the real split (ratio {ratio:.2f}; {low:g} to {high:g} allowed)"))
    if leaks is not None:
        limit = settings.max_leak_share
        out.append(_flag("max_leak_share", leaks["share"], limit, leaks["share"] <= limit,
                         f"{leaks['count']} of {leaks['checked']} texts copy a real text ({leaks['share']:.1%}; at "
                         f"most {limit:.1%} allowed; similarity >= {leaks['threshold']:g})"))
    return out


def assess(records: list[Record], failures: list[dict], settings, counts=None, task_labels: list[str] | None = None,
           real: RealIndex | None = None) -> dict:
    """Every check of one synthetic set: ALL its committed `records`, its failure rows (load_failures), its
    manifest's ManifestCounts (None: rows from the failures), the task's label names and the real split's
    texts (RealIndex, None without one); `settings`: QualitySettings. Returns {"labels", "examples_per_label",
    "rows", "failure_reasons", "lengths", "leakage", "flags": [{"name", "value", "threshold", "passed",
    "message"}], "checks", "passed"}; flags that need a real split are omitted without one."""
    task_labels = list(task_labels or [])
    texts = [text_of(record) for record in records]
    labels = label_table(records, failures, task_labels)
    rows = row_table(records, failures, counts)
    lens = lengths(texts, real.texts if real is not None else None)
    leaks = leakage(texts, real)
    flags = [f for f in [_label_flag(labels, task_labels, settings.max_label_share)] if f is not None]
    flags += _row_flags(rows, settings) + _real_flags(lens, leaks, settings)
    return {"labels": labels, "examples_per_label": examples_per_label(records, settings.examples_per_label),
            "rows": rows, "failure_reasons": failure_reasons(failures, rows["rows_done"]), "lengths": lens,
            "leakage": leaks, "flags": flags, "checks": len(flags), "passed": all(f["passed"] for f in flags)}
