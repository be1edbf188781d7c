"""Knowledge-graph core (first stage of kg -> prompts): an igraph graph of typed entities and typed relations."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import igraph as ig
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from clingen.errors import DataFormatError, UnknownNameError

# Canonical entity types. Loaders map their sources' own kinds onto these, so that a task spec saying
# "disease" finds Hetionet's "Disease", iBKH's "disease" and a triple file's "Disease" alike.
ENTITY_TYPE_ALIASES = {
    "disease": "disease",
    "drug": "chemical", "compound": "chemical", "chemical": "chemical",
    # MeSH chemicals that are proteins, longer peptides, nucleic acids or biological products such as vaccines
    # (open_sources.mesh_descriptor_type): the chemical annotation of BC5CDR and CHEMDNER leaves them out.
    "biologic": "biologic",
    "gene": "gene", "protein": "gene",
    "symptom": "symptom",
    "side effect": "side_effect", "side_effect": "side_effect", "sideeffect": "side_effect",
    "anatomy": "anatomy",
    "pathway": "pathway",
    "biological process": "biological_process", "biological_process": "biological_process",
    "cellular component": "cellular_component", "cellular_component": "cellular_component",
    "molecular function": "molecular_function", "molecular_function": "molecular_function",
    "pharmacologic class": "pharmacologic_class", "pharmacologic_class": "pharmacologic_class",
}

# Types that refine a broader one: a graph without the distinction (iBKH, Hetionet, a triple file) keeps those
# entities under the broader type, so there the refined type has no entity rather than being unknown.
REFINED_TYPES = {"biologic": "chemical"}

NODE_SCHEMA = pa.schema([
    ("id", pa.string()), ("label", pa.string()), ("type", pa.string()), ("synonyms", pa.list_(pa.string())),
])
EDGE_SCHEMA = pa.schema([
    ("head", pa.string()), ("relation", pa.string()), ("tail", pa.string()), ("source", pa.string()),
])


def canonical_type(raw: str) -> str:
    """Map a source's entity kind ('Side Effect', 'Compound') to ClinGen's canonical type name."""
    key = raw.strip().lower().replace("-", " ")
    return ENTITY_TYPE_ALIASES.get(key, key.replace(" ", "_"))


@dataclass(frozen=True)
class RelationType:
    """One typed relation: e.g. disease -associates-> gene."""

    head_type: str
    relation: str
    tail_type: str
    count: int


class KnowledgeGraph:
    """A directed igraph graph whose vertices carry `name` (unique id), `label`, `type` and `synonyms`,
    and whose edges carry `relation` and `source`. Sampling-heavy lookups are cached as numpy arrays."""

    def __init__(self, graph: ig.Graph, sources: dict | None = None):
        self.graph = graph
        self.sources = sources or {}

    # ----- construction and storage -------------------------------------------------------------
    @classmethod
    def from_tables(cls, nodes: pa.Table, edges: pa.Table, sources: dict | None = None) -> "KnowledgeGraph":
        """Build from a node table (id, label, type, synonyms) and an edge table (head, relation, tail,
        source) whose head/tail are node ids. Edges naming an unknown node are an error, not a drop."""
        ids = nodes.column("id").to_pylist()
        index = {node_id: i for i, node_id in enumerate(ids)}
        if len(index) != len(ids):
            raise DataFormatError("node table has duplicate ids; every entity id must be unique")
        heads = _lookup(index, edges.column("head").to_pylist(), "head")
        tails = _lookup(index, edges.column("tail").to_pylist(), "tail")
        graph = ig.Graph(n=len(ids), edges=np.column_stack([heads, tails]).tolist(), directed=True)
        graph.vs["name"] = ids
        graph.vs["label"] = nodes.column("label").to_pylist()
        graph.vs["type"] = nodes.column("type").to_pylist()
        graph.vs["synonyms"] = [s or [] for s in nodes.column("synonyms").to_pylist()]
        graph.es["relation"] = edges.column("relation").to_pylist()
        graph.es["source"] = edges.column("source").to_pylist()
        return cls(graph, sources)

    def to_tables(self) -> tuple[pa.Table, pa.Table]:
        g = self.graph
        nodes = pa.table({"id": g.vs["name"], "label": g.vs["label"], "type": g.vs["type"],
                          "synonyms": g.vs["synonyms"]}, schema=NODE_SCHEMA)
        pairs = np.array(g.get_edgelist(), dtype=np.int64).reshape(-1, 2)
        ids = np.array(g.vs["name"], dtype=object)
        edges = pa.table({"head": ids[pairs[:, 0]].tolist(), "relation": g.es["relation"],
                          "tail": ids[pairs[:, 1]].tolist(), "source": g.es["source"]}, schema=EDGE_SCHEMA)
        return nodes, edges

    def save(self, directory: Path) -> None:
        """Write nodes.parquet, edges.parquet and sources.json (compact: zstd, dictionary-encoded)."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        nodes, edges = self.to_tables()
        pq.write_table(nodes, directory / "nodes.parquet", compression="zstd", compression_level=19)
        pq.write_table(edges, directory / "edges.parquet", compression="zstd", compression_level=19)
        (directory / "sources.json").write_text(json.dumps(self.sources, indent=2, sort_keys=True) + "\n")

    @classmethod
    def load(cls, directory: Path) -> "KnowledgeGraph":
        """Load a graph written by `save`."""
        directory = Path(directory)
        for name in ("nodes.parquet", "edges.parquet"):
            if not (directory / name).is_file():
                raise FileNotFoundError(f"knowledge graph file {directory / name} does not exist; "
                                        f"expected a directory written by `clingen kg build`")
        sources_file = directory / "sources.json"
        sources = json.loads(sources_file.read_text()) if sources_file.is_file() else {}
        return cls.from_tables(pq.read_table(directory / "nodes.parquet"),
                               pq.read_table(directory / "edges.parquet"), sources)

    # ----- lookups --------------------------------------------------------------------------------
    @cached_property
    def labels(self) -> np.ndarray:
        """Display names as an object array, so that samplers can fancy-index thousands at once."""
        return np.array(self.graph.vs["label"], dtype=object)

    @cached_property
    def _type_codes(self) -> tuple[np.ndarray, list[str]]:
        names, codes = np.unique(np.array(self.graph.vs["type"], dtype=object), return_inverse=True)
        return codes.astype(np.int32), [str(n) for n in names]

    def entity_types(self) -> dict[str, int]:
        """Entity type -> vertex count."""
        codes, names = self._type_codes
        counts = np.bincount(codes, minlength=len(names))
        return {name: int(count) for name, count in zip(names, counts)}

    def vertices_of_type(self, entity_type: str) -> np.ndarray:
        """Vertex indices of one canonical entity type; an unknown type is an error listing the known ones.
        A refined type (REFINED_TYPES) that the graph does not distinguish gives no vertex: its entities are
        under the broader type there."""
        codes, names = self._type_codes
        wanted = canonical_type(entity_type)
        if wanted not in names and REFINED_TYPES.get(wanted) in names:
            return np.empty(0, dtype=np.int64)
        if wanted not in names:
            raise UnknownNameError("entity type", entity_type, names)
        return np.flatnonzero(codes == names.index(wanted))

    @cached_property
    def _edge_arrays(self) -> dict[str, np.ndarray]:
        pairs = np.array(self.graph.get_edgelist(), dtype=np.int64).reshape(-1, 2)
        codes, _ = self._type_codes
        rel_names, rel_codes = np.unique(np.array(self.graph.es["relation"], dtype=object), return_inverse=True)
        return {"head": pairs[:, 0], "tail": pairs[:, 1], "head_type": codes[pairs[:, 0]],
                "tail_type": codes[pairs[:, 1]], "relation": rel_codes.astype(np.int32),
                "relation_names": rel_names}

    def relation_types(self) -> list[RelationType]:
        """Every (head type, relation, tail type) present, with its edge count, most frequent first."""
        arrays = self._edge_arrays
        _, type_names = self._type_codes
        keys = np.stack([arrays["head_type"], arrays["relation"], arrays["tail_type"]], axis=1)
        if len(keys) == 0:
            return []
        unique, counts = np.unique(keys, axis=0, return_counts=True)
        found = [RelationType(type_names[h], str(arrays["relation_names"][r]), type_names[t], int(c))
                 for (h, r, t), c in zip(unique, counts)]
        return sorted(found, key=lambda rt: (-rt.count, rt.relation, rt.head_type, rt.tail_type))

    def relation_edges(self, relation: str, head_type: str | None = None,
                       tail_type: str | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(heads, tails) vertex arrays of the edges of one relation, optionally restricted by endpoint type."""
        arrays = self._edge_arrays
        names = list(arrays["relation_names"])
        if relation not in names:
            raise UnknownNameError("relation type", relation, sorted(names))
        mask = arrays["relation"] == names.index(relation)
        _, type_names = self._type_codes
        for side, wanted in (("head_type", head_type), ("tail_type", tail_type)):
            if wanted is not None:
                self.vertices_of_type(wanted)  # raises on an unknown type
                mask &= arrays[side] == type_names.index(canonical_type(wanted))
        return arrays["head"][mask], arrays["tail"][mask]

    @cached_property
    def _label_index(self) -> dict[str, list[int]]:
        index: dict[str, list[int]] = {}
        for vid, (label, synonyms) in enumerate(zip(self.graph.vs["label"], self.graph.vs["synonyms"])):
            for name in {label, *synonyms}:
                index.setdefault(name.lower(), []).append(vid)
        return index

    def find(self, name: str, entity_type: str | None = None) -> list[int]:
        """Vertices whose label or synonym equals `name` (case-insensitive), optionally of one type."""
        found = self._label_index.get(name.lower(), [])
        if entity_type is not None:
            found = [v for v in found if self.graph.vs[v]["type"] == canonical_type(entity_type)]
        return found

    def names_of_type(self, entity_type: str) -> list[str]:
        """Every label and synonym of one entity type, used to complete NER labels from the graph."""
        vids = self.vertices_of_type(entity_type)
        synonyms = self.graph.vs["synonyms"]
        return sorted({self.labels[v] for v in vids} | {s for v in vids for s in synonyms[v]})

    def stats(self) -> dict:
        return {"vertices": self.graph.vcount(), "edges": self.graph.ecount(),
                "entity_types": self.entity_types(),
                "relation_types": [rt.__dict__ for rt in self.relation_types()]}


def _lookup(index: dict[str, int], ids: list[str], side: str) -> np.ndarray:
    try:
        return np.fromiter((index[i] for i in ids), dtype=np.int64, count=len(ids))
    except KeyError as exc:
        raise DataFormatError(f"edge {side} {exc.args[0]!r} is not a node id in the node table") from None
