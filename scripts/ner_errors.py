"""Error reading of an NER model on a real test split (issue 19, docs/results/evidence-cpu.md): exact matches,
boundary errors, predictions overlapping no gold mention (most frequent first), missed gold mentions, and how
many of those false positives hold a gene symbol of the embedded knowledge graph.
    .venv/bin/python scripts/ner_errors.py <model folder> <test split .tsv> [task]"""

import sys
from collections import Counter
from pathlib import Path

from clingen.config import ClinGenConfig
from clingen.datasets.readers import read_task_split
from clingen.kg.source import load_graph
from clingen.tasks.registry import get_task
from clingen.training.predict import Predictor


def spans(tokens: list[str], tags: list[str]) -> dict[tuple[int, int], str]:
    """(start, end) token positions -> mention text, from BIO tags (a stray I- opens a mention)."""
    out, current = {}, None
    for i, tag in enumerate([*tags, "O"]):
        if tag.startswith("B") or (tag.startswith("I") and current is None):
            if current is not None:
                out[(current, i)] = " ".join(tokens[current:i])
            current = i
        elif not tag.startswith("I") and current is not None:
            out[(current, i)] = " ".join(tokens[current:i])
            current = None
    return out


def main(model: str, test: str, task: str = "ncbi-disease") -> None:
    records = read_task_split(get_task(task), Path(test), "test")
    predicted = Predictor.load(Path(model)).predict_records(records)
    false_pos, missed, exact, boundary = Counter(), Counter(), 0, 0
    for record, tags in zip(records, predicted):
        gold, pred = spans(record.tokens, record.tags), spans(record.tokens, tags)
        for (a, b), text in pred.items():
            if (a, b) in gold:
                exact += 1
            elif any(a < d and b > c for c, d in gold):
                boundary += 1
            else:
                false_pos[text.lower()] += 1
        missed.update(text.lower() for key, text in gold.items() if key not in pred)
    genes = {name.casefold() for name in load_graph(ClinGenConfig().kg).names_of_type("gene")}
    with_gene = sum(n for text, n in false_pos.items() if any(word in genes for word in text.split()))
    print(f"exact {exact} | boundary errors {boundary} | overlapping no gold {sum(false_pos.values())} "
          f"({with_gene} hold a gene symbol) | missed {sum(missed.values())}")
    print("top false positives:", false_pos.most_common(25))
    print("top missed:", missed.most_common(15))


if __name__ == "__main__":
    main(*sys.argv[1:])
