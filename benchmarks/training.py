"""Benchmark: training throughput (samples/s) through Ray Train's TorchTrainer against a plain PyTorch loop
on the same model, data, batch size and threads, in one script; and the speed-up from 1 to 2 workers.

    python benchmarks/training.py [--gad ../shared/data/eval/gad/train.tsv] [--examples 1024] [--steps 40]

Both sides time steady-state steps (from the first batch on) of the offline MiniLM encoder on GAD.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

os.environ.setdefault("RAY_AUTH_MODE", "disabled")

from clingen.config import load_config  # noqa: E402
from clingen.datasets.readers import read_biobert_re  # noqa: E402
from clingen.tasks.registry import get_task  # noqa: E402


def plain_loop(records, batch_size: int, steps: int, max_length: int) -> float:
    """The same model, featurizer, collate and optimizer, without Ray: samples/s on one thread."""
    import torch

    from clingen.training.features import Featurizer, collate
    from clingen.training.labels import label_space
    from clingen.training.model_io import load_encoder_for_training, offline_encoder_dir
    torch.manual_seed(0)
    torch.set_num_threads(1)
    spec = get_task("gad")
    model, tokenizer = load_encoder_for_training(offline_encoder_dir(), label_space(spec))
    encoded = Featurizer(spec, tokenizer, max_length).encode(records)
    encoded.pop("truncated", None)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.01)
    model.train()
    started, samples = None, 0
    for step in range(steps):
        lo = (step * batch_size) % (len(records) - batch_size)
        batch = collate({k: v[lo:lo + batch_size] for k, v in encoded.items()}, tokenizer.pad_token_id)
        started = started or time.perf_counter()
        model(**batch).loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        samples += batch_size
    return samples / (time.perf_counter() - started)


def ray_train(train_dir: str, workers: int, batch_size: int, steps: int, max_length: int, storage: str) -> float:
    from clingen.training.run import run_training
    config = load_config(overrides=["task=gad", f"training.num_workers={workers}", "training.epochs=1",
                                    f"training.batch_size={batch_size}", f"training.max_steps={steps}",
                                    f"training.max_length={max_length}", f"training.storage_path={storage}",
                                    f"training.run_name=bench-{workers}", "training.learning_rate=1e-4"])
    report = run_training(config, train_dir, None, os.path.join(storage, f"model-{workers}"))
    return report.card.final_metrics["samples_per_s"] * workers  # rank 0's rate; workers run in lockstep


def write_synthetic(records, out: str) -> None:
    import pyarrow as pa

    from clingen.datasets.records import schema_for
    from clingen.generation.job import RunCounters
    from clingen.runfolder.manifest import build_manifest
    from clingen.runfolder.store import OutputStore
    store = OutputStore(out)
    store.commit(0, pa.Table.from_pylist([r.to_row() for r in records], schema=schema_for("relation")), [],
                 list(range(len(records))), 0, 0)
    config = load_config(overrides=["task=gad", f"generation.n={len(records)}"])
    store.write_manifest(build_manifest(config, get_task("gad"), store.scan(),
                                        RunCounters(rows=len(records), examples=len(records)), "real", 0.0, None))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gad", default="../shared/data/eval/gad/train.tsv")
    parser.add_argument("--examples", type=int, default=1024)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--max-length", type=int, default=64)
    args = parser.parse_args()
    records = read_biobert_re(args.gad)[: args.examples]
    work = tempfile.mkdtemp(prefix="clingen-train-bench-")
    write_synthetic(records, os.path.join(work, "data"))
    plain = plain_loop(records, args.batch_size, args.steps, args.max_length)
    print(f"plain PyTorch loop, 1 thread:      {plain:7.1f} samples/s")
    one = ray_train(os.path.join(work, "data"), 1, args.batch_size, args.steps, args.max_length, work)
    print(f"Ray Train, 1 worker x 1 CPU:       {one:7.1f} samples/s  (ratio to plain loop {one / plain:.2f})")
    two = ray_train(os.path.join(work, "data"), 2, args.batch_size, args.steps, args.max_length, work)
    print(f"Ray Train, 2 workers x 1 CPU:      {two:7.1f} samples/s  (speed-up 1 -> 2 workers {two / one:.2f})")


if __name__ == "__main__":
    main()
