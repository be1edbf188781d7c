"""Quality stage: the "Can I train on this?" section of report.html, per synthetic set: its pass/fail flags, the
row table, labels asked vs kept, example cards per label, failure reasons with sample replies, lengths vs the
real split and leakage samples (trainability.assess output). Every text is escaped."""

from __future__ import annotations

from html import escape

STYLE = """
section.train { border: 1px solid #d0d7de; border-radius: 6px; padding: 4px 16px 12px; margin: 12px 0 20px; }
section.train h3 { font-size: 16px; margin: 10px 0 6px; }
.verdict { display: inline-block; border-radius: 10px; padding: 1px 10px; font-size: 12px; font-weight: 600;
  margin-left: 8px; vertical-align: middle; }
.pass { background: #dafbe1; color: #1a7f37; } .fail { background: #ffebe9; color: #cf222e; }
table.flags td.message { text-align: left; max-width: 640px; }
table.flags th:last-child, table.leaks th:nth-child(n+3) { text-align: left; }
table.flags td.result { font-weight: 600; text-align: center; }
.train-grid { display: flex; flex-wrap: wrap; gap: 0 28px; align-items: flex-start; }
.train-grid > div { min-width: 260px; }
h4 { font-size: 14px; margin: 14px 0 4px; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(300px, 1fr)); gap: 8px; margin: 4px 0 10px; }
.card { border: 1px solid #d0d7de; border-radius: 6px; padding: 8px 10px; font-size: 13px; background: #fff; }
.card .meta { color: #57606a; font-size: 12px; margin-top: 4px; } .card .label { font-weight: 600; }
pre.raw { white-space: pre-wrap; word-break: break-word; background: #f6f8fa; border: 1px solid #d0d7de;
  border-radius: 6px; padding: 6px 8px; font-size: 12px; margin: 2px 0 8px; max-width: 1100px; }
.sample-detail { font-size: 12px; color: #57606a; }
table.leaks td { text-align: left; max-width: 520px; }
"""


def _num(value, percent: bool = False) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if percent:
        return f"{value:.1%}"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.2f}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_num(v) for v in value) + "]"
    return escape(str(value))


def _table(css: str, header: list[str], rows: list[list[str]]) -> str:
    """Cells are given as HTML (already escaped); the first column is left-aligned."""
    head = "".join(f'<th class="{"name" if i == 0 else "value"}">{escape(h)}</th>' for i, h in enumerate(header))
    body = "".join("<tr>" + "".join(f'<td class="name">{c}</td>' if i == 0 else c if c.startswith("<td")
                                    else f"<td>{c}</td>" for i, c in enumerate(row)) + "</tr>" for row in rows)
    return f'<table class="{css}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


SHARES = {"max_label_share", "min_kept_share", "max_reason_share", "max_leak_share"}


def flags_table(flags: list[dict]) -> str:
    if not flags:
        return '<p class="note">No check could be computed.</p>'
    rows = []
    for flag in flags:
        percent = flag["name"] in SHARES
        css = "pass" if flag["passed"] else "fail"
        rows.append([escape(flag["name"]), _num(flag["value"], percent), _num(flag["threshold"], percent),
                     f'<td class="result {css}">{"PASS" if flag["passed"] else "FAIL"}</td>',
                     f'<td class="message">{escape(flag["message"])}</td>'])
    return _table("flags", ["check", "value", "threshold", "result", "message"], rows)


def rows_table(rows: dict) -> str:
    body = [["examples kept", _num(rows["kept"]), _num(rows["kept"] / rows["rows_done"] if rows["rows_done"] else None,
                                                       True)]]
    body += [[f"rejected: {escape(r['reason'])}", _num(r["rows"]), _num(r["share"], True)] for r in rows["rejected"]]
    body += [["<b>total</b>", f"<b>{_num(rows['total'])}</b>", ""], ["rows done", _num(rows["rows_done"]), ""],
             ["adds up", f'<td class="{"pass" if rows["adds_up"] else "fail"}">{_num(rows["adds_up"])}</td>', ""]]
    out = _table("rows", ["outcome", "rows", "share"], body)
    out += f'<p class="note">Rows from the {escape(rows["source"])}.</p>'
    if rows["mention_failures"]:
        out += "<h4>Mentions dropped</h4>" + _table(
            "mentions", ["reason", "mentions"], [[escape(m["reason"]), _num(m["count"])]
                                                 for m in rows["mention_failures"]])
        out += '<p class="note">Left out of an example without rejecting its row.</p>'
    return out


