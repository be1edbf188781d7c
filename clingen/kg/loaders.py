"""Knowledge-graph loaders (kg stage): read the formats users have (iBKH, Hetionet, triples) into a graph."""

from __future__ import annotations

import gzip
import io
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv

from clingen.errors import DataFormatError
from clingen.kg.graph import EDGE_SCHEMA, NODE_SCHEMA, KnowledgeGraph, canonical_type

# Hetionet v1.0 metaedge abbreviations (data/summary/metaedges.tsv) -> the relation verb.
HETIONET_METAEDGES = {
    "AdG": "downregulates", "AeG": "expresses", "AuG": "upregulates", "CbG": "binds", "CcSE": "causes",
    "CdG": "downregulates", "CpD": "palliates", "CrC": "resembles", "CtD": "treats", "CuG": "upregulates",
    "DaG": "associates", "DdG": "downregulates", "DlA": "localizes", "DpS": "presents", "DrD": "resembles",
    "DuG": "upregulates", "GcG": "covaries", "GiG": "interacts", "GpBP": "participates",
    "GpCC": "participates", "GpMF": "participates", "GpPW": "participates", "Gr>G": "regulates",
    "PCiC": "includes",
}

# iBKH relation file name abbreviations (relation/<A>_<B>_res.csv) -> canonical entity types.
IBKH_ABBREVIATIONS = {
    "A": "anatomy", "D": "chemical", "Di": "disease", "G": "gene", "Pwy": "pathway", "SE": "side_effect",
    "Sy": "symptom", "DSP": "dietary_supplement", "SDSI": "dietary_supplement_ingredient", "TC": "tcm",
    "M": "molecule",
}
# iBKH entity vocab file stems (entity/<stem>_vocab.csv) -> canonical entity types.
IBKH_VOCAB_TYPES = {
    "anatomy": "anatomy", "disease": "disease", "drug": "chemical", "gene": "gene", "pathway": "pathway",
    "side_effect": "side_effect", "symptom": "symptom", "dsp": "dietary_supplement",
    "sdsi": "dietary_supplement_ingredient", "tc": "tcm", "molecule": "molecule",
}
_IBKH_META_COLUMNS = {"source", "inference_score", "inference_gene", "inference_chemical"}


