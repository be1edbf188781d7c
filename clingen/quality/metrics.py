"""Quality stage: pure metrics of synthetic data (distribution shift, diversity, entity and topic coverage)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

import numpy as np

from clingen.datasets.records import tokenize
from clingen.errors import DataFormatError
from clingen.parsing.mentions import find_mentions
from clingen.parsing.fidelity import found_on_its_own

# L2-normalised embeddings have every coordinate in [-1, 1]; fixed bounds (rather than a min-max over the
# two sets) keep CMD values comparable across sets and runs.
UNIT_BOUNDS: tuple[float, float] = (-1.0, 1.0)
MAX_PAIRS = 100_000
# The real split's name among a quality report's sources (its synthetic sets are named by the user).
REAL = "real"


def metric_columns(report: dict) -> dict[str, dict]:
    """Each source's metrics, real first: the columns of the metrics table and chart."""
    columns = {REAL: report["real"]["metrics"]} if report["real"] else {}
    columns.update({name: entry["metrics"] for name, entry in report["sets"].items()})
    return columns


def _matrix(x, name: str) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] == 0:
        raise DataFormatError(f"{name} has shape {x.shape}; expected a non-empty 2-D (rows, dims) matrix")
    return x


def cmd(x, y, k: int = 5, bounds: tuple[float, float] = UNIT_BOUNDS) -> float:
    """Central Moment Discrepancy (Zellinger et al., ICLR 2017) between the row distributions of x and y:

        CMD_k = ||E(x) - E(y)||_2 / |b-a|  +  sum_{j=2..k} ||c_j(x) - c_j(y)||_2 / |b-a|^j

    where E is the per-dimension mean, c_j(x) = E[(x - E(x))^j] the per-dimension j-th central moment, and
    [a, b] = bounds the interval every coordinate lies in (default [-1, 1], which holds for L2-normalised
    vectors). CMD(x, x) = 0, and it grows as the distributions move apart. Values outside the bounds are
    refused, since the normalisation by |b-a|^j assumes them."""
    x, y = _matrix(x, "x"), _matrix(y, "y")
    if x.shape[1] != y.shape[1]:
        raise DataFormatError(f"x has {x.shape[1]} dimensions but y has {y.shape[1]}; expected the same")
    if k < 1:
        raise DataFormatError(f"CMD order k={k}; expected k >= 1")
    low, high = float(bounds[0]), float(bounds[1])
    if not high > low:
        raise DataFormatError(f"CMD bounds {bounds}; expected a < b")
    tolerance = 1e-6 * (high - low)
    for name, m in (("x", x), ("y", y)):
        if m.min() < low - tolerance or m.max() > high + tolerance:
            raise DataFormatError(f"{name} has values in [{m.min():.4g}, {m.max():.4g}], outside the CMD bounds "
                                  f"[{low}, {high}]; expected every coordinate within them")
    span = high - low
    mean_x, mean_y = x.mean(axis=0), y.mean(axis=0)
    total = np.linalg.norm(mean_x - mean_y) / span
    centred_x, centred_y = x - mean_x, y - mean_y
    for order in range(2, k + 1):
        moment_x, moment_y = (centred_x ** order).mean(axis=0), (centred_y ** order).mean(axis=0)
        total += np.linalg.norm(moment_x - moment_y) / span ** order
    return float(total)


def mean_pairwise_cosine(x, max_pairs: int = MAX_PAIRS, seed: int = 0) -> float | None:
    """Mean cosine similarity over distinct pairs of rows (i < j): 1.0 when every row points the same way,
    lower for a more diverse set. When there are more than max_pairs pairs, max_pairs pairs (i != j) are
    drawn with a numpy Generator seeded with seed, so the value is deterministic. None for fewer than two
    rows (no pair exists). Rows of zero norm are refused (their cosine is undefined)."""
    x = _matrix(x, "x")
    n = x.shape[0]
    if n < 2:
        return None
    norms = np.linalg.norm(x, axis=1)
    if np.any(norms == 0):
        raise DataFormatError(f"row {int(np.argmin(norms))} of x has zero norm; expected non-zero vectors")
    unit = x / norms[:, None]
    if n * (n - 1) // 2 <= max_pairs:
        gram = unit @ unit.T
        return float(gram[np.triu_indices(n, k=1)].mean())
    rng = np.random.default_rng(seed)
    first = rng.integers(0, n, size=max_pairs)
    # Shifting by 1..n-1 (mod n) draws the second row uniformly among the others, never the row itself.
    second = (first + rng.integers(1, n, size=max_pairs)) % n
    return float(np.einsum("ij,ij->i", unit[first], unit[second]).mean())


