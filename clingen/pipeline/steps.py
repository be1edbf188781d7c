"""The pipeline's steps (orchestration over every stage): what each step depends on, and one function per step
that calls the stage's library entry and returns the outputs later steps read."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from clingen.config import ClinGenConfig
from clingen.errors import ConfigError, StepFailed
from clingen.prompts.demos import SHIPPED_DEMOS
from clingen.tasks.registry import get_task
from clingen.tasks.spec import TaskSpec

logger = logging.getLogger("clingen.pipeline")

SHIPPED_TESTSETS = Path(__file__).resolve().parents[1] / "tasks" / "testsets"
MIN_PROPOSED_STYLES = 3


@dataclass
class StepContext:
    """What a step sees: the config with upstream outputs filled in, its own folder, and upstream outputs."""

    config: ClinGenConfig
    spec: TaskSpec
    folder: Path
    upstream: dict[str, dict]


def topic_entity_type(config: ClinGenConfig, spec: TaskSpec) -> str:
    if config.pipeline.topic_entity_type:
        return config.pipeline.topic_entity_type
    for label in spec.labels:
        if label.topics.entity_types:
            return label.topics.entity_types[0].replace("_", " ")
        if label.topics.head_type:
            return label.topics.head_type.replace("_", " ")
    return spec.domain


def real_test_split(config: ClinGenConfig, spec: TaskSpec) -> Path:
    """The configured real test split, else the one shipped with the task."""
    if config.pipeline.test_path is not None:
        if not config.pipeline.test_path.exists():
            raise ConfigError(f"pipeline.test_path {config.pipeline.test_path} does not exist; expected the "
                              f"task's real test split")
        return config.pipeline.test_path
    shipped = sorted(SHIPPED_TESTSETS.glob(f"{spec.name}.test.*"))
    if not shipped:
        raise ConfigError(f"task {spec.name} ships no test split; set pipeline.test_path to its real test split "
                          f"(shipped: {sorted(p.name.split('.test')[0] for p in SHIPPED_TESTSETS.glob('*.test.*'))})")
    return shipped[0]


def fewshot_split_path(config: ClinGenConfig, spec: TaskSpec) -> Path | None:
    """The real examples training's few-shot stage samples from: the configured split, else the task's shipped
    demonstration pool, else the prompts' pool (None: no few-shot stage)."""
    if config.pipeline.fewshot_path is not None:
        return config.pipeline.fewshot_path
    shipped = SHIPPED_DEMOS / f"{spec.name}.jsonl"
    return shipped if shipped.is_file() else config.prompts.fewshot_path


def training_fewshot_path(config: ClinGenConfig, spec: TaskSpec) -> Path | None:
    """The split the train step's few-shot stage samples from (None when that stage is off)."""
    return fewshot_split_path(config, spec) if config.training.fewshot_stage else None


def real_data_files(config: ClinGenConfig, spec: TaskSpec) -> dict[str, tuple[Path | None, str]]:
    """The real splits the configured steps will read ({what names it: (path or None, HoC split)}), so that
    they can all be read, and a bad one refused, before the first step starts."""
    steps = set(config.pipeline.steps)
    files: dict[str, tuple[Path | None, str]] = {}
    if "generate" in steps:
        files["prompts.fewshot_path"] = (config.prompts.fewshot_path, "train")
    if "train" in steps:
        files["the train step's few-shot split"] = (training_fewshot_path(config, spec), "train")
    if "filter" in steps:
        files["the filter step's few-shot split"] = (fewshot_split_path(config, spec), "train")
    if steps & {"quality", "evaluate"}:
        files["the test split"] = (real_test_split(config, spec), config.pipeline.test_split)
    return files


def run_styles(ctx: StepContext) -> dict:
    from clingen.generation.proposals import propose_styles
    from clingen.prompts.knowledge import write_list_file
    path = ctx.folder / "styles.txt"
    proposed = propose_styles(ctx.config, ctx.config.pipeline.n_styles, path)
    if len(proposed) >= MIN_PROPOSED_STYLES:
        return {"styles_file": str(path), "proposed": len(proposed), "builtin_added": 0}
    # Too few usable proposals (a small generator): top up with the task's built-in styles rather than
    # write every example in one or two styles; the file and the step record say so.
    added = [s for s in ctx.spec.styles if s.casefold() not in {p.casefold() for p in proposed}]
    write_list_file(path, proposed + added, f"{len(proposed)} styles proposed by {ctx.config.generator.model.source}"
                                            f", then {len(added)} built-in styles of {ctx.spec.name}; edit freely")
    return {"styles_file": str(path), "proposed": len(proposed), "builtin_added": len(added)}


