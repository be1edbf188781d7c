"""Training stage output (training -> evaluation, serving): runs a fine-tuned encoder on new inputs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from clingen._imports import require
from clingen.datasets.records import (ClassificationExample, NERExample, PairExample, RelationExample, to_iob2,
                                      tokenize)
from clingen.errors import ConfigError
from clingen.training.alignment import (WordOffsets, encode_words, record_word_offsets, require_word_alignment,
                                        tokenize_truncated)
from clingen.training.card import DEFAULT_THRESHOLD, TOKEN_FAMILIES, ModelCard
from clingen.training.features import MODEL_INPUTS
from clingen.training.labels import encode_relation_text
from clingen.training.model_io import check_local_model_dir


def save_model(model: Any, tokenizer: Any, card: ModelCard, out_dir: str | Path) -> Path:
    """Write a model folder Predictor.load reads: safetensors weights, tokenizer files and the card."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    card.write(out)
    return out


def decode_entities(words: Sequence[tuple[str, int, int]], tags: Sequence[str], text: str) -> list[dict]:
    """Entities from one BIO tag per (word, start, end), read as the readers and evaluation read them
    (records.to_iob2: an I- tag that does not continue an entity of its type starts one, so these are the
    entities of records.bio_to_spans and of seqeval's strict IOB2 scoring). Offsets index into `text`.
    Raises DataFormatError on a tag that is not O, B-<type> or I-<type>."""
    entities: list[dict[str, Any]] = []
    for (_, start, end), tag in zip(words, to_iob2(tags)):
        if tag.startswith("B-"):
            entities.append({"start": start, "end": end, "type": tag[2:]})
        elif tag.startswith("I-"):
            entities[-1]["end"] = end
    return [{**entity, "text": text[entity["start"]:entity["end"]]} for entity in entities]


