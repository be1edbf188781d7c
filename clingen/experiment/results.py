"""Experiment results (orchestration output): per-cell scores -> the mean and spread per method and dataset,
as JSON, a Markdown table and a bar chart of the primary metric."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

from clingen.experiment.grid import SYNTHETIC_METHODS


BASELINE_ROW = "majority baseline"


def summarise(cells: list[dict], methods: list[str], datasets: list[str]) -> dict:
    """cells: {dataset, method, seed, status, primary?, examples?, baseline?} -> per (method, dataset) mean, std,
    n scored and n expected (the cells run for it), plus a majority-baseline row where the metric has one."""
    table: dict[str, dict[str, dict]] = {m: {} for m in methods}
    for method in methods:
        for dataset in datasets:
            mine = [c for c in cells if c["method"] == method and c["dataset"] == dataset]
            table[method][dataset] = _entry(mine)
        table[method]["average"] = _average([table[method][d] for d in datasets])
    baselines = {d: next((c["baseline"] for c in cells if c["dataset"] == d and c.get("baseline")), None)
                 for d in datasets}
    if any(baselines.values()):
        # A classifier that always answers the most frequent label: the floor any method must clear.
        row = {d: _baseline_entry(b) for d, b in baselines.items()}
        table[BASELINE_ROW] = {**row, "average": _average(list(row.values()))}
    return table


def _baseline_entry(baseline: dict | None) -> dict:
    if baseline is None:
        return {"missing": "no majority baseline for this metric"}
    return {"mean": baseline["value"], "std": 0.0, "n": 1, "expected": 1, "values": [baseline["value"]],
            "metric": baseline["name"], "examples": None}


def _entry(mine: list[dict]) -> dict:
    values = [c["primary"]["value"] for c in mine if c.get("primary")]
    expected = sum(1 for c in mine if c.get("status") != "not applicable")
    entry: dict = {"n": len(values), "expected": expected, "values": values,
                   "examples": next((c["examples"] for c in mine if c.get("examples") is not None), None)}
    if values:
        entry["mean"] = statistics.fmean(values)
        entry["std"] = statistics.stdev(values) if len(values) > 1 else 0.0
        entry["metric"] = next(c["primary"]["name"] for c in mine if c.get("primary"))
    else:
        entry["missing"] = next((c.get("reason") for c in mine if c.get("reason")), "not run")
    return entry


def _average(entries: list[dict]) -> dict:
    scored = [e["mean"] for e in entries if "mean" in e]
    if len(scored) < len(entries):
        return {"missing": "some datasets have no score"}
    return {"mean": statistics.fmean(scored), "n": len(scored)}


REFERENCE = "few-shot-only"


def gains(cells: list[dict], methods: list[str], datasets: list[str], reference: str = REFERENCE) -> dict:
    """Per (method, dataset): the primary metric minus the reference method's (few-shot-only: the same few real
    examples without synthetic data) on the same training seed, as mean and std over the seeds both finished,
    and how many of those seeds went up and down. Empty when the reference was not run."""
    score = {(c["method"], c["dataset"], c["seed"]): c["primary"]["value"] for c in cells if c.get("primary")}
    out: dict[str, dict[str, dict]] = {}
    for method in methods:
        if method == reference:
            continue
        for dataset in datasets:
            seeds = sorted(s for m, d, s in score if m == method and d == dataset and (reference, d, s) in score)
            diffs = [score[(method, dataset, s)] - score[(reference, dataset, s)] for s in seeds]
            if diffs:
                out.setdefault(method, {})[dataset] = {
                    "mean": statistics.fmean(diffs), "std": statistics.stdev(diffs) if len(diffs) > 1 else 0.0,
                    "n": len(diffs), "up": sum(d > 0 for d in diffs), "down": sum(d < 0 for d in diffs)}
    return out


KNOWLEDGE = "clingen-kg"
# The prompting baselines the knowledge effect is measured against (the paper's Table 2 comparison).
PROMPTING_BASELINES = ("zero-shot", "few-shot")


def knowledge_gains(cells: list[dict], datasets: list[str]) -> dict:
    """ClinGen-KG minus each prompting baseline (zero-shot, few-shot prompting), per training seed, as `gains`
    computes it: {"over <baseline>": {dataset: {mean, std, n, up, down}}}. Empty without both methods' cells."""
    out = {}
    for baseline in PROMPTING_BASELINES:
        row = gains(cells, [KNOWLEDGE], datasets, reference=baseline).get(KNOWLEDGE)
        if row:
            out[f"over {baseline}"] = row
    return out


