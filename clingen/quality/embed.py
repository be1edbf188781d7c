"""Quality stage: sentence embeddings of texts as a Ray Data stage (mean-pooled, L2-normalised encoder outputs)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from clingen._imports import require
from clingen.config import OFFLINE_ENCODER
from clingen.errors import ConfigError

POOLING = "mean over the attention mask, L2-normalised"


def resolve_embedding_encoder(source: str) -> str:
    """The folder or hub id to load: the offline MiniLM for OFFLINE_ENCODER, a checked local folder, or the
    hub id as given. Checked in the driver so that a wrong path fails before any worker starts."""
    if source == OFFLINE_ENCODER:
        from clingen.training.model_io import offline_encoder_dir
        return offline_encoder_dir()
    path = Path(source).expanduser()
    if path.exists() or source.startswith((".", "/", "~")):
        from clingen.training.model_io import check_local_model_dir
        return str(check_local_model_dir(path, "embedding encoder folder"))
    return source


class EmbedTexts:
    """Ray Data stage: rows {index, text} -> {index, embedding}; holds the encoder once per worker."""

    def __init__(self, encoder: str, max_length: int):
        torch = require("torch")
        transformers = require("transformers")
        try:
            self.tokenizer = transformers.AutoTokenizer.from_pretrained(encoder)
            self.model = transformers.AutoModel.from_pretrained(encoder, use_safetensors=True)
        except OSError as exc:  # unknown or unreachable hub id, or no safetensors weights
            raise ConfigError(f"cannot load embedding encoder {encoder!r}: {exc}. Expected a local folder or "
                              f"a hub id whose repo has model.safetensors") from None
        self.model.eval()
        self.max_length = max_length
        self.torch = torch

    def __call__(self, batch: dict) -> dict:
        texts = [str(text) for text in batch["text"]]
        encoded = self.tokenizer(texts, padding=True, truncation=True, max_length=self.max_length,
                                 return_tensors="pt")
        with self.torch.no_grad():
            hidden = self.model(**encoded).last_hidden_state
        embeddings = mean_pool(hidden.float().numpy(), encoded["attention_mask"].numpy())
        return {"index": np.asarray(batch["index"], dtype=np.int64), "embedding": embeddings}


def mean_pool(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """(batch, tokens, dims) hidden states -> (batch, dims): the mean over tokens whose mask is 1 (padding
    left out), then scaled to unit L2 norm, so that every coordinate lies in [-1, 1]."""
    weights = mask[..., None].astype(np.float32)
    pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
    norms = np.linalg.norm(pooled, axis=1, keepdims=True)
    return (pooled / np.maximum(norms, 1e-12)).astype(np.float32)


def embed_texts(texts: list[str], encoder: str, max_length: int = 128, batch_size: int = 64) -> np.ndarray:
    """Embeddings of texts, one row per text in input order, computed by one EmbedTexts actor on the
    running Ray instance (the caller starts it). `encoder` is what resolve_embedding_encoder returns."""
    if not texts:
        raise ConfigError("no texts to embed; expected at least one")
    ray = require("ray")
    rows = [{"index": index, "text": text} for index, text in enumerate(texts)]
    # One block per batch: from_items would otherwise cut a few thousand rows into ~200 tiny blocks.
    blocks = max(1, -(-len(rows) // batch_size))
    # One actor holds one copy of the encoder; the sets are capped (max_examples), so one is enough.
    dataset = ray.data.from_items(rows, override_num_blocks=blocks).map_batches(
        EmbedTexts, fn_constructor_args=(encoder, max_length), compute=ray.data.ActorPoolStrategy(size=1),
        batch_size=batch_size)
    indices, chunks = [], []
    for batch in dataset.iter_batches(batch_size=None, batch_format="numpy"):
        indices.append(batch["index"])
        chunks.append(np.asarray(batch["embedding"], dtype=np.float32))
    # Ray Data may reorder blocks; the carried index restores the input order.
    index = np.concatenate(indices)
    order = np.argsort(index, kind="stable")
    if not np.array_equal(index[order], np.arange(len(texts))):
        raise RuntimeError(f"the embedding stage returned {len(index)} rows for {len(texts)} texts; expected "
                           f"exactly one row per text")
    return np.concatenate(chunks)[order]
