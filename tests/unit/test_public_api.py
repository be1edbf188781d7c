"""`clingen.__all__`: every public name resolves to a documented object of the module it names, and importing the
package stays light."""

import subprocess
import sys

import pytest

import clingen

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("name", [n for n in clingen.__all__ if n != "__version__"])
def test_every_public_name_resolves_and_is_documented(name):
    obj = getattr(clingen, name)
    assert obj.__module__ == clingen._PUBLIC[name] and obj.__name__ == name
    assert (obj.__doc__ or "").strip(), f"clingen.{name} has no docstring"


def test_an_unknown_name_lists_the_public_ones():
    with pytest.raises(AttributeError, match="has no attribute 'run_generations'.*'run_generation'"):
        clingen.run_generations


def test_importing_the_package_loads_no_heavy_library():
    loaded = subprocess.run([sys.executable, "-c", "import sys, clingen; print(sorted(m for m in ('torch', 'ray', "
                             "'vllm', 'transformers', 'igraph', 'seqeval', 'pyarrow') if m in sys.modules))"],
                            capture_output=True, text=True, check=True).stdout.strip()
    assert loaded == "[]"