class Predictor:
    """A fine-tuned encoder with its model card; every method batches, runs in eval mode without
    gradients, and gives the same results in memory and after a save/load round trip."""

    def __init__(self, model: Any, tokenizer: Any, card: ModelCard, device: str = "cpu", batch_size: int = 32):
        torch = require("torch")
        self.card = card
        self.family: str = card.family
        self.labels: list[str] = list(card.labels)
        self.multi_label = card.multi_label
        self.max_length: int = card.max_length
        # A copy the evaluation may retune; the card keeps what training chose.
        self.thresholds = {name: float((card.thresholds or {}).get(name, DEFAULT_THRESHOLD)) for name in self.labels}
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        self.tokenizer, self.batch_size = tokenizer, int(batch_size)
        outputs = getattr(model.config, "num_labels", len(self.labels))
        if outputs != len(self.labels):
            raise ConfigError(f"the model has {outputs} outputs but its card lists {len(self.labels)} labels "
                              f"{self.labels}; expected one label per output")
        if self.family in TOKEN_FAMILIES:
            require_word_alignment(tokenizer, f"the model of task {self.card.task}")

    @classmethod
    def load(cls, model_dir: str | Path, device: str = "cpu", batch_size: int = 32,
             trust_remote_code: bool = False) -> Predictor:
        """A Predictor from a folder written by training; a missing folder, card or weights fail here,
        with the path, so that a server fails at start rather than on its first request."""
        folder = Path(model_dir).expanduser()
        if not folder.is_dir():
            raise ConfigError(f"model folder {folder} does not exist or is not a folder; expected the output "
                              f"of `clingen train`")
        card = ModelCard.read(folder)
        check_local_model_dir(folder)
        transformers = require("transformers")
        head = transformers.AutoModelForTokenClassification if card.family in TOKEN_FAMILIES else \
            transformers.AutoModelForSequenceClassification
        try:
            model = head.from_pretrained(folder, use_safetensors=True, trust_remote_code=trust_remote_code)
            tokenizer = transformers.AutoTokenizer.from_pretrained(folder, trust_remote_code=trust_remote_code)
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot load the model in {folder}: {exc}") from None
        return cls(model, tokenizer, card, device, batch_size)

    def predict_texts(self, texts: list[str]) -> list[dict]:
        """Classification, or relation on text whose entities are already masked."""
        self._require_family("predict_texts", ("classification", "relation"))
        return self._classify(list(texts))

    def predict_pairs(self, pairs: list[tuple[str, str]]) -> list[dict]:
        self._require_family("predict_pairs", ("pair",))
        return self._classify([a for a, _ in pairs], [b for _, b in pairs])

    def predict_relations(self, items: list[tuple[str, str | None, str | None]]) -> list[dict]:
        """(text, head, tail) triples; head/tail None means the text already carries the masks."""
        self._require_family("predict_relations", ("relation",))
        return self._classify([encode_relation_text(text, head, tail, self.card) for text, head, tail in items])

    def predict_entities(self, texts: list[str]) -> list[dict]:
        """{"entities": [{"start", "end", "type", "text"}], "truncated"} per text, offsets into the text."""
        self._require_family("predict_entities", TOKEN_FAMILIES)
        words = [tokenize(text) for text in texts]
        tags, truncated = self.tag_words(texts, [[(start, end) for _, start, end in row] for row in words])
        return [{"entities": decode_entities(row, row_tags, text), "truncated": cut}
                for row, row_tags, text, cut in zip(words, tags, texts, truncated)]

    def predict_records(self, records: Sequence[Any]) -> list:
        """Predictions in the shape evaluation compares with gold: BIO tags per record token (NER), a
        label list (multi-label) or a label."""
        records = list(records)
        if self.family in TOKEN_FAMILIES:
            self._require_types(records, NERExample)
            return self.tag_words([record.text for record in records],
                                  [record_word_offsets(record) for record in records])[0]
        results = self.classify_records(records)
        return [result["labels"] if self.multi_label else result["label"] for result in results]

    def classify_records(self, records: Sequence[Any]) -> list[dict]:
        """Label(s) and per-label scores of classification, pair and relation records."""
        records = list(records)
        if self.family == "pair":
            self._require_types(records, PairExample)
            return self.predict_pairs([(record.text_a, record.text_b) for record in records])
        if self.family == "relation":
            self._require_types(records, RelationExample)
            return self.predict_relations([(record.text, record.head, record.tail) for record in records])
        self._require_types(records, ClassificationExample)
        return self.predict_texts([record.text for record in records])

    def tag_words(self, texts: Sequence[str],
                  word_offsets: Sequence[WordOffsets]) -> tuple[list[list[str]], list[bool]]:
        """One BIO tag per word of each text, and whether truncation cut the text. The encoder reads each whole
        text as its tokenizer splits it, the same view as training (alignment.encode_words); a word takes the
        tag of its first piece, a word inside an earlier word's piece continues that word's entity, and a word
        truncation cut off is "O". `word_offsets`: per text, the (start, end) character offsets of its words."""
        texts, word_offsets = list(texts), list(word_offsets)
        tags: list[list[str]] = []
        truncated: list[bool] = []
        for start in range(0, len(texts), self.batch_size):
            end = start + self.batch_size
            encoded, alignments = encode_words(self.tokenizer, self.max_length, texts[start:end],
                                               word_offsets[start:end], padding=True, return_tensors="pt")
            predicted = self._logits(encoded).argmax(dim=-1).tolist()
            for row, alignment in zip(predicted, alignments):
                tags.append(alignment.word_tags([self.labels[index] for index in row]))
                truncated.append(alignment.truncated)
        return tags, truncated

    def _classify(self, first: list[str], second: list[str] | None = None) -> list[dict]:
        results: list[dict] = []
        for start in range(0, len(first), self.batch_size):
            end = start + self.batch_size
            encoded, cut = tokenize_truncated(self.tokenizer, self.max_length, first[start:end],
                                              None if second is None else second[start:end],
                                              padding=True, return_tensors="pt")
            logits = self._logits(encoded)
            results.extend(self._sequence_result(row, flag) for row, flag in zip(logits, cut))
        return results

    def _sequence_result(self, logits: Any, truncated: bool) -> dict:
        if self.multi_label:
            probs = logits.sigmoid().tolist()
            scores = dict(zip(self.labels, probs))
            chosen = [name for name in self.labels if scores[name] >= self.thresholds[name]]
            return {"labels": chosen, "scores": scores, "truncated": truncated}
        probs = logits.softmax(dim=-1).tolist()
        best = max(range(len(probs)), key=probs.__getitem__)  # first of equal scores, deterministically
        return {"label": self.labels[best], "scores": dict(zip(self.labels, probs)), "truncated": truncated}

    def _logits(self, encoded: Mapping[str, Any]) -> Any:
        torch = require("torch")
        inputs = {key: encoded[key].to(self.device) for key in MODEL_INPUTS if key in encoded}
        with torch.no_grad():
            return self.model(**inputs).logits.float().cpu()

    def _require_family(self, method: str, families: Sequence[str]) -> None:
        if self.family not in families:
            raise ConfigError(f"{method} serves {'/'.join(families)} models; the model of task "
                              f"{self.card.task} is a {self.family} model")

    def _require_types(self, records: list, expected: type) -> None:
        for record in records:
            if not isinstance(record, expected):
                raise ConfigError(f"the {self.family} model of task {self.card.task} predicts "
                                  f"{expected.__name__} records; got {type(record).__name__}")
