"""Benchmark: output tokens/s of the full ClinGen generation pipeline (Ray Data + ray.data.llm + parsing +
commit) against raw `vllm.LLM.chat` on the same model, prompts, sampling and machine, in one run; the
parse-failure rate with schema-constrained decoding on and off; and prompt composition alone.

    python benchmarks/generation.py [--task ncbi-disease] [--n 128] [--skip-unconstrained]

Each side is reported twice: overall (including starting its engine: Ray's start-up is part of what a user
waits for) and at steady state, which is what a long run costs per token. Raw vLLM's steady state is its
`chat()` call after `LLM()` has started; the pipeline's is the window from its first parsed row reaching the
driver to its last (tokens counted in that window), so neither includes engine start-up, model loading or
Ray's start. With `--json` the last line is one JSON object with both ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time

os.environ.setdefault("VLLM_HOST_IP", "127.0.0.1")
os.environ.setdefault("RAY_AUTH_MODE", "disabled")

import numpy as np  # noqa: E402

from clingen.config import load_config  # noqa: E402
from clingen.generation.models import engine_kwargs_for, resolve_model_source  # noqa: E402
from clingen.prompts.compose import PromptComposer  # noqa: E402
from clingen.tasks.registry import get_task  # noqa: E402


def composition_rate(config, spec, rows: int = 20_000) -> float:
    composer = PromptComposer.from_config(config, spec)
    started = time.perf_counter()
    for start in range(0, rows, 1000):
        composer.compose(np.arange(start, start + 1000))
    return rows / (time.perf_counter() - started)


def raw_vllm(config, spec, model_dir: str) -> dict:
    """vllm.LLM.chat over the composer's prompts, with the same engine and sampling settings."""
    from vllm import LLM, SamplingParams
    from vllm.sampling_params import StructuredOutputsParams

    prompts = PromptComposer.from_config(config, spec).compose(np.arange(config.generation.n))
    sampling = config.generator.model.sampling
    started = time.perf_counter()
    llm = LLM(model=model_dir, **engine_kwargs_for(config.generator, config.seed, use_gpu=False))
    ready = time.perf_counter()
    params = [SamplingParams(temperature=sampling.temperature, top_p=sampling.top_p, max_tokens=sampling.max_tokens,
                             repetition_penalty=sampling.repetition_penalty,
                             structured_outputs=StructuredOutputsParams(json=json.loads(p.json_schema))
                             if p.json_schema and config.generator.structured_outputs else None) for p in prompts]
    outputs = llm.chat([p.messages for p in prompts], params, use_tqdm=False)
    done = time.perf_counter()
    tokens = sum(len(o.outputs[0].token_ids) for o in outputs)
    del llm
    return {"tokens": tokens, "wall_s": done - started, "engine_start_s": ready - started,
            "tokens_per_s": tokens / (done - started), "decode_tokens_per_s": tokens / (done - ready)}


class SteadyWindow:
    """on_row callback of run_generation: when the first and the last row reached the driver, and the
    completion tokens counted by then (the steady-state window)."""

    def __init__(self):
        self.first_s = self.last_s = None
        self.tokens_at_first = self.tokens_at_last = self.rows_at_first = self.rows_at_last = 0

    def __call__(self, counters, rows_to_do: int) -> None:
        now = time.perf_counter()
        if self.first_s is None:
            self.first_s, self.tokens_at_first, self.rows_at_first = now, counters.completion_tokens, counters.rows
        self.last_s, self.tokens_at_last, self.rows_at_last = now, counters.completion_tokens, counters.rows

    def measured(self) -> bool:
        """Whether the window says anything: rows arrive by whole blocks, and when the engine finishes every
        block at about the same time (n not much above its concurrent sequences) the window holds a burst."""
        if self.first_s is None or self.last_s - self.first_s < 1e-3:
            return False
        return self.rows_at_first <= self.rows_at_last / 2

    def tokens_per_s(self) -> float | None:
        """Output tokens/s after the first rows (None when the window is a burst: see `measured`)."""
        if not self.measured():
            return None
        return (self.tokens_at_last - self.tokens_at_first) / (self.last_s - self.first_s)

    def rows_per_s(self) -> float | None:
        if not self.measured():
            return None
        return (self.rows_at_last - self.rows_at_first) / (self.last_s - self.first_s)


