"""Model card (training -> evaluation/serving): model_card.json, what prediction reads and how the model was trained."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from clingen.errors import ConfigError
from clingen.training.labels import label_space

CARD_FILE = "model_card.json"
TOKEN_FAMILIES = ("ner", "attribute")
FAMILIES = ("classification", "relation", "pair", *TOKEN_FAMILIES)
DEFAULT_THRESHOLD = 0.5


class ModelCard(BaseModel):
    """model_card.json: the prediction keys (required, except thresholds and masks, which older cards may omit
    and None means "not used") and the provenance training adds (all optional: a card saved outside `clingen train`
    has none, and a card of an older ClinGen may lack some).

    Unknown keys are refused (extra="forbid"): every ClinGen version so far wrote a subset of these fields, so an
    unknown key is a hand edit, a typo or a card of a newer ClinGen, and reading it silently would drop what it
    says. `ModelCard.parse` and `ModelCard.read` raise ConfigError naming the file, the key or bad value and what
    was expected; constructing the model directly raises pydantic's ValidationError instead.

    `write` keeps the bytes of the untyped card it replaces (indent 2, sorted keys, trailing newline) and writes
    only the fields that were given, so a card read from an old folder is written back unchanged. Frozen: the card
    stays what was read or trained (a Predictor keeps its own copy of the thresholds it may retune); a variant is
    `card.model_copy(update={...})`, which pydantic does not validate."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    task: str = Field(strict=True, description="Name of the task the model was trained for (a TaskSpec name).")
    family: str = Field(description=f"Task family, one of {list(FAMILIES)}: which head and predict method apply.")
    multi_label: bool = Field(strict=True, description="Whether each input may get several labels (sigmoid "
                              "scores cut by `thresholds`) instead of one (softmax, the best label).")
    labels: list[str] = Field(description="The model's output classes in id order: label names for sequence "
                              "tasks, BIO tags for token tasks.")
    max_length: int = Field(description="Most tokens per input, as in training; longer inputs are truncated.")
    thresholds: dict[str, float] | None = Field(None, description="Multi-label only: label -> score cut (labels "
                                                "not named use 0.5); None for single-label models.")
    head_mask: str | None = Field(None, description="Relation tasks: the token replacing the head entity "
                                  "(e.g. @GENE$); None otherwise.")
    tail_mask: str | None = Field(None, description="Relation tasks: the token replacing the tail entity; "
                                  "None otherwise.")
    encoder: str | None = Field(None, description="training.encoder as configured: a hub id, a local folder or "
                                "the embedded offline encoder.")
    training_data: dict[str, dict[str, Any]] | None = Field(
        None, description="Per stage dataset (fewshot, synthetic): {path, examples} and, for a synthetic run, "
        "its fingerprint.")
    plan: list[dict[str, Any]] | None = Field(None, description="The training stages in order: {dataset, epochs} "
                                              "and, with a step budget, total_steps, repeats, steps_per_pass.")
    run_name: str | None = Field(None, description="Ray Train run name (the checkpoint folder under "
                                 "training.storage_path).")
    final_metrics: dict[str, Any] | None = Field(None, description="Rank 0's last reported metrics (stage, "
                                                 "epoch, stage_steps, loss, samples_per_s, ...).")
    train_wall_s: float | None = Field(None, description="Seconds from the start of fit() to its end.")
    config: dict[str, Any] | None = Field(None, description="The full ClinGen config of the run, as JSON.")
    clingen_version: str | None = Field(None, description="The ClinGen version that trained the model.")

    @field_validator("family")
    @classmethod
    def _known_family(cls, family: str) -> str:
        if family not in FAMILIES:
            raise ValueError(f"expected one of {list(FAMILIES)}")
        return family

    @field_validator("labels", mode="before")
    @classmethod
    def _label_names(cls, labels: Any) -> Any:
        if not isinstance(labels, list | tuple) or not labels or not all(isinstance(name, str) for name in labels):
            raise ValueError("expected a non-empty list of label names")
        return list(labels)

    @field_validator("max_length", mode="before")
    @classmethod
    def _usable_length(cls, max_length: Any) -> Any:
        # Before pydantic's coercion, which would take "16" or 16.0: the writer only ever writes an integer.
        if isinstance(max_length, bool) or not isinstance(max_length, int) or max_length < 2:
            raise ValueError("expected an integer >= 2")
        return max_length

    @field_validator("thresholds")
    @classmethod
    def _thresholds_name_labels(cls, thresholds: dict[str, float] | None,
                                info: ValidationInfo) -> dict[str, float] | None:
        labels = info.data.get("labels")  # absent when the labels were invalid: that error is reported instead
        unknown = sorted(set(thresholds or {}) - set(labels or ()))
        if labels is not None and unknown:
            raise ValueError(f"expected thresholds of known labels only; unknown {unknown}, known: {labels}")
        return thresholds

    @classmethod
    def from_spec(cls, spec: Any, max_length: int, thresholds: Mapping[str, float] | None = None,
                  **provenance: Any) -> ModelCard:
        """The card of a model of `spec` (a TaskSpec): its label space, masks and `max_length`; a multi-label
        model gets a threshold per label (`thresholds`, else 0.5). `provenance`: the optional fields (encoder,
        plan, training_data, final_metrics, ...). Raises ConfigError for a value the card refuses, or an unknown
        provenance key."""
        space = label_space(spec)
        cuts = None
        if space.multi_label:
            cuts = {name: float((thresholds or {}).get(name, DEFAULT_THRESHOLD)) for name in space.names}
        return cls.parse({"task": spec.name, "family": spec.family, "multi_label": space.multi_label,
                          "labels": list(space.names), "thresholds": cuts, "max_length": max_length,
                          "head_mask": spec.head_mask, "tail_mask": spec.tail_mask, **provenance},
                         f"the model card of task {spec.name}")

    @classmethod
    def parse(cls, data: Any, where: str) -> ModelCard:
        """The card from a mapping (a parsed model_card.json); ConfigError, prefixed with `where` (a path or a
        description), names every missing or unknown key and every bad value with what was expected."""
        if not isinstance(data, Mapping):
            raise ConfigError(f"{where}: the model card is a {type(data).__name__}; expected a JSON object")
        try:
            return cls.model_validate(dict(data))
        except ValidationError as exc:
            raise ConfigError(_describe(exc, where)) from None

    @classmethod
    def read(cls, model_dir: str | Path) -> ModelCard:
        """The card in `model_dir`/model_card.json. Raises ConfigError when the file is absent, not readable
        JSON, or not a valid card (naming the file)."""
        path = Path(model_dir) / CARD_FILE
        if not path.is_file():
            raise ConfigError(f"model folder {model_dir} has no {CARD_FILE}; expected the output of `clingen train` "
                              f"(HF model + tokenizer + {CARD_FILE})")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ConfigError(f"{path} is not readable JSON ({exc}); expected the model card written by training") \
                from None
        return cls.parse(data, str(path))

    def to_json(self) -> str:
        """The file's text: the fields that were given (unset provenance stays absent, as in older cards),
        indent 2, sorted keys, a trailing newline; a value JSON cannot hold (a metric Ray reported as some other
        type) is written as its str()."""
        return json.dumps(self.model_dump(exclude_unset=True), indent=2, sort_keys=True, default=str) + "\n"

    def write(self, model_dir: str | Path) -> Path:
        """Write `model_dir`/model_card.json (the folder must exist); returns the file's path."""
        path = Path(model_dir) / CARD_FILE
        path.write_text(self.to_json(), encoding="utf-8")
        return path


