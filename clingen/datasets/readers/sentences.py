"""Datasets stage: the sentence splitting and entity masking of annotated abstracts (PubTator, ChemProt).

They turn documents into the sentence-level, masked instances of the BioBERT relation datasets.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

# A sentence ends at . ! or ? followed by space and a capital, digit or opening bracket/quote, unless the word
# before is an abbreviation or an initial. Rule-based on purpose: no sentence splitter is a dependency, and
# abstracts are regular enough (a cut inside an entity mention is never made, see sentence_spans).
_BOUNDARY = re.compile(r"[.!?](?=\s+[\"'(\[]?[A-Z0-9])")
_LAST_TWO_WORDS = re.compile(r"(?:(\S+)\s+)?(\S+)$")
_ABBREVIATIONS = frozenset({"e.g", "i.e", "vs", "al", "fig", "figs", "dr", "approx", "ca", "cf", "no", "nos",
                            "mr", "mrs", "ms", "prof", "st", "ref", "refs", "eq", "vol", "resp", "sp", "spp"})


def _is_abbreviation(before: str) -> bool:
    """Whether the period ending `before` ends an abbreviation or an initial rather than a sentence.

    A single letter is an initial ("J. Smith", "Dr. J. R. Smith", "(A. Smith") unless it is a capital right
    after a word that ends in a lower-case letter: then it names a variant of that word and the sentence may
    end there ("vitamin A.", "Hepatitis B.", "protein kinase C.", "complex I."). A lower-case single letter
    never ends a sentence ("p. 5"). The cost: "by J. Smith" is cut after "J."; personal initials are rare in
    abstracts, while "vitamin A." and "hepatitis B." end sentences often."""
    match = _LAST_TWO_WORDS.search(before)
    if not match:
        return False
    previous, raw = match.group(1) or "", match.group(2)
    word = raw.lstrip("([\"'")
    if word.lower() in _ABBREVIATIONS:
        return True
    if len(word) != 1 or not word.isalpha():
        return False
    follows_word = word == raw and previous[-1:].isalpha() and previous[-1:].islower()
    return not (word.isupper() and follows_word)


def sentence_spans(text: str, start: int = 0, end: int | None = None,
                   keep_together: Sequence[tuple[int, int]] = ()) -> list[tuple[int, int]]:
    """[start, end) offsets of the sentences of text[start:end], stripped of surrounding space; no cut falls
    inside a `keep_together` span (entity mentions), so every mention lies in one sentence."""
    end = len(text) if end is None else end
    cuts = []
    for match in _BOUNDARY.finditer(text, start, end):
        cut = match.end()
        if _is_abbreviation(text[start:match.start()]) or any(s < cut < e for s, e in keep_together):
            continue
        cuts.append(cut)
    spans = []
    for left, right in zip([start, *cuts], [*cuts, end]):
        chunk = text[left:right]
        if chunk.strip():
            lead = len(chunk) - len(chunk.lstrip())
            spans.append((left + lead, left + len(chunk.rstrip())))
    return spans


def mask_pair(text: str, offset: int, first: tuple[int, int, str], second: tuple[int, int, str]) -> str:
    """text (which starts at `offset` in its document) with two non-overlapping mentions, given as document
    (start, end, mask), replaced by their masks: "@CHEMICAL$ induced @DISEASE$ in rats"."""
    out = text
    for start, end, mask in sorted((first, second), reverse=True):
        out = out[:start - offset] + mask + out[end - offset:]
    return out


def closest_pair(heads: Sequence[tuple[int, int]], tails: Sequence[tuple[int, int]]
                 ) -> tuple[tuple[int, int], tuple[int, int]] | None:
    """The non-overlapping (head, tail) mention pair with the fewest characters between them (the mentions
    most likely to be the ones a sentence relates), earliest first on ties; None when all overlap."""
    best, best_key = None, None
    for head in heads:
        for tail in tails:
            if head[0] < tail[1] and tail[0] < head[1]:
                continue
            key = (max(head[0], tail[0]) - min(head[1], tail[1]), min(head[0], tail[0]))
            if best_key is None or key < best_key:
                best, best_key = (head, tail), key
    return best
