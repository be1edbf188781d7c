"""What a generation run used (run folder -> reports): its prompt and completion tokens, their cost at the prices
per million tokens the config gives (generator.price_in_per_million, price_out_per_million), and examples per
thousand tokens, for the summary line, the JSON summary and the dataset card."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int
    examples: int
    cost: float | None  # None when no price is configured
    examples_per_1k_tokens: float | None  # None before any token was counted

    def to_dict(self) -> dict:
        return asdict(self)

    def text(self) -> str:
        """e.g. "tokens 120,400 in / 30,100 out, cost 0.0421, 1.66 examples per 1,000 tokens"."""
        parts = [f"tokens {self.prompt_tokens:,} in / {self.completion_tokens:,} out"]
        if self.cost is not None:
            parts.append(f"cost {self.cost:.4g}")
        if self.examples_per_1k_tokens is not None:
            parts.append(f"{self.examples_per_1k_tokens:.3g} examples per 1,000 tokens")
        return ", ".join(parts)


def run_usage(prompt_tokens: int, completion_tokens: int, examples: int, price_in_per_million: float | None = None,
              price_out_per_million: float | None = None) -> Usage:
    """The usage of a run from its token totals and kept examples; a missing price counts as 0 when the other is
    given (an endpoint that bills completions only)."""
    priced = price_in_per_million is not None or price_out_per_million is not None
    cost = ((prompt_tokens * (price_in_per_million or 0.0) + completion_tokens * (price_out_per_million or 0.0)) / 1e6
            if priced else None)
    total = prompt_tokens + completion_tokens
    return Usage(prompt_tokens, completion_tokens, examples, cost, examples / total * 1000 if total else None)


def manifest_usage(manifest) -> Usage:
    """The usage over every committed shard of a generation folder (a Manifest), at the prices of the config it
    records (the latest run's)."""
    generator = (manifest.config or {}).get("generator") or {}
    return run_usage(manifest.tokens.prompt, manifest.tokens.completion, manifest.counts.examples,
                     generator.get("price_in_per_million"), generator.get("price_out_per_million"))
