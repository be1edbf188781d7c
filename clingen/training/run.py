"""Training stage entry (datasets -> training -> serving): builds the Ray datasets, runs the TorchTrainer, and
saves the final model in HF format with the model card that evaluation and serving read."""

from __future__ import annotations

import contextlib
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from clingen import __version__
from clingen._batches import rows_of
from clingen._imports import require
from clingen._outputs import check_output_folder
from clingen.config import OFFLINE_ENCODER, ClinGenConfig
from clingen.datasets.readers import training_fewshot_records
from clingen.datasets.records import record_type_for
from clingen.errors import ConfigError
from clingen.runfolder.store import OutputStore
from clingen.tasks.registry import get_task
from clingen.tasks.spec import TaskSpec
from clingen.training.card import ModelCard
from clingen.training.labels import label_space
from clingen.training.model_readme import model_readme
from clingen.training.progress import ProgressPoller, start_progress_actor


@dataclass
class TrainingReport:
    model_dir: Path
    card: ModelCard


def resolve_encoder(source: str) -> str:
    if source == OFFLINE_ENCODER:
        from clingen.training.model_io import offline_encoder_dir
        return offline_encoder_dir()
    return source


class FeaturizeRecords:
    """Ray Data stage: ClinGen record rows -> token ids and labels, tokenised in the workers."""

    def __init__(self, spec_json: str, encoder: str, max_length: int, trust_remote_code: bool):
        from transformers import AutoTokenizer

        from clingen.training.features import Featurizer
        self.spec = TaskSpec.model_validate_json(spec_json)
        tokenizer = AutoTokenizer.from_pretrained(encoder, trust_remote_code=trust_remote_code)
        self.featurizer = Featurizer(self.spec, tokenizer, max_length)
        self.record_type = record_type_for(self.spec.family)

    def __call__(self, batch: dict) -> dict:
        records = [self.record_type.from_row(row) for row in rows_of(batch)]
        encoded = self.featurizer.encode(records)
        encoded.pop("truncated", None)
        # Arrow list columns, whatever the row lengths: numpy would make a fixed-shape tensor column of a
        # block whose rows happen to be equally long, and Ray Data cannot join that with list blocks.
        return pa.table({name: pa.array(values) for name, values in encoded.items()})


def training_seed(config: ClinGenConfig) -> int:
    """Initialisation and shuffling seed; the few-shot examples stay those of the top-level seed, so runs
    over several training seeds compare the same real examples."""
    return config.seed if config.training.seed is None else config.training.seed


def _check_encoder(encoder: str, trust_remote_code: bool, spec: TaskSpec) -> None:
    """Load the encoder's config (and, for a word-tagging task, its tokenizer) in the driver: a wrong path or id,
    or a tokenizer whose pieces cannot be aligned to words, fails here with its name, before Ray starts,
    instead of inside every data and training worker."""
    from transformers import AutoConfig, AutoTokenizer
    try:
        AutoConfig.from_pretrained(encoder, trust_remote_code=trust_remote_code)
        if label_space(spec).kind == "token":
            from clingen.training.alignment import require_word_alignment
            tokenizer = AutoTokenizer.from_pretrained(encoder, trust_remote_code=trust_remote_code)
            require_word_alignment(tokenizer, f"task {spec.name} with training.encoder {encoder!r}")
    except (OSError, ValueError) as exc:
        if isinstance(exc, ConfigError):
            raise
        raise ConfigError(f"training.encoder {encoder!r} cannot be loaded ({type(exc).__name__}: {exc}); expected "
                          f"a local HF model folder, a reachable hub id, or {OFFLINE_ENCODER!r}") from None


def _check_synthetic_set(train_dir: str, spec: TaskSpec) -> None:
    """Before Ray starts: --train must be a generation run of this task that kept at least one example."""
    store = OutputStore.open_run(train_dir)
    manifest = store.read_manifest()
    if manifest.task != spec.name:
        raise ConfigError(f"--train {train_dir} is a run of task {manifest.task!r}; this training is for task "
                          f"{spec.name!r} (set task, or give a run of {spec.name!r})")
    ids = store.read_examples(["id"])
    if ids is None or ids.num_rows == 0:
        counts = manifest.counts
        raise ConfigError(f"--train {train_dir} has no examples ({counts.rows_done} row(s) done, "
                          f"{counts.rejected_rows} rejected; see its failures/); nothing to train on")


def _fewshot_records(config: ClinGenConfig, spec: TaskSpec, fewshot: Path | None) -> list | None:
    """The few-shot stage's real examples (None when that stage does not run), read in the driver before Ray
    starts, so a split with an unknown label or format fails at once with its file and line."""
    if not config.training.fewshot_stage or fewshot is None:
        return None
    return training_fewshot_records(spec, fewshot, config.training.fewshot_per_class, config.seed)


