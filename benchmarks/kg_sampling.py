"""Benchmark: embedded knowledge-graph load time and topic-sampling throughput per sampler (one core).

    python benchmarks/kg_sampling.py [--rows 1000000] [--batch 4096]

Rows are drawn in batches as Ray Data hands them to the prompt stage. Each figure is the best of 3 runs.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")  # one core, as the issue asks

import numpy as np  # noqa: E402

from clingen.kg.graph import KnowledgeGraph  # noqa: E402
from clingen.kg.sampling import (EntitySampler, NegativePairSampler, NeighbourhoodSampler,  # noqa: E402
                                 RelationPairSampler)
from clingen.kg.source import DEFAULT_KG_DIR  # noqa: E402


def best_of(fn, repeats: int = 3) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)


def throughput(draw, rows: int, batch: int) -> float:
    def run():
        for start in range(0, rows, batch):
            draw(np.arange(start, min(start + batch, rows)))
    return rows / best_of(run)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=4096)
    args = parser.parse_args()

    load_s = best_of(lambda: KnowledgeGraph.load(DEFAULT_KG_DIR).labels)
    kg = KnowledgeGraph.load(DEFAULT_KG_DIR)
    print(f"graph load (nodes+edges parquet -> igraph, labels cached): {load_s * 1000:.0f} ms "
          f"({kg.graph.vcount()} entities, {kg.graph.ecount()} relations)")

    cases = {
        f"entities/{mode}": EntitySampler(kg, ["disease"], mode, seed=0).topics
        for mode in ("uniform", "degree", "coverage")
    }
    positive = RelationPairSampler(kg, "associates", "disease", "gene", seed=0)
    negative = NegativePairSampler(kg, "associates", "disease", "gene", seed=0)
    cases["relation pairs"] = lambda rows: kg.labels[np.concatenate(positive.sample(rows))]
    cases["negative pairs"] = lambda rows: kg.labels[np.concatenate(negative.sample(rows))]
    for name, draw in cases.items():
        print(f"{name:<22} {throughput(draw, args.rows, args.batch):>14,.0f} topics/s")

    # Degree-weighted seeds are the worst case for expansion: they are the best-connected diseases.
    seeds = EntitySampler(kg, ["disease"], "degree", seed=0)
    neighbours = NeighbourhoodSampler(kg, hops=1, entity_types=["gene", "chemical", "symptom"], limit=3, seed=0)

    def expand(rows):
        for picked in neighbours.sample_batch(seeds.sample(rows), rows):
            kg.labels[picked]
    rows = min(args.rows, 200_000)
    print(f"{'neighbourhood (1 hop)':<22} {throughput(expand, rows, args.batch):>14,.0f} topics/s "
          f"(degree-weighted diseases, each with up to 3 related genes/drugs/symptoms)")


if __name__ == "__main__":
    main()
