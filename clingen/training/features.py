"""Training stage: turns ClinGen records into encoder inputs (token ids, label ids) and pads batches of them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from clingen._imports import require
from clingen.datasets.records import NERExample, PairExample, RECORD_TYPES, RelationExample, to_iob2
from clingen.errors import ConfigError, DataFormatError
from clingen.tasks.spec import TaskSpec
from clingen.training.alignment import (IGNORE_INDEX, encode_words, record_word_offsets, require_word_alignment,
                                        tokenize_truncated)
from clingen.training.labels import LabelSpace, encode_relation_text, label_space

MODEL_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


class Featurizer:
    """Encodes one task's records with one tokenizer; inputs are truncated to max_length but not padded
    (collate pads each batch to its own longest row)."""

    def __init__(self, spec: TaskSpec, tokenizer: Any, max_length: int):
        self.spec, self.tokenizer, self.max_length = spec, tokenizer, int(max_length)
        self.space: LabelSpace = label_space(spec)
        if self.space.kind == "token":
            require_word_alignment(tokenizer, f"task {spec.name}")

    def encode(self, records: Iterable[Any]) -> dict[str, list]:
        """input_ids, attention_mask, token_type_ids (when the tokenizer makes them), labels and truncated,
        one entry per record. Records may also be row dicts (Record.to_row())."""
        records = [self._as_record(record) for record in records]
        if not records:
            return {"input_ids": [], "attention_mask": [], "labels": [], "truncated": []}
        if self.space.kind == "token":
            return self._encode_tokens(records)
        labels = [self._sequence_label(record) for record in records]  # fail on bad labels before tokenising
        if self.spec.family == "pair":
            encoded, truncated = self.tokenize([r.text_a for r in records], [r.text_b for r in records])
        elif self.spec.family == "relation":
            encoded, truncated = self.tokenize([self._relation_text(r) for r in records])
        else:
            encoded, truncated = self.tokenize([r.text for r in records])
        return {**_model_inputs(encoded), "labels": labels, "truncated": truncated}

    def tokenize(self, first: list, second: list | None = None, **extra: Any) -> tuple[Any, list[bool]]:
        return tokenize_truncated(self.tokenizer, self.max_length, first, second, **extra)

    def _relation_text(self, record: RelationExample) -> str:
        try:
            return encode_relation_text(record.text, record.head, record.tail, self.spec)
        except DataFormatError as exc:
            raise DataFormatError(f"relation example {record.id!r}: {exc}") from None

    def _as_record(self, record: Any) -> Any:
        expected = RECORD_TYPES[self.spec.family]
        if isinstance(record, Mapping):
            record = expected.from_row(record)
        if not isinstance(record, expected):
            raise DataFormatError(f"task {self.spec.name} ({self.spec.family}) encodes {expected.__name__} "
                                  f"records; got {type(record).__name__} {getattr(record, 'id', record)!r}")
        return record

    def _label_id(self, record: Any, name: str) -> int:
        if name not in self.space.names:
            raise DataFormatError(f"record {record.id!r} has label {name!r}, which task {self.spec.name} does "
                                  f"not know; known labels: {list(self.space.names)}")
        return self.space.names.index(name)

    def _sequence_label(self, record: Any) -> int | list[float]:
        if isinstance(record, (RelationExample, PairExample)):
            return self._label_id(record, record.label)
        if self.space.multi_label:
            hot = [0.0] * self.space.num_labels
            for name in record.labels:
                hot[self._label_id(record, name)] = 1.0
            return hot
        if len(record.labels) != 1:
            raise DataFormatError(f"record {record.id!r} has {len(record.labels)} labels {record.labels}; "
                                  f"single-label task {self.spec.name} expects exactly one")
        return self._label_id(record, record.labels[0])

    def _encode_tokens(self, records: list[NERExample]) -> dict[str, list]:
        # The encoder reads the record's text as its own tokenizer splits it; the labels of the record's
        # words (CoNLL keeps its own tokenisation) go on each word's first piece (alignment.encode_words).
        tag_ids = [self._tag_ids(record) for record in records]
        encoded, alignments = encode_words(self.tokenizer, self.max_length, [record.text for record in records],
                                           [record_word_offsets(record) for record in records])
        labels = [alignment.piece_labels(tags) for alignment, tags in zip(alignments, tag_ids)]
        return {**_model_inputs(encoded), "labels": labels, "truncated": [a.truncated for a in alignments]}

    def _tag_ids(self, record: NERExample) -> list[int]:
        """Label ids of the record's tags read the way evaluation and serving read them (to_iob2: an IOB1 I-
        that opens an entity is its B-); unknown tags are named as the record spells them."""
        for tag in record.tags:
            self._label_id(record, tag)
        return [self.space.names.index(tag) for tag in to_iob2(record.tags)]


def _model_inputs(encoded: Mapping[str, Any]) -> dict[str, list]:
    return {key: list(encoded[key]) for key in MODEL_INPUTS if key in encoded}


def _plain(value: Any) -> Any:
    """A Python int/float or list of them, from lists, numpy arrays (Ray batches) or numpy scalars."""
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, (list, tuple)):
        return [item.item() if hasattr(item, "item") else item for item in value]
    return value


def _columns(features: Mapping[str, Sequence] | Sequence[Mapping[str, Any]]) -> dict[str, list]:
    if isinstance(features, Mapping):
        return {key: list(values) for key, values in features.items()}
    if not features:
        raise DataFormatError("collate got an empty batch; expected at least one feature row")
    return {key: [row[key] for row in features] for key in features[0]}


def _pad(rows: list[list], value: int | float) -> list[list]:
    width = max(len(row) for row in rows)
    return [row + [value] * (width - len(row)) for row in rows]


def _label_tensor(torch: Any, rows: list) -> Any:
    if not isinstance(rows[0], list):
        return torch.tensor(rows, dtype=torch.long)
    if any(isinstance(item, float) for row in rows for item in row):  # multi-hot rows all have one width
        return torch.tensor(rows, dtype=torch.float32)
    return torch.tensor(_pad(rows, IGNORE_INDEX), dtype=torch.long)


def collate(features: Mapping[str, Sequence] | Sequence[Mapping[str, Any]], pad_token_id: int) -> dict[str, Any]:
    """A batch of encoded rows (a list of row dicts, or a dict of columns as Ray Data gives) as tensors,
    right-padded: input_ids with pad_token_id, attention_mask/token_type_ids with 0, token labels with -100.
    Columns the model does not take (truncated, ids) are dropped."""
    torch = require("torch")
    if pad_token_id is None:
        raise ConfigError("the tokenizer has no pad token id; expected one to pad batches with")
    columns = _columns(features)
    batch = {}
    for key in MODEL_INPUTS:
        if key in columns:
            pad = pad_token_id if key == "input_ids" else 0
            batch[key] = torch.tensor(_pad([_plain(row) for row in columns[key]], pad), dtype=torch.long)
    if "labels" in columns:
        batch["labels"] = _label_tensor(torch, [_plain(row) for row in columns["labels"]])
    return batch