def run_topics(ctx: StepContext) -> dict:
    from clingen.generation.proposals import propose_topics
    path, entity_type = ctx.folder / "topics.txt", topic_entity_type(ctx.config, ctx.spec)
    items = propose_topics(ctx.config, entity_type, ctx.config.pipeline.n_topics, path)
    if not items:
        raise StepFailed(f"the generator proposed no usable {entity_type} topics for {ctx.spec.name}; see {path}")
    return {"topics_file": str(path), "entity_type": entity_type, "count": len(items)}


def run_generate(ctx: StepContext) -> dict:
    from clingen.generation.job import run_generation
    report = run_generation(ctx.config)
    if not report.complete:
        raise StepFailed(f"generation in {ctx.folder} ended with rows the generator failed on; re-run the "
                         f"pipeline to retry them (finished shards are kept)")
    counts = report.manifest.counts
    if not counts.examples:
        raise StepFailed(f"generation in {ctx.folder} produced no examples from {counts.rows_done} rows; see "
                         f"{ctx.folder / 'failures'}")
    return {"data": str(ctx.folder), "examples": counts.examples, "rows": counts.rows_done,
            "parse_failures": counts.parse_failures_by_reason}


def run_quality(ctx: StepContext) -> dict:
    from clingen.quality.report import build_quality_report
    from clingen.quality.settings import QualitySettings
    settings = QualitySettings(seed=ctx.config.seed, real_split=ctx.config.pipeline.test_split)
    report = build_quality_report({"synthetic": ctx.upstream["generate"]["data"]},
                                  real_test_split(ctx.config, ctx.spec), ctx.spec.name, ctx.folder, ctx.config,
                                  settings)
    return {"report": str(ctx.folder / "report.html"), "metrics": report["sets"]["synthetic"]["metrics"]}


def _training_config(config: ClinGenConfig, own_run: str, **training: object) -> ClinGenConfig:
    """The config with training settings replaced, and the user's run name or else `own_run`, the step's own,
    so that checkpoints of another step's key are never resumed."""
    updates = {"run_name": config.training.run_name or own_run, **training}
    return config.model_copy(update={"training": config.training.model_copy(update=updates)})


def run_filter(ctx: StepContext) -> dict:
    """Consistency filtering: a model trained on the few real examples only, then every synthetic example it
    contradicts with high confidence set aside (recorded, not deleted) in a filtered copy of the run."""
    from clingen.parsing.consistency import filter_synthetic_set
    from clingen.training.predict import Predictor
    from clingen.training.run import run_training
    fewshot = fewshot_split_path(ctx.config, ctx.spec)
    if fewshot is None:
        raise StepFailed(f"the filter step trains on the few real examples, and task {ctx.spec.name} has none: set "
                         f"pipeline.fewshot_path to its real training split")
    # Always a run of its own: a user's training.run_name belongs to the train step.
    own = f"{ctx.spec.name}-{ctx.folder.name}"
    config = _training_config(ctx.config, own, fewshot_stage=True, synthetic_stage=False, run_name=own)
    model = run_training(config, None, fewshot, ctx.folder / "fewshot-model").model_dir
    result = filter_synthetic_set(ctx.upstream["generate"]["data"], Predictor.load(model),
                                  ctx.config.pipeline.filter_confidence, str(ctx.folder / "filtered"))
    return {**result, "fewshot_model": str(model)}


def training_data_digest(data: str | None) -> str | None:
    """12 hex digits naming the exact synthetic set in `data` (a generation or filter output folder, local or
    remote): its committed shard markers' digest (OutputStore.committed_digest). None without data.

    Why: the train step's Ray Train run is named after it, so that checkpoints are resumed only for the same
    examples. Step keys hash the config, not the data, so a generate folder deleted and regenerated (another
    vLLM build, a changed reply schema) keeps its key; with the key alone as run name, Ray Train resumed the
    old run's finished checkpoint and trained nothing on the new set (evidence-cpu GAD, 25 s instead of 400)."""
    from clingen.runfolder.store import OutputStore
    digest = OutputStore(str(data), create=False).committed_digest() if data is not None else None
    return digest[:12] if digest else None


def run_train(ctx: StepContext) -> dict:
    from clingen.training.run import run_training
    # The filtered set when the filter step ran, else the generated one.
    generated = (ctx.upstream.get("filter") or ctx.upstream.get("generate") or {}).get("data")
    fewshot = training_fewshot_path(ctx.config, ctx.spec)
    digest = training_data_digest(generated)
    own = f"{ctx.spec.name}-{ctx.folder.name}" + (f"-data-{digest}" if digest else "")
    config = _training_config(ctx.config, own)
    report = run_training(config, generated, fewshot, ctx.folder / "model")
    return {"model": str(report.model_dir), "plan": report.card.plan, "train_wall_s": report.card.train_wall_s,
            "examples": (report.card.training_data or {}).get("synthetic", {}).get("examples")}


