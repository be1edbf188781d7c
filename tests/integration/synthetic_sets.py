"""Small synthetic sets for training and serving tests, written in the layout `clingen generate` produces
(so they go through the same readers), from templates over knowledge-graph names."""

from __future__ import annotations

import numpy as np

from clingen.config import KGConfig, load_config
from clingen.datasets.records import Provenance, RelationExample, Span, ner_example_from_spans, schema_for
from clingen.generation.job import RunCounters
from clingen.kg.source import load_graph
from clingen.runfolder.manifest import build_manifest
from clingen.runfolder.store import OutputStore
from clingen.tasks.registry import get_task

NER_TEMPLATES = ["Patients with {d} often report {s}.", "{D} was diagnosed in three siblings.",
                 "A history of {d} increases the risk of stroke.", "We describe a case of {d} in a child."]
RE_POSITIVE = ["{g} variants are associated with {d} risk.", "Mutations in {g} cause {d}."]
RE_NEGATIVE = ["No association between {g} and {d} was found.", "{g} polymorphisms were not linked to {d}."]


def _names(entity_type: str, n: int, seed: int) -> list[str]:
    kg = load_graph(KGConfig())
    vertices = kg.vertices_of_type(entity_type)
    picks = np.random.default_rng(seed).choice(vertices, size=n, replace=False)
    return [kg.labels[v] for v in picks]


def ner_records(n: int, seed: int = 0) -> list:
    diseases, symptoms = _names("disease", n, seed), _names("symptom", n, seed + 1)
    records = []
    for i, (disease, symptom) in enumerate(zip(diseases, symptoms)):
        template = NER_TEMPLATES[i % len(NER_TEMPLATES)]
        text = template.format(d=disease, D=disease[0].upper() + disease[1:], s=symptom)
        start = text.lower().index(disease.lower())
        span = Span(start, start + len(disease), "Disease", text[start:start + len(disease)])
        records.append(ner_example_from_spans(f"ncbi-disease-{i:08d}", text, [span],
                                              Provenance(task="ncbi-disease", row_id=i, topic=disease)))
    return records


def relation_records(n: int, seed: int = 0) -> list:
    genes, diseases = _names("gene", n, seed), _names("disease", n, seed + 2)
    records = []
    for i, (gene, disease) in enumerate(zip(genes, diseases)):
        positive = i % 2 == 0
        template = (RE_POSITIVE if positive else RE_NEGATIVE)[(i // 2) % 2]
        records.append(RelationExample(f"gad-{i:08d}", template.format(g=gene, d=disease),
                                       "Has_relation" if positive else "No_relation", gene, disease, "gene",
                                       "disease", Provenance(task="gad", row_id=i)))
    return records


def write_generation_output(out: str, task: str, records: list, rejected_rows: int = 0,
                            failures: list[dict] | None = None) -> None:
    """A finished `clingen generate` folder holding `records` (shards, markers and a manifest), after them
    `rejected_rows` rows that kept no example (counted as too_short), and `failures` as its failure rows
    (store.FAILURE_SCHEMA dicts; none by default)."""
    import pyarrow as pa
    spec = get_task(task)
    rows = len(records) + rejected_rows
    config = load_config(overrides=[f"task={task}", f"generation.n={rows}", f"generation.out={out}"])
    store = OutputStore(out)
    table = pa.Table.from_pylist([r.to_row() for r in records], schema=schema_for(spec.family))
    store.commit(0, table, failures or [], list(range(rows)), 0, 0, rejected_rows={"too_short": rejected_rows})
    run = RunCounters(rows=rows, examples=len(records))
    store.write_manifest(build_manifest(config, spec, store.scan(), run, "templates", 0.0, None))
