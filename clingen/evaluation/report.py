"""Evaluation stage: renders a metrics result as a plain-text table and writes evaluation.json/.txt."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

# Top-level keys printed elsewhere in the report (header, primary line) or not scalar metrics.
_NOT_AGGREGATE = {"primary", "n", "family", "per_label", "confusion_matrix", "baseline"}
_PER_LABEL_COLUMNS = ("precision", "recall", "f1", "support")


def _number(value: Any) -> str:
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else f"{value:.4f}"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    """Columns left-aligned for the first (names) column and right-aligned for numbers."""
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = []
    for row in [header, *rows]:
        cells = [row[0].ljust(widths[0])] + [cell.rjust(width) for cell, width in zip(row[1:], widths[1:])]
        lines.append("  ".join(cells).rstrip())
    return lines


def _aggregate_lines(result: dict[str, Any]) -> list[str]:
    """The primary metric first, then every other scalar metric, in name order."""
    rows = []
    primary = result.get("primary")
    if primary:
        rows.append([f"{primary['name']} (primary)", _number(primary["value"])])
    for name in sorted(result):
        value = result[name]
        is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
        if name in _NOT_AGGREGATE or not is_number or (primary and name == primary["name"]):
            continue
        rows.append([name, _number(value)])
    return _table(["metric", "value"], rows) if rows else []


def _per_label_lines(per_label: dict[str, dict[str, Any]]) -> list[str]:
    rows = [[label] + [_number(figures[column]) for column in _PER_LABEL_COLUMNS]
            for label, figures in per_label.items()]
    return _table(["label", *_PER_LABEL_COLUMNS], rows)


def _confusion_lines(confusion: dict[str, Any]) -> list[str]:
    labels = confusion["labels"]
    rows = [[label] + [str(count) for count in counts] for label, counts in zip(labels, confusion["matrix"])]
    return ["rows: gold, columns: predicted", *_table(["gold \\ predicted", *labels], rows)]


def format_report(result: dict[str, Any], task: str, model: str) -> str:
    """A readable plain-text report: header, aggregate metrics (primary first), per-label table and, when the
    result has one, the confusion matrix with gold rows and predicted columns."""
    header = f"Evaluation of model {model} on task {task}"
    details = [f"{key}: {result[key]}" for key in ("family", "n") if key in result]
    sections = [[header, "=" * len(header), *details]]
    if "baseline" in result:
        baseline = result["baseline"]
        sections[0].append(f"baseline: {baseline.get('strategy')} (always predicts {baseline.get('label')!r})")
    if "thresholds" in result:
        tuned = result["thresholds"]
        cuts = ", ".join(f"{label} {value:.3f}" for label, value in tuned["values"].items())
        sections[0].append(f"thresholds (tuned on {tuned['tuned_on_examples']} real training examples): {cuts}")
    aggregate = _aggregate_lines(result)
    if aggregate:
        sections.append(aggregate)
    if result.get("per_label"):
        sections.append(["Per label", *_per_label_lines(result["per_label"])])
    if result.get("confusion_matrix"):
        sections.append(["Confusion matrix", *_confusion_lines(result["confusion_matrix"])])
    return "\n\n".join("\n".join(lines) for lines in sections) + "\n"


def write_report(result: dict[str, Any], out_dir: Path, task: str, model: str) -> tuple[Path, Path]:
    """Write `evaluation.json` (the result, indent 2, sorted keys) and `evaluation.txt` (format_report) into
    `out_dir`; returns both paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path, text_path = out_dir / "evaluation.json", out_dir / "evaluation.txt"
    json_path.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    text_path.write_text(format_report(result, task, model), encoding="utf-8")
    return json_path, text_path
