"""`clingen kg build|stats|sample`: the knowledge-graph stage's commands."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from clingen.cli.common import add_config_options, resolve_config
from clingen.errors import ClinGenError


def add_parser(sub: argparse._SubParsersAction) -> None:
    kg = sub.add_parser("kg", help="build, inspect and sample the knowledge graph")
    kg_sub = kg.add_subparsers(dest="kg_command", required=True)

    build = kg_sub.add_parser("build", help="convert sources into a graph directory")
    build.add_argument("--source", required=True, choices=["open-sources", "hetionet", "ibkh", "triples", "directory"])
    build.add_argument("--path", required=True, type=Path, help="source folder or file")
    build.add_argument("--out", required=True, type=Path, help="output directory")
    build.add_argument("--include-disgenet", action="store_true", help="open-sources: add DisGeNET (ODbL)")
    build.add_argument("--include-sider", action="store_true", help="open-sources: add SIDER (non-commercial)")
    build.set_defaults(handler=_kg_build)

    for name, handler, text in (("stats", _kg_stats, "print entity and relation counts"),
                                ("sample", _kg_sample, "sample topics to stdout or a file")):
        cmd = kg_sub.add_parser(name, help=text)
        add_config_options(cmd)
        cmd.add_argument("--kg-source", help="kg.source override (default: the embedded graph)")
        cmd.add_argument("--kg-path", type=Path, help="kg.path override")
        cmd.set_defaults(handler=handler)
        if name == "sample":
            cmd.add_argument("--type", dest="entity_types", action="append", help="entity type (repeatable)")
            cmd.add_argument("--relation", help="sample (head, tail) pairs of this relation instead")
            cmd.add_argument("--head-type", help="relation head type")
            cmd.add_argument("--tail-type", help="relation tail type")
            cmd.add_argument("--negative", action="store_true", help="pairs of the types NOT so related")
            cmd.add_argument("--mode", default="coverage", choices=["uniform", "degree", "coverage"])
            cmd.add_argument("--neighbours", type=int, default=0, help="related entities to list per topic "
                             "(tab-separated after it); topics are then drawn among entities that have relations")
            cmd.add_argument("--hops", type=int, default=1, help="neighbourhood radius")
            cmd.add_argument("--n", type=int, default=10, help="how many topics")
            cmd.add_argument("--seed", type=int, default=0)
            cmd.add_argument("--out", type=Path, help="write to this file instead of stdout")


def _kg_graph(args: argparse.Namespace):
    from clingen.kg.source import load_graph
    config = resolve_config(args, **{"kg.source": args.kg_source, "kg.path": args.kg_path})
    return load_graph(config.kg)


def _kg_build(args: argparse.Namespace) -> int:
    from clingen.config import KGConfig
    from clingen.kg.source import load_graph
    started = time.perf_counter()
    graph = load_graph(KGConfig(source=args.source, path=args.path, include_disgenet=args.include_disgenet,
                                include_sider=args.include_sider))
    graph.save(args.out)
    print(f"wrote {graph.graph.vcount()} entities and {graph.graph.ecount()} relations to {args.out} "
          f"in {time.perf_counter() - started:.1f}s")
    return 0


def _kg_stats(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    graph = _kg_graph(args)
    loaded = time.perf_counter() - started
    stats = graph.stats()
    print(f"{stats['vertices']} entities, {stats['edges']} relations (loaded in {loaded:.2f}s)\n")
    print("entity type                count")
    for name, count in sorted(stats["entity_types"].items(), key=lambda kv: -kv[1]):
        print(f"  {name:<24} {count:>7}")
    print("\nhead type            relation         tail type              count")
    for rt in stats["relation_types"]:
        print(f"  {rt['head_type']:<18} {rt['relation']:<16} {rt['tail_type']:<20} {rt['count']:>7}")
    return 0


def _kg_sample(args: argparse.Namespace) -> int:
    import numpy as np

    from clingen.kg import sampling
    graph = _kg_graph(args)
    rows = np.arange(args.n)
    if args.relation:
        cls = sampling.NegativePairSampler if args.negative else sampling.RelationPairSampler
        heads, tails = cls(graph, args.relation, args.head_type, args.tail_type, seed=args.seed).sample(rows)
        lines = [f"{graph.labels[h]}\t{graph.labels[t]}" for h, t in zip(heads, tails)]
    else:
        if not args.entity_types:
            raise ClinGenError("kg sample needs --type (entity topics) or --relation (pairs); "
                               f"entity types: {sorted(graph.entity_types())}")
        # Asking for neighbours asks for topics that have some: most diseases of the embedded graph have none.
        sampler = sampling.EntitySampler(graph, args.entity_types, args.mode, seed=args.seed,
                                         related_only=args.neighbours > 0)
        vertices = sampler.sample(rows)
        neighbours = sampling.NeighbourhoodSampler(graph, args.hops, None, args.neighbours, seed=args.seed)
        lines = []
        for row, vertex in zip(rows, vertices):
            related = neighbours.names(vertex, row) if args.neighbours else []
            lines.append("\t".join([graph.labels[vertex], *related]))
    text = "\n".join(lines) + "\n"
    if args.out:
        args.out.write_text(text)
        print(f"wrote {len(lines)} topics to {args.out}")
    else:
        sys.stdout.write(text)
    return 0
