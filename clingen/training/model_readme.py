"""Training stage output (training -> serving): the README.md model card of a trained model folder, for people and
the Hugging Face Hub, written from model_card.json (which prediction reads)."""

from __future__ import annotations

import yaml

from clingen.training.card import TOKEN_FAMILIES, ModelCard

_PIPELINE_TAGS = {"ner": "token-classification", "attribute": "token-classification"}


def model_readme(card: ModelCard) -> str:
    """The README.md text: YAML front matter (library_name, pipeline_tag, base_model when the encoder is a hub id,
    tags), then the task and labels, the training data and plan, the final metrics, how to use the folder, and
    its limits. `card`: the card written to model_card.json (missing provenance shows as '?')."""
    encoder = card.encoder or ""
    front = {"library_name": "transformers", "pipeline_tag": _PIPELINE_TAGS.get(card.family, "text-classification"),
             "tags": ["clingen", "synthetic-data", "biomedical", card.task]}
    if encoder.count("/") == 1 and not encoder.startswith((".", "/", "embedded:")):  # a hub id, not a path
        front["base_model"] = encoder
    lines = ["---", yaml.safe_dump(front, sort_keys=False).strip(), "---", "",
             f"# {card.task}: a {card.family} model trained by ClinGen", "",
             f"Fine-tuned from `{encoder}` with Ray Train (ClinGen {_known(card.clingen_version)}, run "
             f"`{_known(card.run_name)}`, {_known(card.train_wall_s)} s).", "",
             "## Labels", "", _labels_line(card), "", *_training_table(card), "", *_metrics_lines(card), "",
             "## Use", "", "```bash",
             "clingen evaluate --model <this folder> --test <a real test split>",
             "clingen serve --model <this folder>          # HTTP on 127.0.0.1", "```", "",
             "`model_card.json` beside this file holds what prediction reads (labels, thresholds, max_length, masks) "
             "and the full training config.", "", "## Limitations", "",
             "Trained wholly or partly on LLM-written synthetic text (ClinGen's knowledge-infused prompting); its "
             "scores on real text are only those an evaluation reports. Not for clinical decisions."]
    return "\n".join(lines) + "\n"


def _known(value: object) -> object:
    return "?" if value is None else value


def _labels_line(card: ModelCard) -> str:
    kind = "multi-label, per-label thresholds in model_card.json" if card.multi_label else "one label per input"
    if card.family in TOKEN_FAMILIES:
        kind = "BIO tags over words"
    return f"{', '.join(f'`{name}`' for name in card.labels)} ({kind})."


def _training_table(card: ModelCard) -> list[str]:
    data = card.training_data or {}
    rows = ["## Training data", "", "| stage | source | examples | plan |", "|---|---|---|---|"]
    for stage in card.plan or []:
        source = data.get(stage["dataset"], {})
        plan = (f"{stage['total_steps']} steps" if stage.get("total_steps") is not None
                else f"{stage['epochs']} epoch(s)")
        if stage.get("repeats", 1) > 1:
            plan += f", set repeated {stage['repeats']}x per pass"
        rows.append(f"| {stage['dataset']} | `{source.get('path', '?')}` | {source.get('examples', '?')} | {plan} |")
    return rows


def _metrics_lines(card: ModelCard) -> list[str]:
    metrics = card.final_metrics or {}
    shown = {key: metrics[key] for key in ("stage", "epoch", "stage_steps", "loss", "samples_per_s") if key in metrics}
    if not shown:
        return ["## Final training metrics", "", "none reported"]
    return ["## Final training metrics", "", "| " + " | ".join(shown) + " |", "|" + "---|" * len(shown),
            "| " + " | ".join(f"{v:.4g}" if isinstance(v, float) else str(v) for v in shown.values()) + " |"]
