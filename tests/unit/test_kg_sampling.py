import numpy as np
import pyarrow as pa
import pytest

from clingen.errors import EmptyCandidatesError
from clingen.kg.graph import EDGE_SCHEMA, NODE_SCHEMA, KnowledgeGraph
from clingen.kg.sampling import (EntitySampler, HardNegativeSampler, NegativePairSampler, NeighbourhoodSampler, RelationPairSampler,
                                 row_hash)

pytestmark = pytest.mark.unit


def star_graph() -> KnowledgeGraph:
    """hub disease D0 linked to genes G0..G9; diseases D1..D9 each linked to one gene; plus one symptom."""
    ids = [f"D{i}" for i in range(10)] + [f"G{i}" for i in range(10)] + ["S0"]
    types = ["disease"] * 10 + ["gene"] * 10 + ["symptom"]
    nodes = pa.table({"id": ids, "label": [i.lower() for i in ids], "type": types, "synonyms": [[]] * len(ids)},
                     schema=NODE_SCHEMA)
    heads = ["D0"] * 10 + [f"D{i}" for i in range(1, 10)] + ["D0"]
    tails = [f"G{i}" for i in range(10)] + [f"G{i}" for i in range(1, 10)] + ["S0"]
    relations = ["associates"] * 19 + ["presents"]
    edges = pa.table({"head": heads, "relation": relations, "tail": tails, "source": ["t"] * 20}, schema=EDGE_SCHEMA)
    return KnowledgeGraph.from_tables(nodes, edges)


def test_row_hash_is_a_pure_function_of_seed_stream_row():
    rows = np.arange(1000)
    assert np.array_equal(row_hash(3, 1, rows)[500:], row_hash(3, 1, rows[500:]))
    assert not np.array_equal(row_hash(3, 1, rows), row_hash(4, 1, rows))
    assert not np.array_equal(row_hash(3, 1, rows), row_hash(3, 2, rows))
    assert len(np.unique(row_hash(0, 0, np.arange(100000)))) == 100000


@pytest.mark.parametrize("mode", ["uniform", "degree", "coverage"])
def test_draws_do_not_depend_on_how_rows_are_batched(mode):
    kg = star_graph()
    rows = np.arange(37)
    whole = EntitySampler(kg, ["disease"], mode, seed=7).sample(rows)
    pieces = np.concatenate([EntitySampler(kg, ["disease"], mode, seed=7).sample(part)
                             for part in np.array_split(rows, 5)[::-1]][::-1])
    assert np.array_equal(whole, pieces)
    assert set(kg.labels[whole]) <= {f"d{i}" for i in range(10)}


def test_coverage_visits_every_candidate_before_repeating():
    kg = star_graph()
    sampler = EntitySampler(kg, ["disease"], "coverage", seed=1)
    first_pass = sampler.sample(np.arange(10))
    second_pass = sampler.sample(np.arange(10, 20))
    assert sorted(kg.labels[first_pass]) == sorted(f"d{i}" for i in range(10))
    assert sorted(kg.labels[second_pass]) == sorted(f"d{i}" for i in range(10))
    assert not np.array_equal(first_pass, second_pass)  # a fresh permutation per pass


def test_degree_weighting_follows_degree():
    kg = star_graph()
    draws = EntitySampler(kg, ["disease"], "degree", seed=0).sample(np.arange(20000))
    hub_share = np.mean(kg.labels[draws] == "d0")
    assert abs(hub_share - 11 / 20) < 0.02  # D0 has 11 relations, D1..D9 one each: 11/20
    uniform = EntitySampler(kg, ["disease"], "uniform", seed=0).sample(np.arange(20000))
    assert abs(np.mean(kg.labels[uniform] == "d0") - 0.1) < 0.02


def test_relation_pairs_are_edges_and_negatives_are_not():
    kg = star_graph()
    edges = {(kg.labels[h], kg.labels[t]) for h, t in zip(*kg.relation_edges("associates"))}
    rows = np.arange(500)
    positives = RelationPairSampler(kg, "associates", "disease", "gene", seed=2).sample(rows)
    assert all((kg.labels[h], kg.labels[t]) in edges for h, t in zip(*positives))
    heads, tails = NegativePairSampler(kg, "associates", "disease", "gene", seed=2).sample(rows)
    assert not any((kg.labels[h], kg.labels[t]) in edges for h, t in zip(heads, tails))
    assert set(kg.graph.vs[int(h)]["type"] for h in heads) == {"disease"}
    assert set(kg.graph.vs[int(t)]["type"] for t in tails) == {"gene"}


def test_negative_pairs_impossible_when_relation_is_complete():
    nodes = pa.table({"id": ["D", "G"], "label": ["d", "g"], "type": ["disease", "gene"], "synonyms": [[], []]},
                     schema=NODE_SCHEMA)
    edges = pa.table({"head": ["D"], "relation": ["associates"], "tail": ["G"], "source": ["t"]}, schema=EDGE_SCHEMA)
    kg = KnowledgeGraph.from_tables(nodes, edges)
    with pytest.raises(EmptyCandidatesError, match="there are no negative pairs"):
        NegativePairSampler(kg, "associates")


