import shutil

import pytest

from clingen.config import KGConfig
from clingen.errors import DataFormatError
from clingen.kg.loaders import GraphBuilder, add_ibkh
from clingen.kg.open_sources import build_open_sources
from clingen.kg.source import load_graph

pytestmark = pytest.mark.unit


def edges_of(kg):
    return sorted((kg.labels[h], kg.graph.es[i]["relation"], kg.labels[t])
                  for i, (h, t) in enumerate(kg.graph.get_edgelist()))


def test_ibkh_entities_and_wide_relation_tables(fixtures_dir):
    kg = load_graph(KGConfig(source="ibkh", path=fixtures_dir / "kg/ibkh"))
    assert kg.entity_types() == {"chemical": 2, "disease": 3, "gene": 3}
    assert kg.find("BRCA1", "gene") and kg.find("metformin", "chemical")
    assert edges_of(kg) == [
        ("Dexamethasone", "inferred_relation", "breast cancer"),
        ("Dexamethasone", "palliates", "asthma"),
        ("Metformin", "associate", "type 2 diabetes mellitus"),
        ("Metformin", "treats", "type 2 diabetes mellitus"),
        ("asthma", "inferred_relation", "IL13"),
        ("breast cancer", "association", "BRCA1"),
        ("type 2 diabetes mellitus", "association", "INS"),
        ("type 2 diabetes mellitus", "inferred_relation", "INS"),
    ]


def test_ibkh_missing_column_names_file_and_columns(fixtures_dir, tmp_path):
    root = tmp_path / "ibkh"
    shutil.copytree(fixtures_dir / "kg/ibkh", root)
    (root / "entity/gene_vocab.csv").write_text("primary,hgnc_id\nHGNC:1,HGNC:1\n")
    with pytest.raises(DataFormatError, match=r"gene_vocab.csv lacks column\(s\) \['symbol'\]; it has \['primary', 'hgnc_id'\]"):
        add_ibkh(GraphBuilder(), root)


def test_ibkh_unknown_relation_file_abbreviation(fixtures_dir, tmp_path):
    root = tmp_path / "ibkh"
    shutil.copytree(fixtures_dir / "kg/ibkh", root)
    (root / "relation/X_Di_res.csv").write_text("A,B,r\n1,2,1\n")
    with pytest.raises(DataFormatError, match=r"X_Di_res.csv is not <A>_<B>_res.csv"):
        add_ibkh(GraphBuilder(), root)


def test_missing_ibkh_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"no iBKH entity files"):
        add_ibkh(GraphBuilder(), tmp_path)


def test_hetionet_nodes_and_sif(fixtures_dir):
    kg = load_graph(KGConfig(source="hetionet", path=fixtures_dir / "kg/hetionet"))
    assert kg.entity_types() == {"chemical": 1, "disease": 1, "gene": 1, "side_effect": 1, "symptom": 1}
    assert edges_of(kg) == [("Dexamethasone", "causes", "Fatigue"), ("Dexamethasone", "palliates", "asthma"),
                            ("asthma", "associates", "IL13"), ("asthma", "presents", "Dyspnea")]


def test_triples_with_types(fixtures_dir):
    kg = load_graph(KGConfig(source="triples", path=fixtures_dir / "kg/triples.tsv"))
    assert kg.entity_types() == {"chemical": 1, "disease": 2, "gene": 1}
    assert edges_of(kg) == [("BRCA1", "associates", "breast cancer"), ("metformin", "treats", "type 2 diabetes")]


def test_triples_missing_column(tmp_path):
    path = tmp_path / "t.tsv"
    path.write_text("subject\tpredicate\tobject\na\tb\tc\n")
    with pytest.raises(DataFormatError, match=r"t.tsv lacks column\(s\) \['head', 'relation', 'tail'\]"):
        load_graph(KGConfig(source="triples", path=path))


def test_missing_source_path(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"kg.path .*nope does not exist"):
        load_graph(KGConfig(source="directory", path=tmp_path / "nope"))


def test_open_sources_sider_only_on_request(shared_dir):
    root = shared_dir / "data/kg"
    plain = build_open_sources(root)
    with_sider = build_open_sources(root, include_sider=True)
    assert "sider" not in plain.sources and with_sider.sources["sider"]["edges"] > 1000
    # the embedded graph is this build (scripts/build_default_kg.sh), biologics included
    assert plain.entity_types() == load_graph(KGConfig()).entity_types()
    assert plain.sources["mesh"]["biologics"] == plain.entity_types()["biologic"]
    assert "non-commercial" in with_sider.sources["sider"]["licence"]