def gains_table(gain: dict, datasets: list[str], reference: str = REFERENCE, title: str | None = None) -> str:
    """Markdown: each row's gain (a method's over the reference, or as `title` says), in points, with its spread
    and the seeds' direction."""
    title = title or f"gain over {reference} (points)"
    lines = [f"| {title} | " + " | ".join(datasets) + " |", "|" + "---|" * (len(datasets) + 1)]
    for method, row in gain.items():
        cells = []
        for dataset in datasets:
            entry = row.get(dataset)
            if entry is None:
                cells.append("n/a")
                continue
            # "beyond the seed spread": every seed moved the same way and the mean exceeds the spread.
            clear = entry["n"] > 1 and abs(entry["mean"]) > entry["std"] and (entry["up"] == entry["n"]
                                                                            or entry["down"] == entry["n"])
            cells.append(f"{100 * entry['mean']:+.1f} ± {100 * entry['std']:.1f} ({entry['up']}/{entry['n']} up)"
                         + (" *" if clear else ""))
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def markdown_table(table: dict, datasets: list[str]) -> str:
    # A dataset no cell has finished yet has no measured metric name: its column shows the name alone.
    metrics = {d: next((table[m][d]["metric"] for m in table if "metric" in table[m][d]), None) for d in datasets}
    header = "| method | " + " | ".join(f"{d} ({metrics[d]})" if metrics[d] else d for d in datasets) + " | average |"
    lines = [header, "|" + "---|" * (len(datasets) + 2)]
    for method, row in table.items():
        cells = []
        for dataset in datasets:
            entry = row[dataset]
            if "mean" not in entry:
                # Failures carry "step: error"; the table names the step, results.json has the whole error.
                cells.append(f"n/a ({entry['missing'].split(':')[0]})")
                continue
            shows_examples = method in SYNTHETIC_METHODS and entry["examples"] is not None
            examples = f" [{entry['examples']} ex]" if shows_examples else ""
            # A cell some seeds did not finish is not comparable with the others: say so in the cell.
            partial = f" ({entry['n']} of {entry['expected']} seeds)" if entry["n"] < entry["expected"] else ""
            spread = "" if method == BASELINE_ROW else f" ± {100 * entry['std']:.1f}"
            cells.append(f"{100 * entry['mean']:.1f}{spread}{examples}{partial}")
        average = f"{100 * row['average']['mean']:.1f}" if "mean" in row["average"] else "n/a"
        lines.append(f"| {method} | " + " | ".join(cells) + f" | {average} |")
    return "\n".join(lines)


def bar_chart(table: dict, datasets: list[str], path: Path, title: str) -> None:
    import matplotlib
    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt
    methods = [m for m in table if m != BASELINE_ROW]
    width = 0.8 / len(methods)
    fig, ax = plt.subplots(figsize=(max(6, 1.8 * len(datasets)), 4))
    for i, method in enumerate(methods):
        means = [100 * table[method][d].get("mean", 0.0) for d in datasets]
        stds = [100 * table[method][d].get("std", 0.0) for d in datasets]
        ax.bar([x + i * width for x in range(len(datasets))], means, width, yerr=stds, capsize=2, label=method)
    baselines = [(x, table[BASELINE_ROW][d]["mean"]) for x, d in enumerate(datasets)
                 if "mean" in table.get(BASELINE_ROW, {}).get(d, {})]
    for i, (x, value) in enumerate(baselines):  # a dashed line across the dataset's bars, labelled once
        ax.hlines(100 * value, x - width / 2, x + 0.8 - width / 2, colors="black", linestyles="dashed",
                  label=BASELINE_ROW if i == 0 else None)
    ax.set_xticks([x + width * (len(methods) - 1) / 2 for x in range(len(datasets))], datasets)
    ax.set_ylabel("primary metric x 100 (mean ± std over seeds)")
    ax.set_title(title)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_results(out: Path, cells: list[dict], methods: list[str], datasets: list[str], extra: dict) -> dict:
    """results.json, results.md and results.png in `out`: the table, the gains over few-shot-only and the
    knowledge effect (knowledge_gains) of the finished `cells`."""
    table = summarise(cells, methods, datasets)
    gain, knowledge = gains(cells, methods, datasets), knowledge_gains(cells, datasets)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps({"table": table, "gains": gain, "knowledge_gains": knowledge,
                                                  "cells": cells, **extra}, indent=2, default=str))
    markdown = markdown_table(table, datasets)
    legend = ("Scores are the test split's primary metric x 100, mean ± std over training seeds; [n ex] = "
              "synthetic examples trained on (after filtering, for a filtered method); (k of n seeds) = a cell not "
              f"every seed finished; {BASELINE_ROW} = always the most frequent label of the test split.")
    gain_legend = (f"Gains are per-seed differences from {REFERENCE} (the same few real examples, no synthetic "
                   "data), mean ± std over the seeds both finished; (k/n up) = seeds that gained; * = beyond the "
                   "seed spread (every seed moved the same way and |mean| > std).")
    gain_md = f"\n\n{gains_table(gain, datasets)}\n\n{gain_legend}" if gain else ""
    if knowledge:
        gain_md += (f"\n\n{gains_table(knowledge, datasets, title=f'{KNOWLEDGE} gain (points)')}\n\n"
                    f"The knowledge effect: {KNOWLEDGE} minus each prompting baseline on the same training seed, "
                    "read as above.")
    (out / "results.md").write_text(f"# {out.name}\n\n{markdown}\n\n{legend}{gain_md}\n")
    bar_chart(table, datasets, out / "results.png", out.name)
    return {"table": table, "gains": gain, "markdown": markdown, "cells": cells}