def _datasets(config: ClinGenConfig, spec: TaskSpec, encoder: str, train_dir: str | None,
              fewshot: Path | None, records: list | None) -> tuple[dict, list[dict], dict]:
    """Ray datasets per stage, the stage plan, and what the training data was (for the model card)."""
    ray = require("ray")
    training = config.training
    featurize = dict(fn_constructor_args=(spec.model_dump_json(), encoder, training.max_length,
                                          training.trust_remote_code),
                     compute=ray.data.ActorPoolStrategy(size=1), batch_size=256)
    datasets, plan, sources = {}, [], {}
    if records is not None:
        # Few-shot sampling returns examples grouped by class: shuffle globally, or the last steps see
        # one class only (and, split across workers, each worker another class).
        datasets["fewshot"] = _featurized(ray.data.from_items([r.to_row() for r in records]), config, featurize)
        plan.append({"dataset": "fewshot", "epochs": training.fewshot_epochs})
        sources["fewshot"] = {"path": str(fewshot), "examples": len(records)}
    if training.synthetic_stage and train_dir is not None:
        store = OutputStore.open_run(train_dir)
        manifest = store.read_manifest()
        ids = store.read_examples(["id"])
        count = ids.num_rows if ids is not None else 0
        stage = synthetic_stage_plan(count, training.epochs, training.total_steps, training.batch_size,
                                     training.num_workers)
        if stage["repeats"] > 1:
            # A small set, cycled within each pass so that a pass is worth a checkpoint: read once and repeated
            # in the driver (a union of many reads costs a read pipeline per copy).
            synthetic = ray.data.from_arrow(pa.concat_tables([store.read_examples()] * stage["repeats"]))
        else:
            synthetic = ray.data.read_parquet(f"{train_dir.rstrip('/')}/data")
        datasets["synthetic"] = _featurized(synthetic, config, featurize)
        plan.append(stage)
        sources["synthetic"] = {"path": train_dir, "fingerprint": manifest.fingerprint, "examples": count}
    if not plan:
        raise ConfigError("nothing to train on: give --train (a synthetic run) and/or --fewshot (a real split), "
                          "and keep training.synthetic_stage / training.fewshot_stage on for them")
    return datasets, plan, sources


# A cycled set is repeated within a pass until a pass holds this many steps: one checkpoint per pass, not per
# handful of steps (a MiniLM checkpoint with optimizer state is ~270 MB).
MIN_STEPS_PER_PASS = 50


