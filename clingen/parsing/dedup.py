"""Duplicate filtering (parsing/filtering stage): exact and MinHash near-duplicate detection (datasketch)."""

from __future__ import annotations

import hashlib
import re
import unicodedata

from clingen._imports import require

_SHINGLE = 5  # character 5-grams: robust for one-sentence texts, where word n-grams are too few


def normalise(text: str) -> str:
    """NFKC (so full-width letters, ligatures and non-breaking spaces compare equal to their plain forms), case
    folding and collapsed whitespace."""
    return re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text).casefold()).strip()


def shingles(text: str) -> set[str]:
    norm = normalise(text)
    return {norm[i:i + _SHINGLE] for i in range(max(1, len(norm) - _SHINGLE + 1))}


def containment(text: str, source: str) -> float:
    """Share of `text`'s character shingles that also occur in `source`: high when `text` copies (part of)
    `source`, even if it then carries on with words of its own."""
    mine = shingles(text)
    return len(mine & shingles(source)) / len(mine) if mine else 0.0


class Deduplicator:
    """Remembers every accepted text; `check` says whether a new one repeats an earlier one exactly (after
    normalising case and spaces) or nearly (estimated Jaccard similarity of shingles >= threshold)."""

    def __init__(self, threshold: float = 0.85, num_perm: int = 64):
        datasketch = require("datasketch")
        self._minhash_cls = datasketch.MinHash
        self._lsh = datasketch.MinHashLSH(threshold=threshold, num_perm=num_perm)
        self._num_perm = num_perm
        self._exact: dict[str, str] = {}

    def check(self, key: str, text: str) -> tuple[str, str] | None:
        """None if `text` is new (and remember it under `key`), else (reason, key of the earlier text)."""
        norm = normalise(text)
        digest = hashlib.sha1(norm.encode()).hexdigest()
        if digest in self._exact:
            return "exact_duplicate", self._exact[digest]
        minhash = self._minhash(norm)
        near = self._lsh.query(minhash)
        if near:
            return "near_duplicate", sorted(near)[0]
        self._exact[digest] = key
        self._lsh.insert(key, minhash)
        return None

    def _minhash(self, norm: str):
        minhash = self._minhash_cls(num_perm=self._num_perm)
        minhash.update_batch([s.encode() for s in shingles(norm)])
        return minhash

    def __len__(self) -> int:
        return len(self._exact)
