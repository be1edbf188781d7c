"""Small in-test objects shared by unit tests."""

import pyarrow as pa

from clingen.kg.graph import EDGE_SCHEMA, NODE_SCHEMA, KnowledgeGraph


def tiny_graph() -> KnowledgeGraph:
    """Three diseases, three genes, two chemicals, two symptoms, two side effects; a few typed relations."""
    nodes = [("D1", "asthma", "disease", ["bronchial asthma"]), ("D2", "breast cancer", "disease", []),
             ("D3", "gout", "disease", []), ("G1", "IL13", "gene", []), ("G2", "BRCA1", "gene", []),
             ("G3", "SLC2A9", "gene", []), ("C1", "dexamethasone", "chemical", []),
             ("C2", "allopurinol", "chemical", []), ("S1", "dyspnea", "symptom", []),
             ("S2", "joint pain", "symptom", []), ("E1", "rash", "side_effect", []),
             ("E2", "nausea", "side_effect", []), ("B1", "angiogenesis", "biological_process", []),
             ("P1", "glycolysis", "pathway", []), ("A1", "lung", "anatomy", [])]
    edges = [("D1", "associates", "G1"), ("D2", "associates", "G2"), ("D3", "associates", "G3"),
             ("C1", "treats", "D1"), ("C2", "treats", "D3"), ("D1", "presents", "S1"), ("D3", "presents", "S2"),
             ("C2", "causes", "E1"), ("C1", "causes", "E2"), ("C1", "binds", "G1"), ("C2", "upregulates", "G3"),
             ("C1", "downregulates", "G2")]
    node_table = pa.table({"id": [n[0] for n in nodes], "label": [n[1] for n in nodes],
                           "type": [n[2] for n in nodes], "synonyms": [n[3] for n in nodes]}, schema=NODE_SCHEMA)
    edge_table = pa.table({"head": [e[0] for e in edges], "relation": [e[1] for e in edges],
                           "tail": [e[2] for e in edges], "source": ["test"] * len(edges)}, schema=EDGE_SCHEMA)
    return KnowledgeGraph.from_tables(node_table, edge_table)