def pipeline(config) -> dict:
    from clingen.generation.job import run_generation
    window = SteadyWindow()
    started = time.perf_counter()
    manifest = run_generation(config, on_row=window, quiet=True).manifest
    wall = time.perf_counter() - started
    counts, completion = manifest.counts, manifest.tokens.completion
    failed_rows = counts.rows_done - counts.examples - counts.duplicates
    return {"tokens": completion, "wall_s": wall, "tokens_per_s": completion / wall, "examples": counts.examples,
            "startup_s": (window.first_s or time.perf_counter()) - started,
            "steady_tokens_per_s": window.tokens_per_s(),
            "rows_without_example": failed_rows / counts.rows_done,
            "unparseable_json": sum(counts.parse_failures_by_reason.get(r, 0)
                                    for r in ("no_json", "missing_field", "wrong_type")) / counts.rows_done}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="ncbi-disease")
    parser.add_argument("--n", type=int, default=128)
    parser.add_argument("--config", default="configs/ncbi-disease.cpu.yaml")
    parser.add_argument("--skip-unconstrained", action="store_true")
    parser.add_argument("--json", action="store_true", help="end with one JSON line of the figures")
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="clingen-bench-")
    base = [f"task={args.task}", f"generation.n={args.n}"]
    config = load_config(args.config if os.path.exists(args.config) else None, [*base, f"generation.out={work}/on"])
    spec = get_task(config.task)
    print(f"prompt composition alone: {composition_rate(config, spec):,.0f} prompts/s ({args.task})")
    model_dir = resolve_model_source(config.generator.model.source)
    raw = raw_vllm(config, spec, model_dir)
    print(f"raw vllm.LLM.chat: {raw['tokens']} tokens in {raw['wall_s']:.1f}s (engine start {raw['engine_start_s']:.1f}s)"
          f" = {raw['tokens_per_s']:.1f} tokens/s ({raw['decode_tokens_per_s']:.1f} after start)")
    full = pipeline(config)
    print(f"ClinGen pipeline:  {full['tokens']} tokens in {full['wall_s']:.1f}s = {full['tokens_per_s']:.1f} tokens/s; "
          f"{full['examples']} examples; first row after {full['startup_s']:.1f}s, then "
          f"{_rate(full['steady_tokens_per_s'])} tokens/s")
    overall = full["tokens_per_s"] / raw["tokens_per_s"]
    steady = full["steady_tokens_per_s"] / raw["decode_tokens_per_s"] if full["steady_tokens_per_s"] else None
    print(f"ratio pipeline / raw vLLM (output tokens/s): overall {overall:.2f}, steady state "
          f"{'n/a' if steady is None else f'{steady:.2f}'}")
    print(f"constrained decoding ON : unparseable JSON {full['unparseable_json']:.1%}, "
          f"rows without example {full['rows_without_example']:.1%}")
    if not args.skip_unconstrained:
        off = pipeline(load_config(args.config if os.path.exists(args.config) else None,
                                   [*base, f"generation.out={work}/off", "generator.structured_outputs=false"]))
        print(f"constrained decoding OFF: unparseable JSON {off['unparseable_json']:.1%}, "
              f"rows without example {off['rows_without_example']:.1%}, {off['tokens_per_s']:.1f} tokens/s")
    shutil.rmtree(work, ignore_errors=True)
    if args.json:
        print(json.dumps({"task": args.task, "n": args.n, "raw": raw, "pipeline": full,
                          "overall_ratio": round(overall, 3), "steady_ratio": None if steady is None else round(steady, 3)}))


def _rate(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f}"


if __name__ == "__main__":
    main()
