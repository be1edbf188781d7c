"""The package's layers (issue 37): no import climbs the layer order of scripts/layers.py (every stage reads the run
folder, the records and the task specs from below), and no two modules import each other, counting imports
inside functions and under TYPE_CHECKING. `python scripts/layers.py` prints the same lists."""

import importlib.util
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[2]


def _layers():
    spec = importlib.util.spec_from_file_location("clingen_layers", ROOT / "scripts" / "layers.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


layers = _layers()


def test_the_graph_sees_module_and_function_level_imports():
    found = {(i.source, i.target) for i in layers.imports(ROOT / "clingen")}
    assert ("clingen.generation.job", "clingen.runfolder.store") in found  # module level
    assert ("clingen.pipeline.run", "clingen.runfolder.store") in found  # inside a function
    assert ("clingen.runfolder.manifest", "clingen.runfolder.progress") in found  # under TYPE_CHECKING


def test_every_module_is_in_a_layer():
    unplaced = []
    for module in layers.modules(ROOT / "clingen"):
        try:
            layers.layer_of(module)
        except KeyError as exc:
            unplaced.append(str(exc))
    assert not unplaced, "\n".join(unplaced)


def test_no_import_climbs_the_layers():
    up, _ = layers.report(ROOT / "clingen")
    order = " < ".join("/".join(names) for names in layers.LAYERS)
    if up:
        pytest.fail(f"{len(up)} imports climb the layers ({order}); move the imported code down or the importing "
                    "code up:\n" + "\n".join(up), pytrace=False)


def test_no_two_modules_import_each_other():
    _, both = layers.report(ROOT / "clingen")
    if both:
        pytest.fail(f"{len(both)} pairs of modules import each other; move what both need into a module they both "
                    "import:\n" + "\n".join(both), pytrace=False)