def _words(text: str) -> list[str]:
    return text.lower().split()


def distinct_n(texts: Iterable[str], n: int) -> float:
    """Distinct-n (Li et al., 2016): distinct n-grams / all n-grams, over lower-cased whitespace tokens, with
    n-grams taken within each text (never across two texts). 0.0 when the texts hold no n-gram."""
    if n < 1:
        raise DataFormatError(f"distinct-n with n={n}; expected n >= 1")
    grams: Counter = Counter()
    for text in texts:
        words = _words(text)
        grams.update(tuple(words[i:i + n]) for i in range(len(words) - n + 1))
    total = sum(grams.values())
    return len(grams) / total if total else 0.0


def vocabulary_size(texts: Iterable[str]) -> int:
    """Number of distinct lower-cased whitespace tokens over all texts (punctuation stays attached)."""
    return len({word for text in texts for word in _words(text)})


def normalise_mention(mention: str) -> str:
    """A mention case-folded and re-tokenised with ClinGen's tokenizer (tokens joined by single spaces), so
    that synthetic "A-T" and CoNLL's pre-tokenised "A - T" are the same entity."""
    return " ".join(token for token, _, _ in tokenize(mention.casefold()))


def _mentions(entities: Iterable[Iterable[str]], name: str) -> list[str]:
    """Normalised mentions of a list of per-example mention lists (empty mentions dropped)."""
    mentions = []
    for position, row in enumerate(entities):
        if isinstance(row, str):
            raise DataFormatError(f"{name}[{position}] is the string {row!r}; expected one list of entity "
                                  f"mentions per example")
        mentions.extend(normalise_mention(m) for m in row if m is not None and m.strip())
    return mentions


def entity_stats(entities: Iterable[Iterable[str]], top: int = 20) -> dict:
    """Entity mentions of a set (one list per example), case-folded (see normalise_mention): distinct
    mentions, total mentions, and the `top` most frequent as (mention, count) pairs, most frequent first,
    ties alphabetically."""
    counts = Counter(_mentions(entities, "entities"))
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return {"distinct": len(counts), "total": sum(counts.values()), "top": ranked[:top]}


def _topic_names(topic: str | None) -> list[str]:
    """The names a recorded topic asks a row to name: one, or for a relation topic "head / tail" both."""
    return [part.strip() for part in (topic or "").split(" / ") if part.strip()]


def _topic_in_text(names: list[str], text: str) -> bool:
    # The parser's own matcher: 'MET' is not the verb 'met', 'asthma' is not inside 'asthmatic'; a relation's
    # entity counts only on its own, not inside the other's longer name (fidelity.relation_problem).
    if len(names) == 2:
        return found_on_its_own(text, names[0], names[1]) and found_on_its_own(text, names[1], names[0])
    return all(find_mentions(text, name) for name in names)


def topic_coverage(topics: Sequence[str | None], texts: Sequence[str]) -> float | None:
    """Share of the rows that have a recorded topic whose topic appears in their own text as the parse stage
    finds a name (parsing.mentions.find_mentions: whole words, acronyms in their case, other words in any case,
    any spaces or hyphens between words, an optional plural); a "head / tail" topic counts when both appear.
    Rows without a topic (None, blank or only " / ") are left out; None when no row has one (zero-shot and
    few-shot sets record none)."""
    if len(topics) != len(texts):
        raise DataFormatError(f"{len(topics)} topics but {len(texts)} texts; expected one topic per text")
    pairs = [(names, text) for names, text in ((_topic_names(topic), text) for topic, text in zip(topics, texts))
             if names]
    if not pairs:
        return None
    return sum(_topic_in_text(names, text) for names, text in pairs) / len(pairs)


def entity_coverage(real_entities: Iterable[Iterable[str]],
                    synthetic_entities: Iterable[Iterable[str]]) -> float | None:
    """Share of the distinct real entity mentions (case-folded, see normalise_mention; one mention list per
    real example) that are also among the synthetic set's entity mentions. None when the real set has none."""
    real = set(_mentions(real_entities, "real_entities"))
    if not real:
        return None
    synthetic = set(_mentions(synthetic_entities, "synthetic_entities"))
    return len(real & synthetic) / len(real)