def labels_table(labels: dict) -> str:
    rows = [[escape(r["label"]), _num(r["asked"]), _num(r["kept"]), _num(r["share"], True)] for r in labels["rows"]]
    if labels["mentions"] is not None:
        header = ["label", "rows asked", "examples kept", "share", "mentions"]
        for row, entry in zip(rows, labels["rows"]):
            row.append(_num(labels["mentions"].get(entry["label"], 0)))
    else:
        header = ["label", "rows asked", "examples kept", "share"]
    return _table("labels", header, rows) + f'<p class="note">Kept counts {escape(labels["unit"])}.</p>'


def example_cards(cards: dict[str, list[dict]]) -> str:
    if not cards:
        return '<p class="note">No examples.</p>'
    out = []
    for label, examples in cards.items():
        for card in examples:
            meta = f"topic: {escape(str(card['topic']))} &middot; style: {escape(str(card['style']))}"
            if card.get("mentions"):
                meta += " &middot; mentions: " + escape(", ".join(card["mentions"]))
            out.append(f'<div class="card"><div class="label">{escape(label)}</div><div>{escape(card["text"])}'
                       f'</div><div class="meta">{meta}</div></div>')
    return f'<div class="cards">{"".join(out)}</div>'


def failure_section(reasons: list[dict]) -> str:
    if not reasons:
        return '<p class="note">No failures recorded.</p>'
    rows = [[escape(r["reason"]), escape(r["level"]), _num(r["count"]), _num(r["rows"]), _num(r["share"], True)]
            for r in reasons]
    out = _table("reasons", ["reason", "level", "failures", "rows", "share of rows"], rows)
    for reason in reasons:
        out += f'<h4>{escape(reason["reason"])}: sample replies</h4>'
        for sample in reason["samples"]:
            out += (f'<div class="sample-detail">row {_num(sample["row_id"])}: {escape(sample["detail"])}</div>'
                    f'<pre class="raw">{escape(sample["raw"])}</pre>')
    return out


def lengths_table(lengths: dict) -> str:
    sources = {"synthetic": lengths["synthetic"], **({"real": lengths["real"]} if lengths["real"] else {})}
    rows = [[key, *[_num(stats[key]) if stats else "n/a" for stats in sources.values()]]
            for key in ("texts", "mean", "median", "p10", "p90")]
    rows.append(["median ratio", _num(lengths["median_ratio"]), *[""] * (len(sources) - 1)])
    return _table("lengths", ["words", *sources], rows)


def leakage_block(leakage: dict | None) -> str:
    if leakage is None:
        return '<p class="note">No real split: leakage not checked.</p>'
    kinds = ", ".join(f"{escape(k)} {v}" for k, v in leakage["by_kind"].items()) or "none"
    out = (f'<p class="note">{leakage["count"]:,} of {leakage["checked"]:,} texts ({leakage["share"]:.1%}) copy a '
           f'real text ({kinds}; similarity &ge; {leakage["threshold"]:g}).</p>')
    if leakage["samples"]:
        out += _table("leaks", ["kind", "similarity", "synthetic text", "real text"],
                      [[escape(s["kind"]), _num(s["similarity"]), f'<td>{escape(s["synthetic"])}</td>',
                        f'<td>{escape(s["real"])}</td>'] for s in leakage["samples"]])
    return out


def set_section(name: str, checks: dict) -> str:
    failed = [f for f in checks["flags"] if not f["passed"]]
    verdict = (f'<span class="verdict pass">all {checks["checks"]} checks passed</span>' if not failed else
               f'<span class="verdict fail">{len(failed)} of {checks["checks"]} checks failed</span>')
    return (f'<section class="train"><h3>{escape(name)}{verdict}</h3>{flags_table(checks["flags"])}'
            f'<div class="train-grid"><div><h4>Rows</h4>{rows_table(checks["rows"])}</div>'
            f'<div><h4>Labels asked vs kept</h4>{labels_table(checks["labels"])}</div>'
            f'<div><h4>Lengths (words)</h4>{lengths_table(checks["lengths"])}</div></div>'
            f'<h4>Examples per label</h4>{example_cards(checks["examples_per_label"])}'
            f'<h4>Failure reasons</h4>{failure_section(checks["failure_reasons"])}'
            f'<h4>Leakage into the real split</h4>{leakage_block(checks["leakage"])}</section>')


def trainability_section(report: dict) -> str:
    """The whole section: one block per synthetic set that has trainability checks."""
    blocks = "".join(set_section(name, entry["trainability"]) for name, entry in report["sets"].items()
                     if entry.get("trainability"))
    return '<h2 id="can-i-train">Can I train on this?</h2>' + (blocks or '<p class="note">No checks.</p>')
