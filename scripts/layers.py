"""The import graph of the `clingen` package against its layer order (issue 37): every import that climbs from a
lower layer to a higher one, and every two-module circle (A imports B and B imports A). Standard library only.

Every `import clingen.x` and `from clingen.x import y` counts, wherever it stands: at module level, inside a
function, under `if TYPE_CHECKING:`. `tests/unit/test_layers.py` asserts that both lists are empty.

    python scripts/layers.py [package folder]       # exit 1 when an import climbs or two modules import each other
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "clingen"

# Top-level modules and subpackages of `clingen`, bottom layer first: a module may import from its own layer and
# the layers below it. Data flows kg -> prompts -> generation -> parsing -> datasets -> training -> serving, but
# imports go the other way where a stage calls another: the stream's stages call the parsers (parsing below
# generation), the parsers read the prompt templates and demonstrations (prompts below parsing), and every stage
# reads the dataset records, the task specs and the run folder (datasets, tasks, runfolder at the bottom, above
# the configuration and Ray plumbing they share). The quality report embeds with the training stage's encoder
# loader (training below quality); the pipeline runs every stage, the experiment runs pipelines.
LAYERS: list[tuple[str, ...]] = [
    ("clingen", "errors", "_imports", "_yaml", "_batches", "_outputs"),  # clingen: `from clingen import __version__`
    ("config_migration", "config"),
    ("cluster",),
    ("kg",),
    ("tasks",),
    ("datasets",),
    ("runfolder",),
    ("prompts",),
    ("parsing",),
    ("generation",),
    ("training",),
    ("evaluation",),
    ("quality",),
    ("serving",),
    ("pipeline",),
    ("experiment",),
    ("cli", "__main__"),
]


@dataclass(frozen=True)
class Import:
    source: str   # the importing module, dotted
    target: str   # the imported module, dotted (`from clingen.x import sub` names clingen.x.sub when it is a module)
    file: str     # the importing file, relative to the package's parent folder
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.source} -> {self.target}"


def modules(package: Path = PACKAGE) -> dict[str, Path]:
    """Dotted module name -> file, for every .py file under `package` (a package is its __init__.py)."""
    found = {}
    for path in sorted(package.rglob("*.py")):
        parts = list(path.relative_to(package.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _resolve(name: str, known: dict[str, Path]) -> str | None:
    """The longest known module that `name` is or lies inside (`clingen.x.Name` -> clingen.x)."""
    while name:
        if name in known:
            return name
        name = name.rpartition(".")[0]
    return None


def imports(package: Path = PACKAGE) -> list[Import]:
    """Every import of one of the package's modules by another, in file and line order."""
    known = modules(package)
    root = package.name
    found = []
    for module, path in known.items():
        is_package = path.name == "__init__.py"
        file = path.relative_to(package.parent).as_posix()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:   # relative: from the importing module's package, one level up per extra dot
                    anchor = module.split(".") if is_package else module.split(".")[:-1]
                    anchor = anchor[:len(anchor) - node.level + 1]
                    base = ".".join([*anchor, base] if base else anchor)
                names = [f"{base}.{alias.name}" for alias in node.names]
            for name in names:
                if name.split(".")[0] != root:
                    continue
                target = _resolve(name, known)
                if target is not None and target != module:
                    found.append(Import(module, target, file, node.lineno))
    return sorted(set(found), key=lambda i: (i.file, i.line, i.target))


def layer_of(module: str, layers: list[tuple[str, ...]] = LAYERS) -> int:
    """The index of a module's layer: its top-level name under the package (the root package is `clingen`)."""
    parts = module.split(".")
    top = parts[1] if len(parts) > 1 else parts[0]
    for index, names in enumerate(layers):
        if top in names:
            return index
    raise KeyError(f"{module}: its top-level name {top!r} is in no layer of scripts/layers.py's LAYERS; add it")


def climbing(found: list[Import], layers: list[tuple[str, ...]] = LAYERS) -> list[Import]:
    """The imports from a lower layer to a higher one."""
    return [i for i in found if layer_of(i.source, layers) < layer_of(i.target, layers)]


def circles(found: list[Import]) -> list[tuple[Import, Import]]:
    """Each pair of modules that import each other, as (A -> B, B -> A), the first import of each direction."""
    first: dict[tuple[str, str], Import] = {}
    for i in found:
        first.setdefault((i.source, i.target), i)
    return [(ab, first[(b, a)]) for (a, b), ab in first.items() if a < b and (b, a) in first]


def report(package: Path = PACKAGE, layers: list[tuple[str, ...]] = LAYERS) -> tuple[list[str], list[str]]:
    """(climbing imports, two-module circles), one line each, naming file:line."""
    found = imports(package)
    up = [f"{i}   ({layers[layer_of(i.source, layers)][0]} < {layers[layer_of(i.target, layers)][0]})"
          for i in climbing(found, layers)]
    both = [f"{ab}   and   {ba}" for ab, ba in circles(found)]
    return up, both


def main(argv: list[str]) -> int:
    package = Path(argv[0]).resolve() if argv else PACKAGE
    up, both = report(package)
    print("layers, bottom first: " + " < ".join("/".join(names) for names in LAYERS))
    print(f"{len(imports(package))} imports between {len(modules(package))} modules of {package}")
    print(f"\nimports that climb the layers: {len(up)}")
    print("\n".join(f"  {line}" for line in up))
    print(f"\ntwo-module circles: {len(both)}")
    print("\n".join(f"  {line}" for line in both))
    return 1 if up or both else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
