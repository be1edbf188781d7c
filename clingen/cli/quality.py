"""`clingen quality`: the synthetic-data quality report (datasets -> quality), beside a real split."""

from __future__ import annotations

import argparse
from pathlib import Path

from clingen.cli.common import add_config_options, add_verbose_option, resolve_config
from clingen.errors import ConfigError


def add_parsers(sub: argparse._SubParsersAction) -> None:
    quality = sub.add_parser("quality", help="check whether synthetic sets are fit to train on (labels, rows, "
                             "failures, lengths, leakage), measure them (CMD vs real, diversity, coverage) and write "
                             "quality.json, figures and a self-contained report.html")
    add_config_options(quality)
    quality.add_argument("--synthetic", action="append", required=True, metavar="[NAME=]DIR",
                         help="a `clingen generate` output folder or URI, optionally named "
                         "(e.g. kg=runs/ncbi-kg); repeat to compare sets side by side")
    quality.add_argument("--real", type=Path, help="a real split in the task's format (or ClinGen .jsonl / "
                         ".parquet records); HoC: the corpus root")
    quality.add_argument("--split", default="test", help="HoC document split of --real (train, dev, test)")
    quality.add_argument("--task", help="task name (default: the first synthetic set's manifest)")
    quality.add_argument("--out", type=Path, default=Path("quality-report"), help="output folder "
                         "(default: quality-report)")
    quality.add_argument("--encoder", help="embedding encoder: local folder, hub id or embedded:minilm-l6 "
                         "(default)")
    add_verbose_option(quality)
    quality.add_argument("--max-examples", type=int, help="examples measured per set (default 2000)")
    quality.add_argument("--tsne-points", type=int, help="points per set in the t-SNE map (default 500)")
    quality.add_argument("--threshold", action="append", default=[], metavar="NAME=VALUE",
                         help="a \"can I train on this?\" threshold, repeatable: " + ", ".join(THRESHOLDS) +
                         " (e.g. max_label_share=0.7, length_ratio_range=[0.5,2])")
    quality.set_defaults(handler=_quality)


# The QualitySettings fields that --threshold may set: the checks' limits, not the measurement's settings.
THRESHOLDS = ("max_label_share", "min_kept_share", "max_reason_share", "length_ratio_range", "max_leak_share",
              "leak_similarity", "examples_per_label")


def parse_thresholds(values: list[str]) -> dict:
    """--threshold NAME=VALUE values -> {name: value read as YAML}; QualitySettings validates the values.
    Raises ConfigError for a missing "=" or a name outside THRESHOLDS."""
    import yaml
    given = {}
    for value in values:
        name, sep, raw = value.partition("=")
        if not sep or name not in THRESHOLDS:
            raise ConfigError(f"--threshold {value!r}: expected NAME=VALUE with NAME one of {', '.join(THRESHOLDS)}")
        given[name] = yaml.safe_load(raw)
    return given


def parse_synthetic(values: list[str]) -> dict[str, str]:
    """--synthetic values -> {name: folder}; an unnamed folder is named after its last path component."""
    sets: dict[str, str] = {}
    for value in values:
        name, sep, path = value.partition("=")
        # A folder may itself hold "=" ("runs/t=0.7"): only a slash-free prefix is read as a name.
        if not sep or "/" in name or not name:
            name, path = Path(value.rstrip("/")).name or value, value
        if not path:
            raise ConfigError(f"--synthetic {value!r} names no folder; expected DIR or NAME=DIR")
        if name in sets:
            raise ConfigError(f"--synthetic name {name!r} is given twice ({sets[name]} and {path}); expected "
                              f"distinct names: use NAME=DIR")
        sets[name] = path
    return sets


def _quality(args: argparse.Namespace) -> int:
    from clingen.quality.report import build_quality_report
    from clingen.quality.settings import QualitySettings
    config = resolve_config(args)
    given = {"encoder": args.encoder, "max_examples": args.max_examples, "tsne_points": args.tsne_points,
             "real_split": args.split, "seed": config.seed, **parse_thresholds(args.threshold)}
    try:
        settings = QualitySettings(**{key: value for key, value in given.items() if value is not None})
    except ValueError as exc:  # pydantic's ValidationError names the field and the bad value
        raise ConfigError(f"invalid quality option: {exc}") from None
    report = build_quality_report(parse_synthetic(args.synthetic), args.real, args.task, args.out, config, settings,
                                  quiet=not args.verbose)
    k = report["cmd"]["order_k"]
    for name, entry in report["sets"].items():
        m = entry["metrics"]
        cmd = "n/a" if m["cmd_vs_real"] is None else f"{m['cmd_vs_real']:.4f}"
        cosine = "n/a" if m["mean_pairwise_cosine"] is None else f"{m['mean_pairwise_cosine']:.3f}"
        print(f"{name}: {entry['measured']} examples | CMD(K={k}) vs real {cmd} | mean cosine {cosine} | "
              f"distinct-1 {m['distinct_1']:.3f} distinct-2 {m['distinct_2']:.3f} | vocab {m['vocabulary_size']}")
        print_flags(entry.get("trainability"))
    print(f"report: {args.out / 'report.html'}\njson:   {args.out / 'quality.json'}")
    return 0


def print_flags(checks: dict | None) -> None:
    """Under a set's line: each failed "can I train on this?" check as `  FLAG <name>: <message>`, else how
    many passed."""
    if not checks:
        return
    failed = [flag for flag in checks["flags"] if not flag["passed"]]
    for flag in failed:
        print(f"  FLAG {flag['name']}: {flag['message']}")
    if not failed:
        print(f"  all {len(checks['flags'])} checks passed")
