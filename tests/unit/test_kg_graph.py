import pyarrow as pa
import pytest

from clingen.errors import DataFormatError, UnknownNameError
from clingen.kg.graph import EDGE_SCHEMA, NODE_SCHEMA, KnowledgeGraph, canonical_type
from clingen.kg.source import load_graph
from clingen.config import KGConfig

pytestmark = pytest.mark.unit


def small_graph() -> KnowledgeGraph:
    nodes = pa.table({"id": ["D1", "D2", "G1", "G2", "C1"],
                      "label": ["asthma", "breast cancer", "IL13", "BRCA1", "dexamethasone"],
                      "type": ["disease", "disease", "gene", "gene", "chemical"],
                      "synonyms": [["bronchial asthma"], [], [], ["BRCA-1"], []]}, schema=NODE_SCHEMA)
    edges = pa.table({"head": ["D1", "D2", "C1", "C1"], "relation": ["associates", "associates", "treats", "binds"],
                      "tail": ["G1", "G2", "D1", "G1"], "source": ["t"] * 4}, schema=EDGE_SCHEMA)
    return KnowledgeGraph.from_tables(nodes, edges, {"test": {"licence": "CC0"}})


def test_types_and_relations_are_counted():
    kg = small_graph()
    assert kg.entity_types() == {"chemical": 1, "disease": 2, "gene": 2}
    assert [(r.head_type, r.relation, r.tail_type, r.count) for r in kg.relation_types()] == [
        ("disease", "associates", "gene", 2), ("chemical", "binds", "gene", 1), ("chemical", "treats", "disease", 1)]


def test_relation_edges_filter_by_endpoint_type():
    kg = small_graph()
    heads, tails = kg.relation_edges("associates", "disease", "gene")
    assert kg.labels[heads].tolist() == ["asthma", "breast cancer"]
    assert kg.labels[tails].tolist() == ["IL13", "BRCA1"]
    assert len(kg.relation_edges("treats", head_type="gene")[0]) == 0


def test_unknown_names_list_what_exists():
    kg = small_graph()
    with pytest.raises(UnknownNameError, match=r"unknown entity type 'protein_complex'; known: chemical, disease, gene"):
        kg.vertices_of_type("protein_complex")
    with pytest.raises(UnknownNameError, match=r"unknown relation type 'cures'; known: associates, binds, treats"):
        kg.relation_edges("cures")


def test_aliases_map_to_canonical_types():
    assert canonical_type("Side Effect") == "side_effect"
    assert canonical_type("Compound") == "chemical"
    assert canonical_type("drug") == "chemical"
    assert canonical_type("Protein") == "gene"
    assert len(small_graph().vertices_of_type("Drug")) == 1


def test_find_uses_labels_and_synonyms_case_insensitively():
    kg = small_graph()
    assert kg.find("Bronchial Asthma") == [0]
    assert kg.find("brca-1", "gene") == [3]
    assert kg.find("brca-1", "disease") == []
    assert kg.names_of_type("disease") == ["asthma", "breast cancer", "bronchial asthma"]


def test_save_load_round_trip(tmp_path):
    kg = small_graph()
    kg.save(tmp_path / "g")
    again = KnowledgeGraph.load(tmp_path / "g")
    assert again.stats() == kg.stats()
    assert again.graph.vs["synonyms"] == kg.graph.vs["synonyms"]
    assert again.sources == {"test": {"licence": "CC0"}}


def test_load_missing_directory_names_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nodes.parquet does not exist"):
        KnowledgeGraph.load(tmp_path / "nowhere")


def test_edge_to_unknown_node_is_an_error():
    nodes = pa.table({"id": ["A"], "label": ["a"], "type": ["disease"], "synonyms": [[]]}, schema=NODE_SCHEMA)
    edges = pa.table({"head": ["A"], "relation": ["r"], "tail": ["B"], "source": ["s"]}, schema=EDGE_SCHEMA)
    with pytest.raises(DataFormatError, match=r"edge tail 'B' is not a node id"):
        KnowledgeGraph.from_tables(nodes, edges)


def test_embedded_default_graph_has_the_promised_scale():
    kg = load_graph(KGConfig())
    types = kg.entity_types()
    for entity_type in ("disease", "chemical", "gene", "side_effect"):
        assert types[entity_type] >= 1000, entity_type
    assert 100 <= types["symptom"] < 1000
    relations = {(r.head_type, r.relation, r.tail_type): r.count for r in kg.relation_types()}
    assert relations[("disease", "associates", "gene")] > 10000
    assert relations[("chemical", "treats", "disease")] > 500
    assert relations[("disease", "presents", "symptom")] > 1000
    assert "licence" in kg.sources["hetionet"]
    assert "sider" not in kg.sources