def _describe(exc: ValidationError, where: str) -> str:
    """One line per problem: the missing keys together, the unknown keys together, then each bad value."""
    errors = exc.errors()
    missing = [str(error["loc"][0]) for error in errors if error["type"] == "missing"]
    unknown = sorted(str(error["loc"][0]) for error in errors if error["type"] == "extra_forbidden")
    lines = []
    if missing:
        required = [name for name, field in ModelCard.model_fields.items() if field.is_required()]
        lines.append(f"{where}: the model card lacks {missing}; expected keys {required}")
    if unknown:
        lines.append(f"{where}: the model card has unknown key(s) {unknown}; expected only the keys "
                     f"{list(ModelCard.model_fields)} (a card of a newer ClinGen, or a hand edit: remove the key or "
                     f"upgrade ClinGen)")
    for error in errors:
        if error["type"] in ("missing", "extra_forbidden"):
            continue
        name = ".".join(str(part) for part in error["loc"])
        if error["type"] == "value_error":
            expected = str(error["ctx"]["error"])
        else:  # pydantic's own type errors: "Input should be a valid boolean" -> "expected a valid boolean"
            expected = error["msg"].replace("Input should be", "expected", 1)
        lines.append(f"{where}: model card {name} {error['input']!r}; {expected}")
    return "\n".join(lines)