def read_table(path: Path, required: list[str], delimiter: str = "\t", header: bool = True) -> pa.Table:
    """Read a delimited file (optionally .gz) as strings; a missing file or column names it and lists
    the columns that exist."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"knowledge-graph source file {path} does not exist")
    raw = gzip.open(path, "rb").read() if path.suffix == ".gz" else path.read_bytes()
    try:
        table = pacsv.read_csv(io.BytesIO(raw),
                               parse_options=pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=True),
                               convert_options=pacsv.ConvertOptions(column_types=None, strings_can_be_null=False,
                                                                    auto_dict_encode=False),
                               read_options=pacsv.ReadOptions(autogenerate_column_names=not header))
    except pa.ArrowInvalid as exc:
        raise DataFormatError(f"cannot parse {path} as {delimiter!r}-delimited text: {exc}") from None
    missing = [c for c in required if c not in table.column_names]
    if missing:
        raise DataFormatError(f"{path} lacks column(s) {missing}; it has {table.column_names}")
    return table.cast(pa.schema([(name, pa.string()) for name in table.column_names]))


class GraphBuilder:
    """Accumulates nodes and edges from several sources, merging repeated ids (their synonyms are united)
    and repeated (head, relation, tail) edges, then builds one KnowledgeGraph."""

    def __init__(self) -> None:
        self._nodes: dict[str, list] = {}
        self._edges: dict[tuple[str, str, str], str] = {}
        self.sources: dict[str, dict] = {}

    def add_node(self, node_id: str, label: str, entity_type: str, synonyms: list[str] = ()) -> None:
        label = label.strip()
        if not label:
            return
        node = self._nodes.get(node_id)
        if node is None:
            self._nodes[node_id] = [label, canonical_type(entity_type), {s for s in synonyms if s and s != label}]
        else:
            node[2].update(s for s in (label, *synonyms) if s and s != node[0])

    def has_node(self, node_id: str) -> bool:
        return node_id in self._nodes

    def add_synonyms(self, node_id: str, synonyms: list[str]) -> None:
        node = self._nodes[node_id]
        node[2].update(s for s in synonyms if s and s != node[0])

    def add_edge(self, head: str, relation: str, tail: str, source: str) -> bool:
        """Add an edge between known nodes; returns False (and adds nothing) when an endpoint is unknown,
        so callers can count what they skipped."""
        if head not in self._nodes or tail not in self._nodes:
            return False
        self._edges.setdefault((head, relation, tail), source)
        return True

    def record_source(self, name: str, **details) -> None:
        self.sources[name] = details

    def build(self) -> KnowledgeGraph:
        ids = list(self._nodes)
        nodes = pa.table({"id": ids, "label": [self._nodes[i][0] for i in ids],
                          "type": [self._nodes[i][1] for i in ids],
                          "synonyms": [sorted(self._nodes[i][2]) for i in ids]}, schema=NODE_SCHEMA)
        keys = list(self._edges)
        edges = pa.table({"head": [k[0] for k in keys], "relation": [k[1] for k in keys],
                          "tail": [k[2] for k in keys], "source": [self._edges[k] for k in keys]},
                         schema=EDGE_SCHEMA)
        return KnowledgeGraph.from_tables(nodes, edges, self.sources)


def add_hetionet(builder: GraphBuilder, nodes_tsv: Path, edges_sif: Path | None) -> None:
    """Hetionet: `nodes.tsv` (id, name, kind) and a sif edge list (source, metaedge, target)."""
    nodes = read_table(nodes_tsv, ["id", "name", "kind"])
    for node_id, name, kind in zip(*(nodes.column(c).to_pylist() for c in ("id", "name", "kind"))):
        builder.add_node(node_id, name, kind)
    if edges_sif is None:
        return
    edges = read_table(edges_sif, ["source", "metaedge", "target"])
    skipped = 0
    for head, metaedge, tail in zip(*(edges.column(c).to_pylist() for c in ("source", "metaedge", "target"))):
        if metaedge not in HETIONET_METAEDGES:
            raise DataFormatError(f"{edges_sif}: unknown Hetionet metaedge {metaedge!r}; "
                                  f"known: {sorted(HETIONET_METAEDGES)}")
        skipped += not builder.add_edge(head, HETIONET_METAEDGES[metaedge], tail, "hetionet")
    builder.record_source("hetionet", nodes=str(nodes_tsv), edges=str(edges_sif), skipped_edges=skipped)


def add_ibkh(builder: GraphBuilder, root: Path, entity_files: list[str] | None = None) -> None:
    """iBKH: `entity/<type>_vocab.csv` (id column `primary`, name column `name`, or `symbol` for genes) and
    `relation/<A>_<B>_res.csv` wide tables: two id columns, one 0/1 column per relation type, and
    metadata columns (`Source`, `Inference_Score`, ...)."""
    root = Path(root)
    vocab_files = sorted((root / "entity").glob("*_vocab.csv"))
    if entity_files is not None:
        vocab_files = [root / "entity" / f for f in entity_files]
    if not vocab_files:
        raise FileNotFoundError(f"no iBKH entity files {root / 'entity' / '<type>_vocab.csv'} found")
    for path in vocab_files:
        stem = path.name.removesuffix("_vocab.csv")
        entity_type = IBKH_VOCAB_TYPES.get(stem, stem)
        header = read_table(path, ["primary"], delimiter=",").column_names
        name_column = "name" if "name" in header else "symbol"
        table = read_table(path, ["primary", name_column], delimiter=",")
        for node_id, name in zip(table.column("primary").to_pylist(), table.column(name_column).to_pylist()):
            builder.add_node(node_id, name, entity_type)
    for path in sorted((root / "relation").glob("*_res.csv")):
        _add_ibkh_relations(builder, path)
    builder.record_source("ibkh", root=str(root))


def _add_ibkh_relations(builder: GraphBuilder, path: Path) -> None:
    parts = path.name.removesuffix("_res.csv").split("_")
    if len(parts) != 2 or any(p not in IBKH_ABBREVIATIONS for p in parts):
        raise DataFormatError(f"iBKH relation file {path.name} is not <A>_<B>_res.csv with A, B in "
                              f"{sorted(IBKH_ABBREVIATIONS)}")
    table = read_table(path, [], delimiter=",")
    if table.num_columns < 3:
        raise DataFormatError(f"{path} needs two entity id columns and at least one relation column; "
                              f"it has {table.column_names}")
    head_col, tail_col = table.column_names[:2]
    relation_cols = [c for c in table.column_names[2:] if c.lower() not in _IBKH_META_COLUMNS]
    heads, tails = table.column(head_col).to_pylist(), table.column(tail_col).to_pylist()
    for column in relation_cols:
        relation = column.strip().lower().replace(" ", "_")
        for head, tail, flag in zip(heads, tails, table.column(column).to_pylist()):
            if flag.strip() in ("1", "1.0"):
                builder.add_edge(head, relation, tail, f"ibkh:{path.name}")


def add_triples(builder: GraphBuilder, path: Path, delimiter: str = "\t") -> None:
    """Plain triples: columns head, relation, tail, and optionally head_type, tail_type (default
    'entity'). Entities are identified by type and name."""
    table = read_table(path, ["head", "relation", "tail"], delimiter=delimiter)
    n = table.num_rows
    head_types = table.column("head_type").to_pylist() if "head_type" in table.column_names else ["entity"] * n
    tail_types = table.column("tail_type").to_pylist() if "tail_type" in table.column_names else ["entity"] * n
    for head, relation, tail, head_type, tail_type in zip(table.column("head").to_pylist(),
                                                          table.column("relation").to_pylist(),
                                                          table.column("tail").to_pylist(), head_types, tail_types):
        head_id, tail_id = f"{canonical_type(head_type)}::{head}", f"{canonical_type(tail_type)}::{tail}"
        builder.add_node(head_id, head, head_type)
        builder.add_node(tail_id, tail, tail_type)
        builder.add_edge(head_id, relation.strip(), tail_id, f"triples:{Path(path).name}")
    builder.record_source("triples", path=str(path), rows=n)
