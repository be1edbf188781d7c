"""Knowledge-graph source assembly (kg stage): builds one graph from the open biomedical sources
(Hetionet, its disease-gene and compound-gene tables, PharmacotherapyDB, Disease Ontology, MeSH, and on
request DisGeNET and the non-commercial SIDER), laid out as in the project's shared/data/kg folder."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from clingen.errors import DataFormatError
from clingen.kg.graph import KnowledgeGraph, canonical_type
from clingen.kg.loaders import GraphBuilder, add_hetionet, read_table

# Licences recorded beside the embedded graph; SIDER is CC BY-NC-SA and never embedded.
LICENCES = {
    "hetionet": "CC0 1.0 (Hetionet v1.0 nodes and edge sample)",
    "hetionet-DaG": "CC0 1.0 compilation; rows carry their source licence (CC BY 4.0, ODbL 1.0 from DisGeNET)",
    "hetionet-CbG": "CC0 1.0 compilation of DrugBank/ChEMBL/BindingDB/DrugCentral binding pairs",
    "pharmacotherapydb": "CC0 1.0 (PharmacotherapyDB v1.0 indications)",
    "disease-ontology": "CC BY 3.0 (Disease Ontology term names and synonyms)",
    "mesh": "NLM MeSH terms (free to use with attribution to the U.S. National Library of Medicine)",
    "disgenet": "ODbL 1.0 (DisGeNET curated gene-disease associations)",
    "sider": "CC BY-NC-SA 4.0 (SIDER 4; non-commercial use only)",
}

_INDICATION_RELATIONS = {"DM": "treats", "SYM": "palliates", "NOT": "non_indication"}
_MESH_TREE_TYPES = {"C": "disease", "D": "chemical", "A": "anatomy"}
# MeSH branches (2015 trees) of the chemicals that the chemical annotation guidelines of BC5CDR and CHEMDNER
# leave out (proteins, peptides longer than an oligopeptide, nucleic acids) and of other biological products
# (vaccines, immune sera, antigens): a descriptor under one of these is typed "biologic", not "chemical" ...
BIOLOGIC_TREES = (
    "D05.500", "D05.875",  # Multiprotein Complexes, Protein Aggregates
    "D08.244", "D08.622", "D08.811",  # Cytochromes, Enzyme Precursors, Enzymes
    "D12.644", "D12.776",  # Peptides, Proteins
    "D13.444",  # Nucleic Acids
    "D20.215.121", "D20.215.261", "D20.215.401",  # Antitoxins, Biosimilar Pharmaceuticals, Immune Sera
    "D20.215.535", "D20.215.894",  # Menotropins, Vaccines
    "D23.050", "D23.119", "D23.529",  # Antigens, Blood Coagulation Factors, Intercellular Signaling Proteins
)
# ... unless it is also under a branch of small molecules: a defined structure (inorganic, organic,
# heterocyclic, polycyclic compounds: cyclosporine, polymyxin B), or a small biomolecule (coenzymes, amino
# acids, oligopeptides such as leuprolide or glutathione, nucleosides, nucleotides) ...
SMALL_MOLECULE_TREES = ("D01", "D02", "D03", "D04", "D08.211", "D12.125", "D12.644.456", "D13.570", "D13.695")
# ... or, when it is not a protein (D12.776), a carbohydrate, a lipid, a glycopeptide or a cyclic peptide:
# lipopolysaccharides, vancomycin, bleomycin and echinocandins stay chemicals; glycoproteins, lipoproteins
# and glycated haemoglobin do not.
NON_PROTEIN_CHEMICAL_TREES = ("D09", "D10", "D12.644.233", "D12.644.641")
_PROTEIN_TREES = ("D12.776",)


def _under(tree: str, branches: tuple[str, ...]) -> bool:
    return any(tree == branch or tree.startswith(branch + ".") for branch in branches)


def mesh_descriptor_type(tree_numbers: list[str]) -> str | None:
    """The canonical entity type of a MeSH descriptor from all its tree numbers, in file order: that of the
    first tree number in C (disease), D (chemical) or A (anatomy), else None; a chemical is "biologic" when
    a tree number lies under BIOLOGIC_TREES and none under SMALL_MOLECULE_TREES, nor (for a descriptor
    that is not a protein) under NON_PROTEIN_CHEMICAL_TREES. "Insulin" (D06, D12.644) is a biologic,
    "Cyclosporine" (D04, D12.644), "Leuprolide" (D12.644.456) and "Vancomycin" (D09, D12.644.233) are
    chemicals."""
    entity_type = next((_MESH_TREE_TYPES[tree[:1]] for tree in tree_numbers if tree[:1] in _MESH_TREE_TYPES), None)
    if entity_type != "chemical" or not any(_under(tree, BIOLOGIC_TREES) for tree in tree_numbers):
        return entity_type
    small = any(_under(tree, SMALL_MOLECULE_TREES) for tree in tree_numbers)
    protein = any(_under(tree, _PROTEIN_TREES) for tree in tree_numbers)
    small = small or (not protein and any(_under(tree, NON_PROTEIN_CHEMICAL_TREES) for tree in tree_numbers))
    return "chemical" if small else "biologic"


def build_open_sources(root: Path, include_disgenet: bool = False, include_sider: bool = False) -> KnowledgeGraph:
    """Assemble the graph from `root` (a folder laid out like shared/data/kg). The embedded default uses
    the permissive sources only; DisGeNET and SIDER are opt-in."""
    root = Path(root)
    builder = GraphBuilder()
    add_hetionet(builder, root / "hetionet/data/nodes.tsv", root / "hetionet/data/edges-5k.sif.gz")
    _add_disease_ontology(builder, root / "disease-ontology/data_term-names.tsv")
    names = _NameIndex(builder)
    _add_mesh(builder, names, root / "mesh/data_tree-numbers.tsv", root / "mesh/data_symptoms.tsv")
    _add_disease_genes(builder, root / "hetionet/compile/DaG-association.tsv")
    _add_compound_genes(builder, root / "hetionet/compile/CbG-binding.tsv")
    _add_indications(builder, root / "hetionet/indications/catalog_indications.tsv")
    if include_disgenet:
        _add_disgenet(builder, names, root / "disgenet/download_curated_gene_disease_associations.txt.gz")
    if include_sider:
        _add_sider(builder, root / "sider4/data_indications.tsv", root / "sider4/download_meddra_all_se.tsv.gz")
    for name, details in builder.sources.items():
        # Paths relative to the source root, so a rebuild elsewhere gives byte-identical files.
        for key, value in details.items():
            if isinstance(value, str) and value.startswith(str(root)):
                details[key] = str(Path(value).relative_to(root))
        details["licence"] = LICENCES.get(name, "see the source's own licence")
    return builder.build()


class _NameIndex:
    """Lower-cased label/synonym -> node id per entity type, so a MeSH or DisGeNET term that names an
    entity we already have becomes a synonym instead of a duplicate vertex."""

    def __init__(self, builder: GraphBuilder):
        self.builder = builder
        self.index: dict[tuple[str, str], str] = {}
        for node_id, (label, entity_type, synonyms) in builder._nodes.items():
            for name in (label, *synonyms):
                self.index.setdefault((entity_type, name.lower()), node_id)

    def add_or_merge(self, node_id: str, label: str, entity_type: str) -> str:
        entity_type = canonical_type(entity_type)
        existing = self.index.get((entity_type, label.lower()))
        if existing is not None and existing != node_id:
            self.builder.add_synonyms(existing, [label])
            return existing
        self.builder.add_node(node_id, label, entity_type)
        self.index.setdefault((entity_type, label.lower()), node_id)
        return node_id


def _add_disease_ontology(builder: GraphBuilder, path: Path) -> None:
    table = read_table(path, ["doid", "name", "type"])
    labels: dict[str, str] = {}
    synonyms: dict[str, list[str]] = {}
    for doid, name, kind in zip(*(table.column(c).to_pylist() for c in ("doid", "name", "type"))):
        if kind == "name":
            labels[doid] = name
        elif kind in ("exact-synonym", "related-synonym"):
            synonyms.setdefault(doid, []).append(name)
    for doid, label in labels.items():
        node_id = f"Disease::{doid}"
        if builder.has_node(node_id):  # Hetionet's disease: keep its label, gain DO's synonyms
            builder.add_synonyms(node_id, [label, *synonyms.get(doid, [])])
        else:
            builder.add_node(node_id, label, "disease", synonyms.get(doid, []))
    builder.record_source("disease-ontology", path=str(path), terms=len(labels))


def _add_mesh(builder: GraphBuilder, names: _NameIndex, trees: Path, symptoms: Path) -> None:
    symptom_table = read_table(symptoms, ["mesh_id", "mesh_name"])
    symptom_ids = set(symptom_table.column("mesh_id").to_pylist())
    for mesh_id, name in zip(symptom_table.column("mesh_id").to_pylist(), symptom_table.column("mesh_name").to_pylist()):
        names.add_or_merge(f"Symptom::{mesh_id}", name, "symptom")
    table = read_table(trees, ["mesh_id", "mesh_name", "mesh_tree_number"])
    descriptors: dict[str, tuple[str, list[str]]] = {}  # in file order: mesh id -> (name, tree numbers)
    for mesh_id, name, tree in zip(*(table.column(c).to_pylist()
                                     for c in ("mesh_id", "mesh_name", "mesh_tree_number"))):
        descriptors.setdefault(mesh_id, (name, []))[1].append(tree)
    added = Counter()
    for mesh_id, (name, tree_numbers) in descriptors.items():
        entity_type = mesh_descriptor_type(tree_numbers)
        if entity_type is None or mesh_id in symptom_ids:
            continue
        added[entity_type] += 1
        names.add_or_merge(f"{entity_type.title()}::MESH:{mesh_id}", name, entity_type)
    builder.record_source("mesh", trees=str(trees), symptoms=str(symptoms), descriptors=sum(added.values()),
                          biologics=added["biologic"])


def _add_disease_genes(builder: GraphBuilder, path: Path) -> None:
    table = read_table(path, ["doid_id", "doid_name", "entrez_gene_id", "gene_symbol"])
    added = 0
    for doid, disease, gene_id, symbol in zip(*(table.column(c).to_pylist() for c in
                                                ("doid_id", "doid_name", "entrez_gene_id", "gene_symbol"))):
        builder.add_node(f"Disease::{doid}", disease, "disease")
        builder.add_node(f"Gene::{gene_id}", symbol, "gene")
        added += builder.add_edge(f"Disease::{doid}", "associates", f"Gene::{gene_id}", "hetionet-DaG")
    builder.record_source("hetionet-DaG", path=str(path), edges=added)


def _add_compound_genes(builder: GraphBuilder, path: Path) -> None:
    table = read_table(path, ["drugbank_id", "entrez_gene_id"])
    added = skipped = 0
    for drug, gene in zip(table.column("drugbank_id").to_pylist(), table.column("entrez_gene_id").to_pylist()):
        ok = builder.add_edge(f"Compound::{drug}", "binds", f"Gene::{gene}", "hetionet-CbG")
        added, skipped = added + ok, skipped + (not ok)
    builder.record_source("hetionet-CbG", path=str(path), edges=added, skipped_unnamed=skipped)


def _add_indications(builder: GraphBuilder, path: Path) -> None:
    table = read_table(path, ["doid_id", "drugbank_id", "disease", "drug", "category"])
    added = 0
    for doid, drug_id, disease, drug, category in zip(*(table.column(c).to_pylist() for c in
                                                       ("doid_id", "drugbank_id", "disease", "drug", "category"))):
        builder.add_node(f"Disease::{doid}", disease, "disease")
        builder.add_node(f"Compound::{drug_id}", drug, "chemical")
        added += builder.add_edge(f"Compound::{drug_id}", _INDICATION_RELATIONS[category], f"Disease::{doid}",
                                  "pharmacotherapydb")
    builder.record_source("pharmacotherapydb", path=str(path), edges=added)


def _add_disgenet(builder: GraphBuilder, names: _NameIndex, path: Path) -> None:
    table = read_table(path, ["geneId", "geneSymbol", "diseaseId", "diseaseName"])
    added = 0
    for gene_id, symbol, disease_id, disease in zip(*(table.column(c).to_pylist() for c in
                                                     ("geneId", "geneSymbol", "diseaseId", "diseaseName"))):
        builder.add_node(f"Gene::{gene_id}", symbol, "gene")
        node = names.add_or_merge(f"Disease::{disease_id.upper()}", disease, "disease")
        added += builder.add_edge(node, "associates", f"Gene::{gene_id}", "disgenet")
    builder.record_source("disgenet", path=str(path), edges=added)


def _add_sider(builder: GraphBuilder, indications: Path, side_effects: Path) -> None:
    mapping = read_table(indications, ["drugbank_id", "drugbank_name", "stitch_id_flat"])
    stitch_to_drug = {}
    for drug_id, name, stitch in zip(*(mapping.column(c).to_pylist() for c in
                                       ("drugbank_id", "drugbank_name", "stitch_id_flat"))):
        builder.add_node(f"Compound::{drug_id}", name, "chemical")
        stitch_to_drug[stitch] = f"Compound::{drug_id}"
    table = read_table(side_effects, [], delimiter="\t", header=False)
    if table.num_columns != 6:
        raise DataFormatError(f"{side_effects}: expected SIDER's 6 columns (STITCH flat, STITCH stereo, "
                              f"UMLS label, MedDRA type, UMLS MedDRA, name); found {table.num_columns}")
    added = 0
    for stitch, umls, name in zip(table.column(0).to_pylist(), table.column(4).to_pylist(), table.column(5).to_pylist()):
        drug = stitch_to_drug.get(stitch)
        if drug is not None:
            builder.add_node(f"Side Effect::{umls}", name, "side_effect")
            added += builder.add_edge(drug, "causes", f"Side Effect::{umls}", "sider")
    builder.record_source("sider", indications=str(indications), side_effects=str(side_effects), edges=added)

