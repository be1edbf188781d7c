"""Quality stage: renders quality.json and its figures as one self-contained HTML page (PNG as data URIs)."""

from __future__ import annotations

import base64
from html import escape
from pathlib import Path

from clingen.quality.html_trainability import STYLE as TRAINABILITY_STYLE, trainability_section
from clingen.quality.metrics import REAL, metric_columns

STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 24px 32px; color: #1f2328; }
h1 { font-size: 22px; margin-bottom: 4px; } h2 { font-size: 17px; margin-top: 28px; }
table { border-collapse: collapse; margin: 8px 0 16px; font-size: 13px; }
th, td { border: 1px solid #d0d7de; padding: 4px 10px; text-align: right; }
th { background: #f6f8fa; } td.name, th.name { text-align: left; }
p.summary, p.note { font-size: 13px; color: #57606a; max-width: 1100px; }
figure { margin: 12px 0 24px; } figure img { max-width: 100%; border: 1px solid #d0d7de; }
figcaption { font-size: 12px; color: #57606a; }
"""
# (key, label) of the metrics table rows; values come from each source's "metrics".
METRIC_ROWS = (("cmd_vs_real", "CMD vs real"), ("mean_pairwise_cosine", "mean pairwise cosine"),
               ("distinct_1", "distinct-1"), ("distinct_2", "distinct-2"), ("vocabulary_size", "vocabulary size"),
               ("topic_coverage", "topic coverage"), ("real_entity_coverage", "real-entity coverage"))
COUNT_ROWS = (("prompts", "prompts"), ("rows_done", "rows done"), ("examples", "examples kept"),
              ("parse_failures", "parse failures"), ("duplicates", "duplicates"),
              ("generation_errors", "generation errors"))
CAPTIONS = {"tsne": "t-SNE map of the sentence embeddings, real split and each synthetic set, coloured by source.",
            "metrics": "Diversity and coverage per source, and each synthetic set's CMD vs the real split.",
            "entities": "Most frequent entity mentions (case-folded) per source."}


def _cell(value) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.4f}"
    return escape(str(value))


def _table(css: str, header: list[str], rows: list[list]) -> str:
    """A plain table: the first column holds row names, the others values (pre-escaped via _cell)."""
    head = "".join(f'<th class="{"name" if i == 0 else "value"}">{escape(h)}</th>' for i, h in enumerate(header))
    body = "".join("<tr>" + f'<td class="name">{escape(str(row[0]))}</td>' +
                   "".join(f"<td>{_cell(v)}</td>" for v in row[1:]) + "</tr>" for row in rows)
    return f'<table class="{css}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _entries(report: dict) -> dict[str, dict]:
    return {REAL: report["real"], **report["sets"]} if report["real"] else dict(report["sets"])


def metrics_table(report: dict) -> str:
    entries, columns = _entries(report), metric_columns(report)
    k = report["cmd"]["order_k"]
    rows = [["examples (all)", *[e["examples"] for e in entries.values()]],
            ["examples measured", *[e["measured"] for e in entries.values()]]]
    for key, label in METRIC_ROWS:
        rows.append([f"{label} (K={k})" if key == "cmd_vs_real" else label,
                     *[columns[name].get(key) for name in columns]])
    for key, label in (("distinct", "distinct entities"), ("total", "entity mentions")):
        rows.append([label, *[(e["entities"] or {}).get(key) for e in entries.values()]])
    return _table("metrics", ["metric", *columns], rows)


def generation_tables(report: dict) -> str:
    """Generation counts and parse failures by reason per synthetic set, from their manifests."""
    runs = {name: entry["generation"] for name, entry in report["sets"].items() if entry["generation"]}
    if not runs:
        return '<p class="note">No synthetic set has a manifest.json.</p>'
    rows = [["strategy", *[g.get("strategy") for g in runs.values()]],
            ["model", *[g.get("model") for g in runs.values()]]]
    rows += [[label, *[(g.get("counts") or {}).get(key) for g in runs.values()]] for key, label in COUNT_ROWS]
    rows += [["prompt tokens", *[(g.get("tokens") or {}).get("prompt") for g in runs.values()]],
             ["completion tokens", *[(g.get("tokens") or {}).get("completion") for g in runs.values()]],
             ["wall time (s)", *[None if g.get("wall_time_s") is None else f"{g['wall_time_s']:.1f}"
                                 for g in runs.values()]]]
    reasons = sorted({r for g in runs.values() for r in ((g.get("counts") or {}).get("parse_failures_by_reason")
                                                         or {})})
    failures = [[reason, *[((g.get("counts") or {}).get("parse_failures_by_reason") or {}).get(reason, 0)
                           for g in runs.values()]] for reason in reasons]
    out = _table("generation", ["generation", *runs], rows)
    if failures:
        out += "<h3>Parse failures by reason</h3>" + _table("failures", ["reason", *runs], failures)
    return out


def entities_table(report: dict) -> str:
    tops = {name: e["entities"]["top"] for name, e in _entries(report).items() if e["entities"]}
    if not tops:
        return '<p class="note">This task family names no entities.</p>'
    depth = max(len(top) for top in tops.values())
    rows = [[str(rank + 1), *[f"{top[rank][0]} ({top[rank][1]})" if rank < len(top) else "" for top in tops.values()]]
            for rank in range(depth)]
    return _table("entities", ["rank", *tops], rows)


def _figure_html(name: str, entry, out: Path) -> str:
    if isinstance(entry, dict):
        return f'<p class="note">{escape(name)} figure skipped: {escape(entry["skipped"])}</p>'
    data = base64.b64encode((out / entry).read_bytes()).decode("ascii")
    return (f'<figure class="figure {escape(name)}"><img src="data:image/png;base64,{data}" alt="{escape(name)} '
            f'figure"><figcaption>{escape(CAPTIONS.get(name, name))}</figcaption></figure>')


def _summary(report: dict) -> str:
    emb, cmd, settings = report["embedding"], report["cmd"], report["settings"]
    real = report["real"]
    real_text = (f"real split <code>{escape(real['path'])}</code> ({real['measured']:,} of {real['examples']:,} "
                 f"examples)" if real else "no real split (CMD and real-entity coverage not computed)")
    return (f'<p class="summary">Task <b>{escape(report["task"])}</b> ({escape(report["family"])}); {real_text}. '
            f'Embeddings: <code>{escape(emb["encoder"])}</code>, {escape(emb["pooling"])}, at most '
            f'{emb["max_length"]} tokens. CMD of order K={cmd["order_k"]} with bounds [{cmd["bounds"][0]:g}, '
            f'{cmd["bounds"][1]:g}] ({escape(cmd["bounds_reason"])}). At most {settings["max_examples"]:,} '
            f'examples per set, sampled with seed {settings["seed"]}.</p>')


NOTES = ("CMD: Central Moment Discrepancy (Zellinger et al. 2017) between a set's and the real split's "
         "embeddings; 0 for identical distributions. Mean pairwise cosine: over distinct pairs of embeddings; "
         "lower means more diverse. Distinct-n: distinct n-grams / all n-grams over lower-cased whitespace "
         "tokens. Topic coverage: share of rows whose recorded topic appears in their text. Real-entity "
         "coverage: share of the real split's distinct (case-folded) entities that the set annotates.")


def render_html(report: dict, out: Path) -> str:
    """The whole page; figures are read from `out` and embedded, so the file needs nothing beside it."""
    figures = "".join(_figure_html(name, entry, Path(out)) for name, entry in report["figures"].items())
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>ClinGen quality: '
            f'{escape(report["task"])}</title><style>{STYLE}{TRAINABILITY_STYLE}</style></head><body>'
            f'<h1>Synthetic-data quality: {escape(report["task"])}</h1>{trainability_section(report)}'
            f'<h2>Setup</h2>{_summary(report)}'
            f'<h2>Metrics</h2>{metrics_table(report)}<p class="note">{escape(NOTES)}</p>'
            f'<h2>Generation</h2>{generation_tables(report)}'
            f'<h2>Figures</h2>{figures}<h2>Top entities</h2>{entities_table(report)}</body></html>\n')
