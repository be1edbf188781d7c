"""Knowledge-graph stage entry: resolves a KGConfig to a loaded graph (embedded default, built dir, or raw sources)."""

from __future__ import annotations

from pathlib import Path

from clingen.config import KGConfig
from clingen.kg.graph import KnowledgeGraph
from clingen.kg.loaders import GraphBuilder, add_hetionet, add_ibkh, add_triples
from clingen.kg.open_sources import build_open_sources

DEFAULT_KG_DIR = Path(__file__).parent / "data"


def load_graph(config: KGConfig) -> KnowledgeGraph:
    """Load the graph a config names. Raw sources are converted in memory; `clingen kg build` saves them."""
    if config.source == "default":
        return KnowledgeGraph.load(DEFAULT_KG_DIR)
    path = Path(config.path)
    if not path.exists():
        raise FileNotFoundError(f"kg.path {path} does not exist (kg.source={config.source!r})")
    if config.source == "directory":
        return KnowledgeGraph.load(path)
    if config.source == "open-sources":
        return build_open_sources(path, config.include_disgenet, config.include_sider)
    builder = GraphBuilder()
    if config.source == "hetionet":
        edges = sorted(path.glob("*.sif*"))
        add_hetionet(builder, path / "nodes.tsv", edges[0] if edges else None)
    elif config.source == "ibkh":
        add_ibkh(builder, path)
    else:
        add_triples(builder, path, delimiter="," if path.suffix == ".csv" else "\t")
    return builder.build()
