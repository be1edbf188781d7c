"""Quality stage entry (datasets -> quality report): measures synthetic sets against a real split and writes
quality.json, PNG figures and a self-contained report.html."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from clingen.config import ClinGenConfig, load_config
from clingen.datasets.readers import read_task_split
from clingen.datasets.records import NERExample, Record, RelationExample, record_type_for
from clingen.errors import ConfigError, DataFormatError
from clingen.quality import metrics
from clingen.quality.metrics import REAL, metric_columns
from clingen.quality.settings import QualitySettings
from clingen.quality.trainability import RealIndex, assess, load_failures, text_of
from clingen.runfolder.manifest import Manifest
from clingen.tasks.registry import get_task
from clingen.tasks.spec import TaskSpec

FIGURES = {"tsne": "tsne.png", "metrics": "metrics.png", "entities": "entities.png"}


@dataclass
class Source:
    """One measured set (a synthetic run or the real split): `records` sampled to at most max_examples examples
    (embeddings and metrics), `everything` all of them (trainability), `failures` a run's failure rows."""

    name: str
    path: str
    records: list[Record]
    total: int
    manifest: Manifest | None = None
    everything: list[Record] = field(default_factory=list)
    failures: list[dict] = field(default_factory=list)

    @property
    def texts(self) -> list[str]:
        return [text_of(record) for record in self.records]

    @property
    def topics(self) -> list[str | None]:
        return [record.provenance.topic if record.provenance else None for record in self.records]

    @property
    def entities(self) -> list[list[str]] | None:
        return entities_of(self.records)


def entities_of(records: list[Record]) -> list[list[str]] | None:
    """One mention list per record (NER: span texts; relation: head and tail), or None for families that
    name no entities."""
    if records and isinstance(records[0], NERExample):
        return [[span.text for span in record.spans] for record in records]
    if records and isinstance(records[0], RelationExample):
        return [[m for m in (record.head, record.tail) if m] for record in records]
    return None


def _sample(records: list[Record], limit: int, seed: int) -> list[Record]:
    if len(records) <= limit:
        return records
    picks = np.sort(np.random.default_rng(seed).choice(len(records), size=limit, replace=False))
    return [records[int(i)] for i in picks]


def read_manifest(path: str) -> Manifest | None:
    """A generation folder's manifest.json, or None when it has none; a missing folder is an error (and is
    never created: OutputStore would create it)."""
    from clingen.runfolder.store import OutputStore
    if "://" not in path and not (Path(path) / "data").is_dir():
        raise DataFormatError(f"synthetic set {path} is not a `clingen generate` output folder; expected "
                              f"{Path(path) / 'data'} with part-*.parquet files")
    return OutputStore(path).read_manifest()


def load_synthetic(name: str, path: str, family: str, settings: QualitySettings, manifest: Manifest | None) -> Source:
    """A generation output folder's committed examples (sampled, and all of them), its failure rows and
    its manifest."""
    from clingen.runfolder.store import OutputStore
    table = OutputStore(path).read_examples()
    if table is None or table.num_rows == 0:
        raise DataFormatError(f"synthetic set {name} ({path}) holds no committed examples; expected "
                              f"data/part-*.parquet files with rows")
    record_type = record_type_for(family)
    records = [record_type.from_row(row) for row in table.to_pylist()]
    return Source(name, path, _sample(records, settings.max_examples, settings.seed), len(records), manifest,
                  records, load_failures(path))


