"""Command-line plumbing shared by every subcommand: config options and their resolution."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from clingen.config import ClinGenConfig, load_config


def add_config_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, help="YAML config file (see configs/)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config value, e.g. --set generation.n=500 (repeatable)")


def resolve_config(args: argparse.Namespace, **flag_overrides) -> ClinGenConfig:
    """The config file, then --set overrides, then the subcommand's own flags (those given)."""
    extra = [f"{key}={json.dumps(str(value) if isinstance(value, Path) else value)}"
             for key, value in flag_overrides.items() if value is not None]
    return load_config(args.config, [*args.overrides, *extra])


def add_verbose_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--verbose", action="store_true", help="show Ray's, Ray Data's and vLLM's own logs on the "
                        "console too (otherwise they stay in Ray's session log folder)")

