"""NER label completion (parsing stage): finds mentions of knowledge-graph names of the task's entity type
that the model did not list, so that an entity it left out is not taught as a negative."""

from __future__ import annotations

from clingen.datasets.records import Span, tokenize
from clingen.parsing.mentions import fragment_problem, mention_problem

# Short names are often ordinary words in lower case ("ALL" is a leukaemia, "all" is not): they must match
# with their case; longer names match case-insensitively.
CASE_SENSITIVE_BELOW = 5


def _number_forms(word: str) -> set[str]:
    """The word, its singular when it is a plural ('infections', 'diseases'), and its plural in -s when it ends
    in a letter ('tumor' -> 'tumors'); words ending in -ss, -us or -is keep their number ('abscess', 'fibrosis')."""
    if not word.isalpha() or len(word) < 4 or word.endswith(("ss", "us", "is")):
        return {word}
    if word.endswith("ies"):
        return {word, word[:-3] + "y"}
    if word.endswith("s"):
        return {word, word[:-1]}
    return {word, word + "s"}


class Gazetteer:
    """Longest-match lookup of multi-word names over the text's tokens (names of up to `max_tokens` tokens).

    `generic`: the task's label words (`mentions.label_words`). A graph name that would be rejected as a listed
    mention is never a completion either: the Disease Ontology's root 'disease', 'syndrome' (label words) and
    headings such as 'Cataract: [hypermature] or [Morgagni]' (fragments, placeholders). Without that, completion
    tagged every 'disease' in the text: 212 of the 792 spans of the evidence run's completion set (NCBI)."""

    def __init__(self, names: list[str], entity_type: str, max_tokens: int = 8, min_chars: int = 3,
                 generic: frozenset[str] = frozenset()):
        self.entity_type = entity_type
        names = [name for name in names if not mention_problem(name, generic) and not fragment_problem(name)]
        self._by_first: dict[str, set[tuple[str, ...]]] = {}
        self._exact: set[tuple[str, ...]] = set()
        for name in names:
            tokens = tuple(t for t, _, _ in tokenize(name))
            if not tokens or len(tokens) > max_tokens or len(name) < min_chars:
                continue
            if len(name) < CASE_SENSITIVE_BELOW:
                self._exact.add(tokens)
                forms = {tokens}
            else:  # 'Bacterial Infections' (MeSH) is written 'bacterial infection' too, and 'tumor' as 'tumors'
                forms = {tokens[:-1] + (last,) for last in _number_forms(tokens[-1])}
            for form in forms:
                self._by_first.setdefault(form[0].lower(), set()).add(tuple(t.lower() for t in form))
        self._longest = max((len(k) for ks in self._by_first.values() for k in ks), default=0)

    def find(self, text: str, existing: list[Span]) -> list[Span]:
        """New spans for name mentions that overlap none of `existing` (nor each other)."""
        tokens = tokenize(text)
        taken = [(s.start, s.end) for s in existing]
        found: list[Span] = []
        i = 0
        while i < len(tokens):
            length = self._match_at(tokens, i)
            if length:
                start, end = tokens[i][1], tokens[i + length - 1][2]
                if all(end <= a or start >= b for a, b in taken):
                    found.append(Span(start, end, self.entity_type, text[start:end]))
                    taken.append((start, end))
                    i += length
                    continue
            i += 1
        return found

    def _match_at(self, tokens: list[tuple[str, int, int]], i: int) -> int:
        candidates = self._by_first.get(tokens[i][0].lower())
        if not candidates:
            return 0
        for length in range(min(self._longest, len(tokens) - i), 0, -1):
            window = tuple(t for t, _, _ in tokens[i:i + length])
            lowered = tuple(t.lower() for t in window)
            if lowered in candidates and (len(" ".join(window)) >= CASE_SENSITIVE_BELOW or window in self._exact):
                return length
        return 0
