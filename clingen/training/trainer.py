"""Training stage (datasets -> training): fine-tunes an encoder on the few real examples and then on the
synthetic set with Ray Train's TorchTrainer; data reaches the workers as Ray Data shards, a checkpoint is
reported every epoch, and a re-run with the same run name resumes from the latest one."""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import tempfile
from pathlib import Path

from clingen.training.labels import label_space
from clingen.training.model_io import load_encoder_for_training


def train_loop_per_worker(loop_config: dict) -> None:
    """Runs on every worker: the stages in `plan` in order, one checkpoint per epoch from rank 0."""
    import ray.train
    import torch

    from clingen.tasks.spec import TaskSpec
    spec = TaskSpec.model_validate_json(loop_config["spec_json"])
    torch.manual_seed(loop_config["seed"])
    torch.set_num_threads(loop_config["threads"])
    model, tokenizer = load_encoder_for_training(loop_config["encoder"], label_space(spec),
                                                 loop_config["trust_remote_code"])
    model = ray.train.torch.prepare_model(model)
    optimizer = torch.optim.AdamW(model.parameters(), lr=loop_config["learning_rate"],
                                  weight_decay=loop_config["weight_decay"])
    start_stage, start_epoch, start_steps = _restore(ray.train.get_checkpoint(), model, optimizer,
                                                     loop_config.get("run_folder"))
    plan = loop_config["plan"]
    for stage_index in range(start_stage, len(plan)):
        stage = plan[stage_index]
        shard = ray.train.get_dataset_shard(stage["dataset"])
        first = start_epoch if stage_index == start_stage else 0
        steps_done = start_steps if stage_index == start_stage else 0
        # A fixed budget runs passes until it is spent (the planned epochs are an estimate: an equal split
        # across workers may drop a few rows); otherwise the planned epochs.
        epochs = itertools.count(first) if stage.get("total_steps") is not None else range(first, stage["epochs"])
        for epoch in epochs:
            limit = _step_limit(stage, steps_done, loop_config["max_steps"])
            if limit == 0:
                break
            on_step = _progress_poster(loop_config.get("progress"), stage, stage_index, len(plan), epoch, steps_done)
            metrics = _train_epoch(model, optimizer, shard, loop_config, tokenizer.pad_token_id, limit, on_step)
            if metrics["steps"] == 0:  # an empty shard: no pass will ever take a step
                break
            steps_done += metrics["steps"]
            metrics.update(stage=stage["dataset"], stage_index=stage_index, epoch=epoch, stage_steps=steps_done,
                           resumed_from=f"{start_stage}:{start_epoch}")
            _report(metrics, model, optimizer, tokenizer, stage_index, epoch + 1, steps_done)


def _step_limit(stage: dict, steps_done: int, max_steps: int | None) -> int | None:
    """Steps the next epoch of a stage may take: what is left of a fixed budget (total_steps), else the
    per-epoch cap max_steps (None: the whole pass)."""
    if stage.get("total_steps") is not None:
        return max(0, stage["total_steps"] - steps_done)
    return max_steps


def _progress_poster(actor, stage: dict, stage_index: int, stages: int, epoch: int, steps_before: int):
    """on_step(steps, mean_loss) for rank 0 that posts a progress record (progress.TrainingProgress) without
    waiting for it; None on the other ranks or without a progress actor."""
    import ray.train
    if actor is None or ray.train.get_context().get_world_rank() != 0:
        return None

    def on_step(steps: int, mean_loss: float) -> None:
        actor.post.remote({"stage": stage["dataset"], "stage_index": stage_index, "stages": stages, "epoch": epoch,
                           "epochs": stage["epochs"], "stage_steps": steps_before + steps,
                           "total_steps": stage.get("total_steps"), "loss": mean_loss})
    return on_step


