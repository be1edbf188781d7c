"""Training stage: turns ClinGen records into encoder inputs (token ids, label ids) and pads batches of them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from clingen._imports import require
from clingen.datasets.records import NERExample, PairExample, RECORD_TYPES, RelationExample
from clingen.errors import ConfigError, DataFormatError
from clingen.tasks.spec import TaskSpec
from clingen.training.labels import LabelSpace, encode_relation_text, label_space

IGNORE_INDEX = -100  # what torch's cross-entropy skips: special tokens and non-first sub-tokens
MODEL_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def first_subtoken_labels(word_ids: Sequence[int | None], word_labels: Sequence[int]) -> list[int]:
    """One label per sub-token: the word's label on its first sub-token, IGNORE_INDEX on the others and on
    special tokens (so a word split into five pieces still counts once in the loss)."""
    labels, previous = [], None
    for word in word_ids:
        labels.append(IGNORE_INDEX if word is None or word == previous else word_labels[word])
        previous = word
    return labels


def tokenize_truncated(tokenizer: Any, max_length: int, first: list, second: list | None = None,
                       split_into_words: bool = False, **extra: Any) -> tuple[Any, list[bool]]:
    """The tokenizer's output truncated to max_length (pairs: longest first), and which rows lost tokens.
    `extra` goes to the tokenizer (padding, return_tensors)."""
    truncation = "longest_first" if second is not None else True
    encoded = tokenizer(first, second, truncation=truncation, max_length=max_length,
                        is_split_into_words=split_into_words, **extra)
    encodings = getattr(encoded, "encodings", None)
    if encodings:  # fast tokenizers keep what truncation cut off, so no second pass is needed
        return encoded, [bool(encoding.overflowing) for encoding in encodings]
    full = tokenizer(first, second, truncation=False, is_split_into_words=split_into_words, verbose=False)
    return encoded, [len(ids) > max_length for ids in full["input_ids"]]


class Featurizer:
    """Encodes one task's records with one tokenizer; inputs are truncated to max_length but not padded
    (collate pads each batch to its own longest row)."""

    def __init__(self, spec: TaskSpec, tokenizer: Any, max_length: int):
        self.spec, self.tokenizer, self.max_length = spec, tokenizer, int(max_length)
        self.space: LabelSpace = label_space(spec)
        if self.space.kind == "token" and not getattr(tokenizer, "is_fast", False):
            # word_ids(), which aligns tags to sub-tokens, exists only on fast (Rust) tokenizers.
            raise ConfigError(f"task {spec.name} tags tokens and needs a fast tokenizer; got "
                              f"{type(tokenizer).__name__}, which is not fast")

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
            encoded, truncated = self.tokenize([encode_relation_text(r.text, r.head, r.tail, self.spec)
                                                for r in records])
        else:
            encoded, truncated = self.tokenize([r.text for r in records])
        return {**_model_inputs(encoded), "labels": labels, "truncated": truncated}

    def tokenize(self, first: list, second: list | None = None, split_into_words: bool = False,
                 **extra: Any) -> tuple[Any, list[bool]]:
        return tokenize_truncated(self.tokenizer, self.max_length, first, second, split_into_words, **extra)

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
        # Real CoNLL data keeps its own tokenisation, so the record's tokens are the words, not its text.
        tag_ids = [[self._label_id(record, tag) for tag in record.tags] for record in records]
        encoded, truncated = self.tokenize([list(record.tokens) for record in records], split_into_words=True)
        labels = [first_subtoken_labels(encoded.word_ids(index), tags) for index, tags in enumerate(tag_ids)]
        return {**_model_inputs(encoded), "labels": labels, "truncated": truncated}


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