def test_empty_relation_selection_is_an_error():
    with pytest.raises(EmptyCandidatesError, match=r"no gene -presents-> \* edges"):
        RelationPairSampler(star_graph(), "presents", head_type="gene")


def test_neighbourhood_respects_hops_types_and_limit():
    kg = star_graph()
    d1 = kg.find("d1")[0]
    one_hop = NeighbourhoodSampler(kg, hops=1, limit=10).names(d1, row=0)
    assert one_hop == ["g1"]
    two_hops = NeighbourhoodSampler(kg, hops=2, entity_types=["disease"], limit=10).names(d1, row=0)
    assert two_hops == ["d0"]
    limited = NeighbourhoodSampler(kg, hops=1, entity_types=["gene"], limit=3, seed=5)
    d0 = kg.find("d0")[0]
    picks = limited.names(d0, row=4)
    assert len(picks) == 3 and set(picks) <= {f"g{i}" for i in range(10)}
    assert picks == limited.names(d0, row=4)
    assert {tuple(limited.names(d0, row=r)) for r in range(20)} != {tuple(picks)}


def graph_with_isolated_diseases() -> KnowledgeGraph:
    """D0 -associates-> G0; diseases D1, D2 and symptom S0 have no relation."""
    ids, types = ["D0", "D1", "D2", "G0", "S0"], ["disease", "disease", "disease", "gene", "symptom"]
    nodes = pa.table({"id": ids, "label": [i.lower() for i in ids], "type": types, "synonyms": [[]] * len(ids)},
                     schema=NODE_SCHEMA)
    edges = pa.table({"head": ["D0"], "relation": ["associates"], "tail": ["G0"], "source": ["t"]}, schema=EDGE_SCHEMA)
    return KnowledgeGraph.from_tables(nodes, edges)


def test_related_only_draws_only_entities_that_have_a_relation():
    kg = graph_with_isolated_diseases()
    assert set(EntitySampler(kg, ["disease"], "coverage").topics(np.arange(6))) == {"d0", "d1", "d2"}
    assert set(EntitySampler(kg, ["disease"], "coverage", related_only=True).topics(np.arange(6))) == {"d0"}
    with pytest.raises(EmptyCandidatesError, match=r"\['symptom'\] with at least one relation"):
        EntitySampler(kg, ["symptom"], related_only=True)


def test_kg_sample_with_neighbours_lists_them_for_every_topic(capsys):
    from clingen.cli import main
    assert main(["kg", "sample", "--type", "disease", "--n", "5", "--neighbours", "3"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 5 and all(2 <= len(line.split("\t")) <= 4 for line in lines), lines


def test_hard_negatives_are_the_topics_neighbours_first_then_drawn_names():
    kg = star_graph()
    vertex = {kg.labels[v]: v for v in range(kg.graph.vcount())}
    sampler = HardNegativeSampler(kg, "gene", "disease", limit=2, seed=1)
    rows = np.arange(4)
    names = sampler.sample_batch(np.array([vertex["d3"]] * 4), rows)
    assert all(n[0] == "g3" and len(set(n)) == 2 and n[1].startswith("g") for n in names)  # its one gene first
    assert sampler.sample_batch(np.array([vertex["d3"]] * 4), rows) == names  # a pure function of the row
    hub = sampler.sample_batch(np.array([vertex["d0"]]), np.array([0]))[0]
    assert len(hub) == 2 and set(hub) <= {f"g{i}" for i in range(10)}
    with pytest.raises(EmptyCandidatesError, match="no entities of type 'pathway'"):
        HardNegativeSampler(kg, "pathway", "disease", limit=1)


def test_a_hard_negative_is_never_a_name_of_the_tasks_own_type():
    kg = star_graph()
    with pytest.raises(EmptyCandidatesError, match="every gene name is also a gene name"):
        HardNegativeSampler(kg, "gene", "gene", limit=1)
    names = {n for row in HardNegativeSampler(kg, "disease", "gene", limit=3).sample_batch(np.arange(5), np.arange(5))
             for n in row}
    assert names and all(n.startswith("d") for n in names)


def test_a_hard_negative_is_never_a_synonym_of_the_tasks_own_type_and_needs_no_vertex():
    # 'WT1' is a gene and a synonym of Wilms tumour: label completion would tag it as the disease it was to avoid.
    nodes = pa.table({"id": ["D0", "G0", "G1"], "label": ["Wilms tumor", "WT1", "TP53"],
                      "type": ["disease", "gene", "gene"], "synonyms": [["WT1"], [], []]}, schema=NODE_SCHEMA)
    edges = pa.table({"head": ["D0"], "relation": ["associates"], "tail": ["G0"], "source": ["t"]}, schema=EDGE_SCHEMA)
    sampler = HardNegativeSampler(KnowledgeGraph.from_tables(nodes, edges), "gene", "disease", limit=2)
    assert sampler.sample_batch(np.array([0, 0]), np.arange(2)) == [["TP53"], ["TP53"]]  # its own gene left out
    assert sampler.sample_batch(None, np.arange(2)) == [["TP53"], ["TP53"]]