def run_evaluate(ctx: StepContext) -> dict:
    from clingen.evaluation.evaluate import evaluate_model
    test = real_test_split(ctx.config, ctx.spec)
    config = ctx.config
    tune = config.pipeline.tune_thresholds and ctx.spec.multi_label
    result, table, _ = evaluate_model(Path(ctx.upstream["train"]["model"]), test, ctx.spec.name,
                                      config.pipeline.test_split, ctx.folder, config,
                                      tune_on=training_fewshot_path(config, ctx.spec) if tune else None)
    logger.info("%s", table)
    return {"test": str(test), "primary": result["primary"], "evaluation": str(ctx.folder / "evaluation.json")}


def run_deploy(ctx: StepContext) -> dict:
    from clingen.cluster import ensure_ray
    from clingen.pipeline.deploy import deploy_classifier
    ensure_ray(ctx.config)
    return deploy_classifier(ctx.spec.name, Path(ctx.upstream["train"]["model"]), ctx.config.pipeline)


def task_spec(config: ClinGenConfig) -> TaskSpec:
    return get_task(config.task, config.task_file)


def _styles_unused(config: ClinGenConfig) -> str | None:
    strategy = config.prompts.strategy
    return f"strategy {strategy} uses no styles" if strategy in ("zero-shot", "few-shot") else None


def _topics_unused(config: ClinGenConfig) -> str | None:
    strategy = config.prompts.strategy
    return None if strategy == "clingen-llm" else f"strategy {strategy} takes no LLM-proposed topics"


def _filter_unused(config: ClinGenConfig) -> str | None:
    if get_task(config.task, config.task_file).family in ("ner", "attribute"):
        return "consistency filtering applies to classification, relation and pair tasks (NER: label completion)"
    return None


def _always_needed(config: ClinGenConfig) -> str | None:
    return None


@dataclass(frozen=True)
class Step:
    """One pipeline step, described once: the runner, the result keys, the cache and the docs all read this.

    `sections` are the config sections and `settings` the `pipeline.*` settings its result depends on (hashed
    into its key with its upstream steps' keys); `upstream` the steps whose outputs it reads (an upstream step
    that is not listed or was skipped is simply absent from `StepContext.upstream`); `unused` says why the step
    has nothing to do for a config (None: it runs)."""

    name: str
    run: Callable[[StepContext], dict]
    summary: str
    upstream: tuple[str, ...] = ()
    sections: tuple[str, ...] = ()
    settings: tuple[str, ...] = ()
    unused: Callable[[ClinGenConfig], str | None] = _always_needed
    # The generate step is the generation job: keyed on the generation config's own hash (which already holds
    # the styles and topics files, whose folder names carry their keys), writing into generation.out.
    is_generation: bool = False
    # A deployment is a live service: never reused from an earlier run.
    cacheable: bool = True


_TASK = ("task", "task_file")
# In flow order; clingen.config.PipelineStep lists the same names (tests/unit/test_pipeline.py checks it).
STEPS: dict[str, Step] = {step.name: step for step in (
    Step("styles", run_styles, "the generator proposes writing styles", sections=(*_TASK, "seed", "generator"),
         settings=("n_styles",), unused=_styles_unused),
    Step("topics", run_topics, "the generator proposes topics (ClinGen-LLM)", sections=(*_TASK, "seed", "generator"),
         settings=("n_topics", "topic_entity_type"), unused=_topics_unused),
    Step("generate", run_generate, "the generation job writes the synthetic set", upstream=("styles", "topics"),
         is_generation=True),
    Step("quality", run_quality, "the quality report against the real test split", upstream=("generate",),
         sections=(*_TASK, "seed"), settings=("test_path", "test_split")),
    Step("filter", run_filter, "consistency filtering by a model trained on the few real examples",
         upstream=("generate",), sections=(*_TASK, "seed", "training"), settings=("fewshot_path", "filter_confidence"),
         unused=_filter_unused),
    Step("train", run_train, "fine-tunes the encoder (few-shot stage, then the synthetic set)",
         upstream=("generate", "filter"), sections=(*_TASK, "seed", "training"), settings=("fewshot_path",)),
    Step("evaluate", run_evaluate, "scores the model on the real test split", upstream=("train",), sections=_TASK,
         settings=("test_path", "test_split", "tune_thresholds")),
    Step("deploy", run_deploy, "serves the model on Ray Serve", upstream=("train",), sections=_TASK, cacheable=False),
)}


def step_key(name: str, config: ClinGenConfig, upstream_keys: dict[str, str]) -> str:
    """Hash (12 hex digits) of everything the step's result depends on: its own sections and settings (the
    generation config hash for the generate step) and its upstream steps' keys."""
    step = STEPS[name]
    if step.is_generation:
        own = config.config_hash()
    else:
        data = config.hashed_dump()
        own = {"sections": {s: data[s] for s in step.sections},
               "settings": {s: data["pipeline"][s] for s in step.settings}}
    payload = json.dumps({"step": name, "own": own, "upstream": upstream_keys}, sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:12]
