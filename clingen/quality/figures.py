"""Quality stage: the report's PNG figures (t-SNE map of embeddings, metric bars, entity frequencies)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

REAL_COLOUR = "#7f7f7f"
# Bounded metrics drawn side by side (all in [0, 1]); CMD gets its own panel since it is not bounded by 1.
BAR_METRICS = (("distinct_1", "distinct-1"), ("distinct_2", "distinct-2"),
               ("mean_pairwise_cosine", "mean pairwise cosine"), ("topic_coverage", "topic coverage"),
               ("real_entity_coverage", "real-entity coverage"))
MIN_TSNE_POINTS = 5


def source_colours(names: list[str]) -> dict[str, str]:
    """Real data grey, each synthetic set its own tab10 colour, in report order (the same in every figure)."""
    from matplotlib import colormaps
    from matplotlib.colors import to_hex as matplotlib_hex
    palette = colormaps["tab10"]
    colours, slot = {}, 0
    for name in names:
        if name == "real":
            colours[name] = REAL_COLOUR
        else:
            colours[name] = matplotlib_hex(palette(slot % 10))
            slot += 1
    return colours


def _figure(width: float, height: float):
    # A bare Figure renders through Agg without pyplot, so no global backend or figure registry is touched.
    from matplotlib.figure import Figure
    return Figure(figsize=(width, height), dpi=100, layout="constrained")


def _cap(matrix: np.ndarray, cap: int, seed: int) -> np.ndarray:
    if len(matrix) <= cap:
        return matrix
    picks = np.sort(np.random.default_rng(seed).choice(len(matrix), size=cap, replace=False))
    return matrix[picks]


def tsne_figure(embeddings: dict[str, np.ndarray], path: Path, cap: int, seed: int,
                colours: dict[str, str]) -> str | None:
    """A 2-D t-SNE map of every source's embeddings (at most `cap` points each, sampled with seed), coloured
    by source; writes path and returns None, or returns why no map was drawn (too few points)."""
    capped = {name: _cap(matrix, cap, seed) for name, matrix in embeddings.items() if len(matrix)}
    total = sum(len(matrix) for matrix in capped.values())
    if total < MIN_TSNE_POINTS:
        return f"t-SNE needs at least {MIN_TSNE_POINTS} points; the sets hold {total}"
    from sklearn.manifold import TSNE
    # sklearn requires perplexity < n; a third of the points keeps small maps meaningful.
    perplexity = min(30.0, (total - 1) / 3)
    points = TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(
        np.concatenate(list(capped.values())).astype(np.float64))
    figure = _figure(7.5, 6.0)
    axes = figure.subplots()
    start = 0
    for name, matrix in capped.items():
        chunk = points[start:start + len(matrix)]
        start += len(matrix)
        axes.scatter(chunk[:, 0], chunk[:, 1], s=14 if name == "real" else 22, alpha=0.6 if name == "real" else 0.85,
                     color=colours[name], label=f"{name} ({len(matrix)})", edgecolors="none")
    axes.set_title(f"t-SNE of sentence embeddings (perplexity {perplexity:.1f}, random_state {seed})")
    axes.set_xticks([])
    axes.set_yticks([])
    axes.legend(loc="best", fontsize=9, frameon=True)
    figure.savefig(path, format="png")
    return None


def metrics_figure(columns: dict[str, dict], path: Path, colours: dict[str, str]) -> None:
    """Grouped bars of the bounded metrics per source, and a second panel with each set's CMD vs real."""
    figure = _figure(11.0, 4.5)
    left, right = figure.subplots(1, 2, width_ratios=[3, 1])
    width = 0.8 / max(len(columns), 1)
    for slot, (name, metrics) in enumerate(columns.items()):
        values = [metrics.get(key) for key, _ in BAR_METRICS]
        positions = np.arange(len(BAR_METRICS)) + slot * width
        bars = left.bar(positions, [np.nan if v is None else v for v in values], width, label=name,
                        color=colours[name])
        # Labels tell a true 0 from an undefined metric, which both leave no visible bar.
        left.bar_label(bars, labels=["n/a" if v is None else f"{v:.2f}" for v in values], fontsize=7, padding=2)
    left.set_xticks(np.arange(len(BAR_METRICS)) + width * (len(columns) - 1) / 2,
                    [label for _, label in BAR_METRICS], fontsize=9)
    left.set_ylim(0, 1.1)
    left.set_title("diversity and coverage (missing bar: not defined)")
    left.legend(fontsize=9)
    synthetic = {name: m.get("cmd_vs_real") for name, m in columns.items() if m.get("cmd_vs_real") is not None}
    right.bar(list(synthetic), list(synthetic.values()), color=[colours[n] for n in synthetic])
    right.set_title("CMD vs real (lower = closer)")
    right.tick_params(axis="x", labelrotation=20, labelsize=9)
    if not synthetic:
        right.text(0.5, 0.5, "no real split given", ha="center", va="center", transform=right.transAxes)
    figure.savefig(path, format="png")


def entities_figure(tops: dict[str, list], path: Path, colours: dict[str, str], shown: int = 15) -> None:
    """One horizontal bar chart per source of its most frequent (case-folded) entity mentions."""
    from matplotlib.ticker import MaxNLocator
    figure = _figure(4.2 * len(tops), 0.32 * shown + 1.5)
    panels = np.atleast_1d(figure.subplots(1, len(tops)))
    for axes, (name, top) in zip(panels, tops.items()):
        top = list(top)[:shown][::-1]  # most frequent at the top of the panel
        labels = [mention if len(mention) <= 28 else mention[:27] + "…" for mention, _ in top]
        axes.barh(range(len(top)), [count for _, count in top], color=colours[name])
        axes.set_yticks(range(len(top)), labels, fontsize=8)
        axes.set_title(f"{name}: top entities", fontsize=10)
        axes.set_xlabel("mentions")
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    figure.savefig(path, format="png")