def load_real(path: Path, spec: TaskSpec, settings: QualitySettings) -> Source:
    """A real split in the task's own format, or ClinGen records as .jsonl / .parquet."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"real split {path} does not exist; expected a file (or the HoC corpus folder)")
    records = read_task_split(spec, path, settings.real_split)
    if not records:
        raise DataFormatError(f"real split {path} holds no examples; expected at least one")
    return Source(REAL, str(path), _sample(records, settings.max_examples, settings.seed), len(records),
                  everything=records)


def resolve_task(task: str | None, manifests: dict[str, Manifest | None], synthetic: dict[str, str]) -> str:
    """The task given, else the first manifest's; every manifest must agree with it (sets of different tasks
    cannot be compared against one real split)."""
    if task is None:
        task = next((m.task for m in manifests.values() if m), None)
        if task is None:
            raise ConfigError(f"cannot tell the task: none of {sorted(synthetic.values())} has a manifest.json "
                              f"naming one; pass --task")
    for name, manifest in manifests.items():
        if manifest and manifest.task != task:
            raise ConfigError(f"synthetic set {name} ({synthetic[name]}) was generated for task "
                              f"{manifest.task!r}; expected {task!r} like the others")
    return task


def _diversity(source: Source, embeddings: np.ndarray, settings: QualitySettings) -> dict:
    texts = source.texts
    return {"mean_pairwise_cosine": metrics.mean_pairwise_cosine(embeddings, settings.max_pairs, settings.seed),
            "distinct_1": metrics.distinct_n(texts, 1), "distinct_2": metrics.distinct_n(texts, 2),
            "vocabulary_size": metrics.vocabulary_size(texts)}


def _generation_summary(manifest: Manifest | None) -> dict | None:
    if manifest is None:
        return None
    keys = {"strategy", "model", "counts", "tokens", "wall_time_s", "complete", "fingerprint"}
    return manifest.model_dump(mode="json", include=keys)


def measure(source: Source, embeddings: np.ndarray, real: Source | None, real_embeddings: np.ndarray | None,
            settings: QualitySettings) -> dict:
    """Every per-set number of the report: size, distribution shift vs real, diversity, topics, entities."""
    entities = source.entities
    result = {"path": source.path, "examples": source.total, "measured": len(source.records),
              "metrics": _diversity(source, embeddings, settings), "entities": None,
              "generation": _generation_summary(source.manifest)}
    if source.name != REAL:
        result["metrics"]["cmd_vs_real"] = None if real_embeddings is None else \
            metrics.cmd(embeddings, real_embeddings, settings.cmd_order)
        result["metrics"]["topic_coverage"] = metrics.topic_coverage(source.topics, source.texts)
        real_entities = real.entities if real is not None else None
        result["metrics"]["real_entity_coverage"] = None if real_entities is None or entities is None else \
            metrics.entity_coverage(real_entities, entities)
    if entities is not None:
        result["entities"] = metrics.entity_stats(entities, settings.top_entities)
    return result


def _embed_all(sources: list[Source], config: ClinGenConfig, settings: QualitySettings,
               encoder: str, quiet: bool = False) -> dict[str, np.ndarray]:
    """One embedding pass over every source's texts (one encoder load), split back per source."""
    from clingen.cluster import ensure_ray
    from clingen.quality.embed import embed_texts
    ensure_ray(config, quiet=quiet)
    texts = [text for source in sources for text in source.texts]
    matrix = embed_texts(texts, encoder, settings.max_length, settings.batch_size)
    bounds = np.cumsum([0] + [len(source.records) for source in sources])
    return {source.name: matrix[bounds[i]:bounds[i + 1]] for i, source in enumerate(sources)}


def _trainability(sources: list[Source], real: Source | None, spec: TaskSpec, settings: QualitySettings) -> dict:
    """trainability.assess of each synthetic set over all its examples, against the whole real split."""
    index = RealIndex([text_of(r) for r in real.everything], settings.leak_similarity) if real else None
    labels = [label.name for label in spec.labels]
    return {s.name: assess(s.everything, s.failures, settings, s.manifest.counts if s.manifest else None, labels,
                           index) for s in sources if s.name != REAL}