def synthetic_stage_plan(examples: int, epochs: int, total_steps: int | None, batch_size: int,
                         num_workers: int) -> dict:
    """The synthetic stage of the training plan: {"dataset", "epochs"} and, with a fixed step budget, also
    "total_steps" (the stage stops there), "repeats" (copies of the set in one pass) and "steps_per_pass" (per
    worker, each worker holding an equal share). Raises ConfigError for a set smaller than the worker count."""
    if examples < num_workers:
        raise ConfigError(f"the synthetic set has {examples} example(s), fewer than training.num_workers="
                          f"{num_workers}; every worker needs at least one (generate more rows or use fewer workers)")
    if total_steps is None:
        return {"dataset": "synthetic", "epochs": epochs, "repeats": 1}
    wanted = min(total_steps, MIN_STEPS_PER_PASS)
    repeats = max(1, -(-wanted * batch_size * num_workers // examples))
    if _steps_per_pass(examples, 1, batch_size, num_workers) >= wanted:
        repeats = 1
    per_pass = _steps_per_pass(examples, repeats, batch_size, num_workers)
    return {"dataset": "synthetic", "epochs": -(-total_steps // per_pass), "total_steps": total_steps,
            "repeats": repeats, "steps_per_pass": per_pass}


def _steps_per_pass(examples: int, repeats: int, batch_size: int, num_workers: int) -> int:
    """Steps each worker takes over its equal share of `repeats` copies of the set (the last batch partial)."""
    return -(-(examples * repeats // num_workers) // batch_size)


def _featurized(dataset, config: ClinGenConfig, featurize: dict):
    """Shuffled globally, then featurised; materialised once when configured, so that every epoch reads the
    features from the object store instead of re-running the shuffle and the tokenizer actors."""
    dataset = dataset.random_shuffle(seed=training_seed(config)).map_batches(FeaturizeRecords, **featurize)
    return dataset.materialize() if config.training.materialize else dataset


def run_training(config: ClinGenConfig, train_dir: str | None, fewshot: Path | None, out: Path,
                 quiet: bool = False, on_progress: Callable[[dict], None] | None = None) -> TrainingReport:
    """Fine-tune, then write `out` (HF model + tokenizer + model_card.json + README.md). `quiet`: the workers'
    output stays in Ray's log files; `on_progress` is called in a driver thread with each new progress record of
    rank 0 (progress.TrainingProgress: stage, epoch, steps, loss), about once a second.

    Raises ConfigError (bad settings, nothing to train on, no checkpoint produced) and DataFormatError (a
    --train folder that is not a `clingen generate` output of this task), before Ray starts where it can."""
    from clingen.cluster import check_shared_paths, ensure_ray
    spec = get_task(config.task, config.task_file)
    fewshot_records = _fewshot_records(config, spec, fewshot)
    encoder = resolve_encoder(config.training.encoder)
    _check_encoder(encoder, config.training.trust_remote_code, spec)
    if train_dir is not None and config.training.synthetic_stage:
        _check_synthetic_set(train_dir, spec)
    check_output_folder(out, "model_card.json", "clingen train")
    ensure_ray(config, quiet=quiet)
    check_shared_paths(config, **{"--train": train_dir, "training.storage_path": config.training.storage_path})
    datasets, plan, sources = _datasets(config, spec, encoder, train_dir, fewshot, fewshot_records)
    run_name = config.training.run_name or f"{spec.name}-{config.config_hash(('task', 'seed', 'training'))}"
    loop_config = _loop_config(config, spec, encoder, plan, run_name, with_progress=on_progress is not None)
    started = time.time()
    trainer = _trainer(config, loop_config, datasets, run_name)
    with ProgressPoller(loop_config["progress"], on_progress) if on_progress else contextlib.nullcontext():
        result = trainer.fit()
    if result.checkpoint is None:
        raise ConfigError(f"training run {run_name} produced no checkpoint (no stage ran an epoch)")
    card = ModelCard.from_spec(spec, config.training.max_length, encoder=config.training.encoder,
                               training_data=sources, plan=plan, run_name=run_name, final_metrics=result.metrics,
                               train_wall_s=round(time.time() - started, 1), config=config.model_dump(mode="json"),
                               clingen_version=__version__)
    _save(result.checkpoint, card, out)
    return TrainingReport(out, card)


def _loop_config(config: ClinGenConfig, spec: TaskSpec, encoder: str, plan: list[dict], run_name: str,
                 with_progress: bool) -> dict:
    """What every worker's train_loop_per_worker reads."""
    training = config.training
    return {"spec_json": spec.model_dump_json(), "encoder": encoder, "seed": training_seed(config), "plan": plan,
            "threads": training.cpus_per_worker, "trust_remote_code": training.trust_remote_code,
            "learning_rate": training.learning_rate, "weight_decay": training.weight_decay,
            "batch_size": training.batch_size, "max_steps": training.max_steps,
            "use_gpu": training.use_gpu, "mixed_precision": training.mixed_precision,
            # Local storage only: the workers look there for a checkpoint written but not registered.
            "run_folder": None if "://" in training.storage_path else
            str(Path(_storage(training.storage_path)) / run_name),
            "progress": start_progress_actor() if with_progress else None}


def _trainer(config: ClinGenConfig, loop_config: dict, datasets: dict, run_name: str):
    train = require("ray.train")
    torch_train = require("ray.train.torch")
    training = config.training
    return torch_train.TorchTrainer(
        _loop, train_loop_config=loop_config,
        scaling_config=train.ScalingConfig(num_workers=training.num_workers, use_gpu=training.use_gpu,
                                           resources_per_worker={"CPU": training.cpus_per_worker,
                                                                 **training.worker_resources}),
        run_config=train.RunConfig(name=run_name, storage_path=_storage(training.storage_path),
                                   checkpoint_config=train.CheckpointConfig(num_to_keep=training.keep_checkpoints)),
        datasets=datasets)


def _loop(loop_config: dict) -> None:
    from clingen.training.trainer import train_loop_per_worker
    train_loop_per_worker(loop_config)


def _storage(path: str) -> str:
    return path if "://" in path else str(Path(path).resolve())


def _save(checkpoint, card: ModelCard, out: Path) -> None:
    """Copy the final checkpoint's HF files to `out` and add the model cards (model_card.json, which prediction
    reads, and README.md for people and the Hugging Face Hub)."""
    out = Path(out)
    if out.exists():  # checked before training: new, empty, or a previous `clingen train` output
        shutil.rmtree(out)
    with checkpoint.as_directory() as folder:
        shutil.copytree(folder, out, ignore=shutil.ignore_patterns("optimizer.pt", "progress.json"))
    card.write(out)
    (out / "README.md").write_text(model_readme(card))
