"""Knowledge-graph samplers (kg -> prompts): seeded topic draws that depend only on (seed, row index).

Every draw is a pure function of the seed and the prompt row's index, so any shard of a generation run can
be recomputed on any node without keeping the prompts, and a resumed run draws exactly the same topics.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Literal

import numpy as np

from clingen.errors import EmptyCandidatesError
from clingen.kg.graph import KnowledgeGraph

SamplingMode = Literal["uniform", "degree", "coverage"]

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def row_hash(seed: int, stream: int, rows: np.ndarray) -> np.ndarray:
    """SplitMix64 of (seed, stream, row): independent 64-bit draws per row without any sequential state.
    numpy's Generators are sequential, so a per-row counter-based mix is what makes draws shard-free."""
    x = np.asarray(rows, dtype=np.uint64) * _GOLDEN
    x ^= np.uint64((seed * 0xBF58476D1CE4E5B9 + stream * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF)
    x += _GOLDEN
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def row_unit(seed: int, stream: int, rows: np.ndarray) -> np.ndarray:
    """Uniform floats in [0, 1) per row (53 random bits each)."""
    return (row_hash(seed, stream, rows) >> np.uint64(11)).astype(np.float64) * (1.0 / (1 << 53))


def row_choice(seed: int, stream: int, rows: np.ndarray, n: int) -> np.ndarray:
    """Uniform integers in [0, n) per row."""
    return (row_hash(seed, stream, rows) % np.uint64(n)).astype(np.int64)


def coverage_positions(seed: int, stream: int, rows: np.ndarray, n: int,
                       cache: OrderedDict[int, np.ndarray] | None = None) -> np.ndarray:
    """Positions in [0, n) that visit every position once per pass of n rows: row r takes position
    perm_e[r mod n] of pass e = r div n, each pass with its own seeded permutation."""
    cache = OrderedDict() if cache is None else cache
    rows = np.asarray(rows, dtype=np.int64)
    positions = np.empty(len(rows), dtype=np.int64)
    epochs = rows // n
    for epoch in np.unique(epochs):
        if epoch not in cache:  # a few passes are live at once when rows straddle a pass boundary
            cache[epoch] = np.random.default_rng([seed, stream, int(epoch)]).permutation(n)
            if len(cache) > 4:
                cache.popitem(last=False)
        mask = epochs == epoch
        positions[mask] = cache[epoch][rows[mask] % n]
    return positions


class EntitySampler:
    """Draws entities of given types. Modes: `uniform`; `degree` (probability proportional to the number of
    relations, favouring well-known entities); `coverage` (a seeded permutation per pass over the candidates,
    so N rows cover min(N, candidates) distinct topics before any repeats). `related_only`: only entities with
    at least one relation (most of the embedded graph's diseases have none). Raises EmptyCandidatesError when no
    entity qualifies."""

    def __init__(self, kg: KnowledgeGraph, entity_types: list[str], mode: SamplingMode = "uniform",
                 seed: int = 0, stream: int = 0, related_only: bool = False):
        self.kg, self.mode, self.seed, self.stream = kg, mode, seed, stream
        self.candidates = np.unique(np.concatenate([kg.vertices_of_type(t) for t in entity_types]))
        if related_only and len(self.candidates):
            degrees = np.asarray(kg.graph.degree(self.candidates.tolist()))
            self.candidates = self.candidates[degrees > 0]
        if len(self.candidates) == 0:
            related = " with at least one relation" if related_only else ""
            raise EmptyCandidatesError(f"no entities of type(s) {entity_types}{related} in the knowledge graph")
        if mode == "degree":
            degrees = np.asarray(kg.graph.degree(self.candidates.tolist()), dtype=np.float64)
            if degrees.sum() == 0:
                raise EmptyCandidatesError(f"degree-weighted sampling of {entity_types}: none of the "
                                           f"{len(degrees)} candidates has a relation; use mode 'uniform'")
            self._cumulative = np.cumsum(degrees)
        elif mode not in ("uniform", "coverage"):
            raise ValueError(f"unknown sampling mode {mode!r}; expected uniform, degree or coverage")
        self._permutations: OrderedDict[int, np.ndarray] = OrderedDict()

    def sample(self, rows: np.ndarray) -> np.ndarray:
        """Vertex indices, one per row."""
        rows = np.asarray(rows, dtype=np.int64)
        n = len(self.candidates)
        if self.mode == "uniform":
            return self.candidates[row_choice(self.seed, self.stream, rows, n)]
        if self.mode == "degree":
            targets = row_unit(self.seed, self.stream, rows) * self._cumulative[-1]
            return self.candidates[np.searchsorted(self._cumulative, targets, side="right")]
        return self.candidates[coverage_positions(self.seed, self.stream, rows, n, self._permutations)]

    def topics(self, rows: np.ndarray) -> list[str]:
        """Entity labels, one per row."""
        return self.kg.labels[self.sample(rows)].tolist()


class RelationPairSampler:
    """Draws (head, tail) pairs joined by one relation type, uniformly over its edges."""

    def __init__(self, kg: KnowledgeGraph, relation: str, head_type: str | None = None,
                 tail_type: str | None = None, seed: int = 0, stream: int = 0):
        self.kg, self.seed, self.stream = kg, seed, stream
        self.heads, self.tails = kg.relation_edges(relation, head_type, tail_type)
        if len(self.heads) == 0:
            raise EmptyCandidatesError(f"no {head_type or '*'} -{relation}-> {tail_type or '*'} edges "
                                       f"in the knowledge graph")

    def sample(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        picks = row_choice(self.seed, self.stream, np.asarray(rows, dtype=np.int64), len(self.heads))
        return self.heads[picks], self.tails[picks]


class NegativePairSampler:
    """Draws (head, tail) pairs of the relation's entity types that are NOT joined by it in either
    direction: the topics for "no relation" labels. Candidates are the entities that take part in the
    relation at all, so negatives are as plausible as positives rather than obscure vertices."""

    MAX_ATTEMPTS = 32

    def __init__(self, kg: KnowledgeGraph, relation: str, head_type: str | None = None,
                 tail_type: str | None = None, seed: int = 0, stream: int = 0):
        self.seed, self.stream = seed, stream
        heads, tails = kg.relation_edges(relation, head_type, tail_type)
        if len(heads) == 0:
            raise EmptyCandidatesError(f"no {head_type or '*'} -{relation}-> {tail_type or '*'} edges to "
                                       f"derive negative pairs from")
        self.head_pool, self.tail_pool = np.unique(heads), np.unique(tails)
        n = np.int64(kg.graph.vcount())
        self._n = n
        self._existing = np.unique(np.concatenate([heads * n + tails, tails * n + heads]))
        if len(self.head_pool) * len(self.tail_pool) <= len(np.unique(heads * n + tails)):
            raise EmptyCandidatesError(f"every {head_type or '*'}/{tail_type or '*'} pair is joined by "
                                       f"{relation!r}; there are no negative pairs")

    def sample(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        rows = np.asarray(rows, dtype=np.int64)
        heads = np.empty(len(rows), dtype=np.int64)
        tails = np.empty(len(rows), dtype=np.int64)
        pending = np.arange(len(rows))
        for attempt in range(self.MAX_ATTEMPTS):
            stream = self.stream * 1000 + 2 * attempt
            h = self.head_pool[row_choice(self.seed, stream, rows[pending], len(self.head_pool))]
            t = self.tail_pool[row_choice(self.seed, stream + 1, rows[pending], len(self.tail_pool))]
            ok = ~self._is_edge(h, t) & (h != t)
            heads[pending[ok]], tails[pending[ok]] = h[ok], t[ok]
            pending = pending[~ok]
            if len(pending) == 0:
                return heads, tails
        raise EmptyCandidatesError(f"could not find negative pairs for {len(pending)} rows in "
                                   f"{self.MAX_ATTEMPTS} attempts; the relation is too dense")

    def _is_edge(self, heads: np.ndarray, tails: np.ndarray) -> np.ndarray:
        keys = heads * self._n + tails
        found = np.searchsorted(self._existing, keys)
        found[found == len(self._existing)] = 0
        return self._existing[found] == keys


class NeighbourhoodSampler:
    """Related entities of a seed entity, up to `hops` hops away, optionally of given types: lets a prompt
    name a disease together with its genes, drugs or symptoms. One hop is served from a CSR adjacency in
    numpy so whole batches are expanded at once; more hops use igraph's neighbourhood search per vertex."""

    def __init__(self, kg: KnowledgeGraph, hops: int = 1, entity_types: list[str] | None = None,
                 limit: int = 3, seed: int = 0, stream: int = 0):
        if hops < 1:
            raise ValueError(f"hops must be >= 1, got {hops}")
        self.kg, self.hops, self.limit, self.seed, self.stream = kg, hops, limit, seed, stream
        n = kg.graph.vcount()
        self._allowed = np.ones(n, dtype=bool)
        if entity_types:
            self._allowed[:] = False
            self._allowed[np.concatenate([kg.vertices_of_type(t) for t in entity_types])] = True
        pairs = np.array(kg.graph.get_edgelist(), dtype=np.int64).reshape(-1, 2)
        both = np.unique(np.concatenate([pairs, pairs[:, ::-1]]), axis=0)  # undirected, parallel edges once
        both = both[self._allowed[both[:, 1]] & (both[:, 0] != both[:, 1])]
        self._indptr = np.searchsorted(both[:, 0], np.arange(n + 1))
        self._indices = both[:, 1]

    def sample_batch(self, vertices: np.ndarray, rows: np.ndarray) -> list[np.ndarray]:
        """For each (vertex, row): up to `limit` neighbours, chosen reproducibly for the row, sorted."""
        vertices, rows = np.asarray(vertices, dtype=np.int64), np.asarray(rows, dtype=np.int64)
        if self.hops > 1:
            return [self._sample_far(v, r) for v, r in zip(vertices, rows)]
        starts = self._indptr[vertices]
        degrees = self._indptr[vertices + 1] - starts
        positions = self._distinct_positions(degrees, rows)  # (rows, limit), -1 where degree < limit
        picked = np.where(positions >= 0, self._indices[np.minimum(starts[:, None] + positions,
                                                                   len(self._indices) - 1)], -1)
        picked.sort(axis=1)
        return [p[p >= 0] for p in picked]

    def _distinct_positions(self, degrees: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """`limit` distinct positions in [0, degree) per row by Floyd's sampling, vectorised over rows;
        rows whose degree is at most `limit` take every position."""
        k = self.limit
        positions = np.where(np.arange(k)[None, :] < degrees[:, None], np.arange(k)[None, :], -1)
        big = degrees > k
        if not big.any():
            return positions
        deg, big_rows = degrees[big], rows[big]
        chosen = np.empty((len(deg), k), dtype=np.int64)
        for step in range(k):
            upper = deg - k + step  # Floyd: draw t in [0, upper]; if already taken, take `upper` itself
            t = (row_hash(self.seed, self.stream * 64 + step, big_rows) % (upper + 1).astype(np.uint64)).astype(np.int64)
            taken = (chosen[:, :step] == t[:, None]).any(axis=1)
            chosen[:, step] = np.where(taken, upper, t)
        positions[big] = chosen
        return positions

    def _first_per_segment(self, neighbours: np.ndarray, rows: np.ndarray, segment: np.ndarray) -> np.ndarray:
        """Mask of the `limit` entries with the smallest per-row hash in each segment (a seeded shuffle)."""
        keys = row_hash(self.seed, self.stream, neighbours + rows * np.int64(self.kg.graph.vcount()))
        order = np.lexsort((keys, segment))
        sorted_segment = segment[order]
        first = np.searchsorted(sorted_segment, sorted_segment)  # index where each segment starts
        keep = np.zeros(len(order), dtype=bool)
        keep[order[np.arange(len(order)) - first < self.limit]] = True
        return keep

    def _sample_far(self, vertex: int, row: int) -> np.ndarray:
        found = np.unique(np.asarray(self.kg.graph.neighborhood(int(vertex), order=self.hops, mode="all",
                                                                mindist=1), dtype=np.int64))
        found = found[self._allowed[found]]
        keep = self._first_per_segment(found, np.full(len(found), row), np.zeros(len(found), dtype=np.int64))
        return found[keep]

    def sample(self, vertex: int, row: int) -> np.ndarray:
        return self.sample_batch(np.array([vertex]), np.array([row]))[0]

    def names(self, vertex: int, row: int) -> list[str]:
        return self.kg.labels[self.sample(vertex, row)].tolist()


class HardNegativeSampler:
    """Names of another entity type for a prompt to mention without labelling (NER hard negatives): the seed
    entity's neighbours of that type first (a disease's genes), then names of the type drawn for the row, since
    most entities have no such neighbour (134 of the embedded graph's 9,472 diseases have a gene). The drawn
    names are weighted by degree (plus one), so well-studied genes (BRCA1, TP53) come up more than obscure ones
    (FLJ35700), as in PubMed text. Names that are
    also names of `exclude_type` (the task's own type), labels or synonyms, are never drawn: their label would be
    ambiguous, and label completion (whose gazetteer holds the synonyms) would tag them ('WT1', 'SARS')."""

    def __init__(self, kg: KnowledgeGraph, entity_type: str, exclude_type: str | None, limit: int,
                 seed: int = 0, stream: int = 0):
        if entity_type not in kg.entity_types():
            raise EmptyCandidatesError(f"no entities of type {entity_type!r} in the knowledge graph; its types "
                                       f"are {sorted(kg.entity_types())}")
        own = ({str(name).casefold() for name in kg.names_of_type(exclude_type)}
               if exclude_type in kg.entity_types() else set())
        candidates = kg.vertices_of_type(entity_type)
        self.candidates = np.array([v for v in candidates if str(kg.labels[v]).casefold() not in own], dtype=np.int64)
        if len(self.candidates) == 0:
            raise EmptyCandidatesError(f"every {entity_type} name is also a {exclude_type} name")
        self.kg, self.limit, self.seed, self.stream = kg, limit, seed, stream
        self._neighbours = NeighbourhoodSampler(kg, 1, [entity_type], limit, seed, stream)
        self._allowed = np.zeros(kg.graph.vcount(), dtype=bool)
        self._allowed[self.candidates] = True
        self._cumulative = np.cumsum(np.asarray(kg.graph.degree(self.candidates.tolist()), dtype=np.float64) + 1.0)

    def sample_batch(self, vertices: np.ndarray | None, rows: np.ndarray) -> list[list[str]]:
        """`limit` distinct names per (vertex, row), neighbours first; reproducible per row. `vertices` None: a
        topic that is no graph entity (clingen-llm), so drawn names only."""
        rows = np.asarray(rows, dtype=np.int64)
        nearby = self._neighbours.sample_batch(vertices, rows) if vertices is not None else [()] * len(rows)
        out = []
        for row, near in zip(rows, nearby):
            picked = [int(v) for v in near if self._allowed[v]]
            units = row_unit(self.seed, self.stream + 1, row * 64 + np.arange(4 * self.limit))
            draws = np.searchsorted(self._cumulative, units * self._cumulative[-1], side="right")
            for v in self.candidates[draws]:
                if len(picked) >= self.limit:
                    break
                if int(v) not in picked:
                    picked.append(int(v))
            out.append([str(self.kg.labels[v]) for v in picked])
        return out
