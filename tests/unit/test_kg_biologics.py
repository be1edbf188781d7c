"""Tests of the biologic entity type: MeSH chemicals that are proteins, longer peptides, nucleic acids or
biological products are typed apart from chemicals, so that tasks whose annotation guidelines exclude them
(BC5CDR chemicals, CHEMDNER, CASI medications) never get them as topics."""

from __future__ import annotations

import numpy as np
import pytest

from clingen.config import KGConfig
from clingen.errors import UnknownNameError
from clingen.kg.open_sources import mesh_descriptor_type
from clingen.kg.sampling import EntitySampler
from clingen.kg.source import load_graph
from clingen.tasks.registry import get_task
from tests.unit.helpers import tiny_graph

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("name, trees, expected", [  # tree numbers of MeSH 2015 descriptors
    ("Insulin", ["D06.472.699.587.200.500.625", "D12.644.548.586.200.500.625"], "biologic"),
    ("Hydrolases", ["D08.811.277"], "biologic"),
    ("Factor XI", ["D12.776.124.125.300", "D23.119.300"], "biologic"),
    ("Lyme Disease Vaccines", ["D20.215.894.899.500"], "biologic"),
    ("Tuberculin", ["D23.050.161.845"], "biologic"),
    ("RNA, Transfer, Lys", ["D13.444.735.757.760.460"], "biologic"),
    ("Proteoglycans", ["D09.698.735", "D12.776.395.650"], "biologic"),
    ("Cyclosporine", ["D04.345.566.235.300", "D12.644.641.235.300"], "chemical"),
    ("Leuprolide", ["D06.472.699.327.740.320.400", "D12.644.456.460.480", "D12.776.641.650.405.740.320.400"],
     "chemical"),
    ("Vancomycin", ["D09.400.420.925", "D12.644.233.925"], "chemical"),
    ("Lipopolysaccharides", ["D09.400.500", "D09.698.718.450", "D10.494", "D23.050.161.616.525"], "chemical"),
    ("Aspirin", ["D02.241.223.100.050.500"], "chemical"),
    ("Asthma", ["C08.127.108", "C08.381.495.108"], "disease"),
    ("Lung", ["A04.411"], "anatomy"),
    ("Abattoirs", ["J01.576.423.850.500"], None),
])
def test_mesh_descriptor_type(name, trees, expected):
    assert mesh_descriptor_type(trees) == expected, name


def test_the_first_disease_chemical_or_anatomy_tree_decides_the_kind():
    assert mesh_descriptor_type(["E07.100", "C10.228", "D12.776.300"]) == "disease"


def test_a_graph_without_biologics_keeps_them_under_chemical():
    kg = tiny_graph()
    assert kg.vertices_of_type("biologic").size == 0  # a refined type the graph does not distinguish
    with pytest.raises(UnknownNameError, match=r"unknown entity type 'protein_complex'"):
        kg.vertices_of_type("protein_complex")  # a name that is no type at all stays an error
    both = EntitySampler(kg, ["chemical", "biologic"], seed=3).topics(np.arange(20))
    assert both == EntitySampler(kg, ["chemical"], seed=3).topics(np.arange(20))


def test_the_embedded_graph_types_proteins_and_vaccines_as_biologics():
    kg = load_graph(KGConfig())
    for name in ("Myosin Light Chains", "Hydrolases", "Factor XI", "Parathyroid Hormone", "Lyme Disease Vaccines"):
        assert kg.find(name, "biologic") and not kg.find(name, "chemical"), name
    for name in ("Cyclosporine", "Vancomycin", "Glutathione"):
        assert kg.find(name, "chemical") and not kg.find(name, "biologic"), name
    assert kg.entity_types()["biologic"] > 4000 and kg.entity_types()["chemical"] > 5000
    assert kg.sources["mesh"]["biologics"] == kg.entity_types()["biologic"]


@pytest.mark.parametrize("task", ["bc5cdr-chemical", "chemdner", "casi"])
def test_tasks_whose_guidelines_exclude_proteins_draw_no_biologic_topic(task):
    kg = load_graph(KGConfig())
    biologics = set(kg.vertices_of_type("biologic").tolist())
    for label in get_task(task).labels:
        drawn = EntitySampler(kg, label.topics.entity_types, seed=0).sample(np.arange(300))
        assert not biologics & set(drawn.tolist()), (task, label.name)


def test_other_tasks_keep_biologics_among_their_topics():
    kg = load_graph(KGConfig())
    prevention = get_task("litcovid").label("Prevention").topics.entity_types
    candidates = set(EntitySampler(kg, prevention).candidates.tolist())
    assert set(kg.vertices_of_type("biologic").tolist()) <= candidates  # vaccines prevent COVID-19
