"""Duplicate filtering (parsing/filtering stage): exact and MinHash near-duplicate detection (datasketch)."""

from __future__ import annotations

import hashlib
import re
import unicodedata

import numpy as np

from clingen._imports import require

_SHINGLE = 5  # character 5-grams: robust for one-sentence texts, where word n-grams are too few


def normalise(text: str) -> str:
    """NFKC (so full-width letters, ligatures and non-breaking spaces compare equal to their plain forms), case
    folding and collapsed whitespace."""
    return re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text).casefold()).strip()


def text_digest(norm: str) -> bytes:
    """sha1 (20 bytes) of a text already passed through normalise(): the exact-duplicate key. Callers hold the
    normalised text anyway (for the MinHash signature), so it is not normalised a second time here."""
    return hashlib.sha1(norm.encode()).digest()


def shingles(text: str) -> set[str]:
    norm = normalise(text)
    return {norm[i:i + _SHINGLE] for i in range(max(1, len(norm) - _SHINGLE + 1))}


def containment(text: str, source: str) -> float:
    """Share of `text`'s character shingles that also occur in `source`: high when `text` copies (part of)
    `source`, even if it then carries on with words of its own."""
    return shingle_containment(shingles(text), shingles(source))


def shingle_containment(mine: set[str], source: set[str]) -> float:
    """containment() of two texts given as their shingles(), for a caller that compares one text with several
    sources, or a source with many texts."""
    return len(mine & source) / len(mine) if mine else 0.0


class MinHasher:
    """MinHash signatures (datasketch, its default sha1 hashing and scheme) of a text's normalised character
    5-gram shingles, with the permutations built once instead of per text. The same text gets the same signature
    in every process, so the parse stage's workers compute them and the driver only looks them up.

    `signature(text)` -> numpy array of `num_perm` hash values (dtype of the scheme: uint32 for affine32)."""

    def __init__(self, num_perm: int = 64):
        datasketch = require("datasketch")
        template = datasketch.MinHash(num_perm=num_perm)
        self._minhash_cls = datasketch.MinHash
        self.num_perm, self.scheme, self.seed = num_perm, template.scheme, template.seed
        self.dtype = template.hashvalues.dtype
        self._permutations = template.permutations

    def signature(self, text: str) -> np.ndarray:
        grams = [gram.encode() for gram in shingles(text)]
        if self.scheme != "affine32":
            minhash = self._minhash_cls(num_perm=self.num_perm, seed=self.seed, permutations=self._permutations,
                                        scheme=self.scheme)
            minhash.update_batch(grams)
            return minhash.hashvalues
        # datasketch's affine32 update_batch, with its per-value Python hash call replaced by one joined buffer
        # (the parse stage's costliest step): sha1_hash32 is the first 4 digest bytes, little-endian; then the
        # MurmurHash3 finalizer and h -> a*h + b mod 2^32. Equal values, tested against datasketch.
        sha1 = hashlib.sha1
        hashed = np.frombuffer(b"".join([sha1(gram).digest()[:4] for gram in grams]), dtype="<u4").astype(np.uint32)
        a, b = self._permutations
        return (_fmix32(hashed)[:, None] * a + b).min(axis=0)

    def values(self, signature: np.ndarray | bytes) -> np.ndarray:
        """A signature given as its bytes (a stream column) as hash values; ValueError for a wrong length."""
        if isinstance(signature, bytes | bytearray | memoryview):
            signature = np.frombuffer(signature, dtype=self.dtype)
        if len(signature) != self.num_perm:
            raise ValueError(f"a MinHash signature of {len(signature)} values; expected {self.num_perm}")
        return signature


def _fmix32(values: np.ndarray) -> np.ndarray:
    """The MurmurHash3 32-bit finalizer (Appleby, smhasher), element-wise with wrapping uint32 arithmetic, as
    datasketch applies it before its affine permutations."""
    values = values ^ (values >> np.uint32(16))
    values = values * np.uint32(0x85EBCA6B)
    values = values ^ (values >> np.uint32(13))
    values = values * np.uint32(0xC2B2AE35)
    return values ^ (values >> np.uint32(16))


class Deduplicator:
    """Remembers every accepted text; `check` says whether a new one repeats an earlier one exactly (after
    normalising case and spaces) or nearly (estimated Jaccard similarity of shingles >= threshold).

    Near duplicates are found by MinHash LSH banding with datasketch's optimal bands and rows for the threshold
    (b=4 bands of r=15 values at 0.85 and 64 permutations), as datasketch.MinHashLSH does, but each band keeps
    only the first key that filled a bucket: a candidate is all the check needs, and one entry per band instead
    of a set per bucket cut the driver's memory about fourfold (benchmarks/driver_ceiling.py)."""

    def __init__(self, threshold: float = 0.85, num_perm: int = 64):
        datasketch = require("datasketch")
        self.minhasher = MinHasher(num_perm)
        optimal = datasketch.MinHashLSH(threshold=threshold, num_perm=num_perm)
        self._band_rows = optimal.r
        # Band bytes -> the first key whose band held them, keyed by hash(bytes): 8 bytes of siphash instead of
        # 60 bytes of band; the index lives in one process, so the per-process hash seed does not matter.
        self._bands: list[dict[int, str]] = [{} for _ in range(optimal.b)]
        # sha1 digests (20 bytes) of the normalised texts, not their hex strings: less than half the memory.
        self._exact: dict[bytes, str] = {}

    def check(self, key: str, text: str, signature: np.ndarray | bytes | None = None) -> tuple[str, str] | None:
        """None if `text` is new (and remember it under `key`), else (reason, key of the earlier text).
        `signature`: the text's MinHasher signature when a worker computed it already (else computed here)."""
        norm = normalise(text)
        digest = text_digest(norm)
        if digest in self._exact:  # before the signature, which an exact repeat does not need
            return "exact_duplicate", self._exact[digest]
        return self.check_signed(key, digest, self.minhasher.signature(norm) if signature is None else signature)

    def check_signed(self, key: str, digest: bytes, signature: np.ndarray | bytes) -> tuple[str, str] | None:
        """check() given the text's text_digest and MinHasher signature, as the parse stage's workers compute
        them: the driver only looks them up. ValueError for a signature of the wrong length."""
        if digest in self._exact:
            return "exact_duplicate", self._exact[digest]
        values = self.minhasher.values(signature)
        r = self._band_rows
        buckets = [hash(values[i * r:(i + 1) * r].tobytes()) for i in range(len(self._bands))]
        earlier = [band[bucket] for band, bucket in zip(self._bands, buckets) if bucket in band]
        if earlier:
            return "near_duplicate", min(earlier)
        self._exact[digest] = key
        for band, bucket in zip(self._bands, buckets):
            band.setdefault(bucket, key)
        return None

    def __len__(self) -> int:
        return len(self._exact)