def _train_epoch(model, optimizer, shard, loop_config: dict, pad_token_id: int, limit: int | None,
                 on_step=None) -> dict:
    import time

    import ray.train
    import torch

    from clingen.training.features import collate
    device = ray.train.torch.get_device()
    autocast = (torch.autocast("cuda", dtype=torch.bfloat16) if loop_config["use_gpu"] and
                loop_config["mixed_precision"] else _NoAutocast())
    model.train()
    losses, samples, started = [], 0, None
    batches = shard.iter_batches(batch_size=loop_config["batch_size"], batch_format="numpy",
                                 local_shuffle_buffer_size=256, local_shuffle_seed=loop_config["seed"])
    for step, batch in enumerate(batches):
        if limit is not None and step >= limit:
            break
        # Throughput from the first batch on: the dataset's start-up (featurisation) is not training speed.
        started = started or time.perf_counter()
        inputs = {k: v.to(device) for k, v in collate(batch, pad_token_id).items()}
        with autocast:
            loss = model(**inputs).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append(float(loss.detach()))
        samples += int(inputs["input_ids"].shape[0])
        if on_step is not None:
            on_step(len(losses), sum(losses) / len(losses))
    seconds = time.perf_counter() - started if started else 0.0
    return {"loss": sum(losses) / max(1, len(losses)), "steps": len(losses), "samples": samples,
            "samples_per_s": samples / max(seconds, 1e-9)}


class _NoAutocast:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def _report(metrics: dict, model, optimizer, tokenizer, stage_index: int, epochs_done: int, stage_steps: int) -> None:
    """Rank 0 writes an HF-format checkpoint plus optimizer state and progress; every rank reports."""
    import ray.train
    import torch
    if ray.train.get_context().get_world_rank() != 0:
        ray.train.report(metrics)
        return
    with tempfile.TemporaryDirectory() as folder:
        unwrapped = model.module if hasattr(model, "module") else model
        unwrapped.save_pretrained(folder, safe_serialization=True)
        tokenizer.save_pretrained(folder)
        torch.save(optimizer.state_dict(), os.path.join(folder, "optimizer.pt"))
        Path(folder, "progress.json").write_text(json.dumps({"stage_index": stage_index, "epochs_done": epochs_done,
                                                             "stage_steps": stage_steps}))
        ray.train.report(metrics, checkpoint=ray.train.Checkpoint.from_directory(folder))


def _restore(checkpoint, model, optimizer, run_folder: str | None = None) -> tuple[int, int, int]:
    """(stage index, epoch, steps the stage has taken) to start from: (0, 0, 0) for a fresh run, else just
    after the newest checkpoint: the one Ray Train registered, or a newer whole one in `run_folder` (a run
    killed after writing a checkpoint but before registering it would otherwise repeat that epoch)."""
    with contextlib.ExitStack() as stack:
        registered = [stack.enter_context(checkpoint.as_directory())] if checkpoint is not None else []
        folder = newest_checkpoint([*registered, *_checkpoint_folders(run_folder)])
        if folder is None:
            return 0, 0, 0
        import torch
        from safetensors.torch import load_file
        state = load_file(os.path.join(folder, "model.safetensors"))
        unwrapped = model.module if hasattr(model, "module") else model
        unwrapped.load_state_dict(state, strict=False)  # tied weights are saved once
        optimizer.load_state_dict(torch.load(os.path.join(folder, "optimizer.pt"), weights_only=True))
        progress = checkpoint_progress(folder)
    return progress["stage_index"], progress["epochs_done"], progress.get("stage_steps", 0)


CHECKPOINT_FILES = ("progress.json", "model.safetensors", "optimizer.pt")


def checkpoint_progress(folder: str) -> dict | None:
    """The progress a checkpoint folder records, or None when it is not whole (a file missing, empty, or a
    safetensors file whose header and size disagree: a copy cut short)."""
    try:
        if any(os.path.getsize(os.path.join(folder, name)) == 0 for name in CHECKPOINT_FILES):
            return None
        with open(os.path.join(folder, "model.safetensors"), "rb") as stream:
            header = int.from_bytes(stream.read(8), "little")
            offsets = json.loads(stream.read(header))
        end = max((t["data_offsets"][1] for k, t in offsets.items() if k != "__metadata__"), default=0)
        if os.path.getsize(os.path.join(folder, "model.safetensors")) != 8 + header + end:
            return None
        return json.loads(Path(folder, "progress.json").read_text())
    except (OSError, ValueError, KeyError, TypeError):
        return None


def newest_checkpoint(folders: list[str]) -> str | None:
    """The whole checkpoint folder furthest into training (stage, then epochs, then steps), or None."""
    ranked = [((p["stage_index"], p["epochs_done"], p.get("stage_steps", 0)), folder)
              for folder in folders if (p := checkpoint_progress(folder)) is not None]
    return max(ranked)[1] if ranked else None


def _checkpoint_folders(run_folder: str | None) -> list[str]:
    if not run_folder or not os.path.isdir(run_folder):
        return []
    return [str(path) for path in Path(run_folder).glob("checkpoint_*") if path.is_dir()]
