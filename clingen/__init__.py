"""ClinGen: knowledge-infused synthetic clinical NLP data (kg -> prompts -> generation -> parsing -> datasets ->
training -> serving). The public API is the names in `__all__`, one per stage entry point.

Example (runs on a CPU machine with the embedded generator, ~1 min):

    import clingen
    config = clingen.load_config(overrides=["task=ncbi-disease", "generation.n=8", "generation.out=runs/api-8"])
    report = clingen.run_generation(config, quiet=True)  # quiet: Ray and vLLM logs stay in their files
    print(report.complete, report.out)
"""

from __future__ import annotations

import importlib

__version__ = "0.2.0"

# Public name -> the module that defines it. Imported on first use (PEP 562), so that `import clingen` (and the
# CLI's start-up) does not pay for seqeval, igraph or pyarrow until a stage needs them.
_PUBLIC = {
    "load_config": "clingen.config", "ClinGenConfig": "clingen.config",
    "get_task": "clingen.tasks.registry", "TaskSpec": "clingen.tasks.spec",
    "load_graph": "clingen.kg.source", "KnowledgeGraph": "clingen.kg.graph", "EntitySampler": "clingen.kg.sampling",
    "run_generation": "clingen.generation.job", "reparse_run": "clingen.generation.reparse",
    "OutputStore": "clingen.runfolder.store", "Manifest": "clingen.runfolder.manifest",
    "build_quality_report": "clingen.quality.report",
    "run_training": "clingen.training.run", "Predictor": "clingen.training.predict",
    "ModelCard": "clingen.training.card",
    "evaluate_model": "clingen.evaluation.evaluate",
    "build_app": "clingen.serving.classifier_app", "build_generator_app": "clingen.serving.generator_app",
    "run_pipeline": "clingen.pipeline.run", "run_experiment": "clingen.experiment.run",
    "ClinGenError": "clingen.errors", "ConfigError": "clingen.errors", "DataFormatError": "clingen.errors",
}
__all__ = ["__version__", *_PUBLIC]


def __getattr__(name: str):
    if name not in _PUBLIC:
        raise AttributeError(f"module 'clingen' has no attribute {name!r}; its public names: {sorted(_PUBLIC)}")
    return getattr(importlib.import_module(_PUBLIC[name]), name)


def __dir__() -> list[str]:
    return sorted(__all__)