def _load_sources(synthetic: dict[str, str], real: Path | None, task: str | None, config: ClinGenConfig,
                  settings: QualitySettings) -> tuple[TaskSpec, list[Source]]:
    if not synthetic:
        raise ConfigError("no synthetic set given; expected at least one generation output folder")
    if REAL in synthetic:
        raise ConfigError(f"a synthetic set is named {REAL!r}, the name of the real split; rename it")
    manifests = {name: read_manifest(path) for name, path in synthetic.items()}
    spec = get_task(resolve_task(task, manifests, synthetic), config.task_file)
    sources = [load_real(real, spec, settings)] if real is not None else []
    sources += [load_synthetic(name, path, spec.family, settings, manifests[name]) for name, path in synthetic.items()]
    return spec, sources


def build_quality_report(synthetic: dict[str, str], real: Path | None, task: str | None, out: Path,
                         config: ClinGenConfig | None = None, settings: QualitySettings | None = None,
                         quiet: bool = False) -> dict:
    """Measure each synthetic set (name -> generation output folder or URI), optionally against a real split,
    and write <out>/quality.json, the PNG figures and <out>/report.html. `config` supplies the Ray address
    and task file; `settings` the encoder, sample sizes and CMD order; `quiet` keeps Ray's worker output off the
    console. Returns the quality.json content."""
    config = config or load_config()
    settings = settings or QualitySettings()
    from clingen.quality.embed import POOLING, resolve_embedding_encoder
    encoder = resolve_embedding_encoder(settings.encoder)
    spec, sources = _load_sources(synthetic, real, task, config, settings)
    embeddings = _embed_all(sources, config, settings, encoder, quiet)
    real_source = sources[0] if real is not None else None
    real_embeddings = embeddings[REAL] if real is not None else None
    report = {
        "task": spec.name, "family": spec.family,
        "embedding": {"encoder": settings.encoder, "resolved": encoder, "pooling": POOLING,
                      "max_length": settings.max_length},
        "cmd": {"order_k": settings.cmd_order, "bounds": list(metrics.UNIT_BOUNDS),
                "bounds_reason": "embeddings are L2-normalised, so every coordinate lies in [-1, 1]"},
        "settings": settings.model_dump(mode="json"),
        "real": measure(real_source, real_embeddings, None, None, settings) if real_source else None,
        "sets": {s.name: measure(s, embeddings[s.name], real_source, real_embeddings, settings)
                 for s in sources if s.name != REAL},
    }
    for name, checks in _trainability(sources, real_source, spec, settings).items():
        report["sets"][name]["trainability"] = checks
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    report["figures"] = write_figures(report, embeddings, out, settings)
    (out / "quality.json").write_text(json.dumps(report, indent=2, default=str) + "\n")
    from clingen.quality.html import render_html
    (out / "report.html").write_text(render_html(report, out), encoding="utf-8")
    return report


def write_figures(report: dict, embeddings: dict[str, np.ndarray], out: Path, settings: QualitySettings) -> dict:
    """Draw every figure the data allows; returns {figure: file name or {"skipped": why}}."""
    from clingen.quality import figures
    columns = metric_columns(report)
    colours = figures.source_colours(list(columns))
    written: dict = {}
    skipped = figures.tsne_figure({name: embeddings[name] for name in columns}, out / FIGURES["tsne"],
                                  settings.tsne_points, settings.seed, colours)
    written["tsne"] = {"skipped": skipped} if skipped else FIGURES["tsne"]
    if skipped:  # a map left by an earlier report into the same folder would no longer match
        (out / FIGURES["tsne"]).unlink(missing_ok=True)
    figures.metrics_figure(columns, out / FIGURES["metrics"], colours)
    written["metrics"] = FIGURES["metrics"]
    entries = {REAL: report["real"], **report["sets"]} if report["real"] else dict(report["sets"])
    tops = {name: entry["entities"]["top"] for name, entry in entries.items()
            if entry["entities"] and entry["entities"]["top"]}
    if tops:
        figures.entities_figure(tops, out / FIGURES["entities"], colours)
        written["entities"] = FIGURES["entities"]
    else:
        (out / FIGURES["entities"]).unlink(missing_ok=True)
        written["entities"] = {"skipped": f"task family {report['family']!r} names no entities, or none "
                                          f"were found"}
    return written
