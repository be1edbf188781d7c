"""The quality report end to end: synthetic sets in the generation layout, a real split, embeddings on Ray,
quality.json, PNG figures, and report.html rendered by headless Chromium."""

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from clingen.quality.report import build_quality_report
from clingen.quality.settings import QualitySettings
from tests.conftest import SHARED
from tests.integration.synthetic_sets import ner_records, write_generation_output

pytestmark = [pytest.mark.integration, pytest.mark.slow]

DEMOS = Path(__file__).resolve().parents[2] / "clingen" / "tasks" / "demos" / "ncbi-disease.jsonl"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _real_split() -> Path:
    """The shared NCBI-disease test split when ../shared exists, else the demonstrations shipped in the package."""
    shared = SHARED / "data" / "eval" / "ncbi-disease" / "test.tsv"
    return shared if shared.is_file() else DEMOS


@pytest.fixture(scope="module")
def report(ray_local, tmp_path_factory):
    root = tmp_path_factory.mktemp("quality")
    kg_records, plain_records = ner_records(12, seed=0), ner_records(8, seed=7)
    write_generation_output(str(root / "kg"), "ncbi-disease", kg_records)
    write_generation_output(str(root / "plain"), "ncbi-disease", plain_records)
    settings = QualitySettings(max_examples=40, tsne_points=40)
    result = build_quality_report({"kg": str(root / "kg"), "plain": str(root / "plain")}, _real_split(), None,
                                  root / "out", settings=settings)
    return root / "out", result


def test_quality_json_values_are_in_range(report):
    out, result = report
    saved = json.loads((out / "quality.json").read_text())
    assert saved["task"] == "ncbi-disease" and saved["family"] == "ner"
    assert saved["cmd"] == {"order_k": 5, "bounds": [-1.0, 1.0], "bounds_reason": result["cmd"]["bounds_reason"]}
    assert saved["embedding"]["encoder"] == "embedded:minilm-l6"
    real_examples = 5 if _real_split() == DEMOS else 940
    assert saved["real"]["examples"] == real_examples
    assert saved["real"]["measured"] == min(real_examples, 40)
    for name, examples in (("kg", 12), ("plain", 8)):
        entry = saved["sets"][name]
        m = entry["metrics"]
        assert entry["examples"] == entry["measured"] == examples
        assert 0.0 < m["cmd_vs_real"] < 5.0
        assert -1.0 <= m["mean_pairwise_cosine"] <= 1.0
        assert 0.0 < m["distinct_1"] <= m["distinct_2"] <= 1.0
        assert m["vocabulary_size"] > 10
        assert m["topic_coverage"] == 1.0  # every template names its topic
        assert 0.0 <= m["real_entity_coverage"] <= 1.0
        assert entry["entities"]["total"] == examples  # one disease span per template
        assert entry["generation"]["counts"]["examples"] == examples
        assert entry["generation"]["counts"]["parse_failures_by_reason"] == {}
    assert saved["real"]["entities"]["total"] > 0


def test_figures_are_written_as_png(report):
    out, result = report
    assert result["figures"] == {"tsne": "tsne.png", "metrics": "metrics.png", "entities": "entities.png"}
    for name in result["figures"].values():
        data = (out / name).read_bytes()
        assert data.startswith(PNG_MAGIC) and len(data) > 5_000, name


def _chromium(args: list[str], profile: Path) -> subprocess.CompletedProcess:
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={profile}", "--window-size=1280,2000"]
    return subprocess.run([shutil.which("chromium"), *flags, *args], capture_output=True, text=True, timeout=120)


def test_report_html_renders_in_headless_chromium(report, tmp_path):
    if shutil.which("chromium") is None:
        pytest.skip("chromium is not installed (scripts/setup.sh installs it as root: apt-get install chromium)")
    out, _ = report
    page = (out / "report.html").resolve()
    html = page.read_text()
    assert "<link" not in html and "<script" not in html  # self-contained: nothing fetched
    dom = _chromium(["--dump-dom", page.as_uri()], tmp_path / "profile-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert dom.stdout.count('<img src="data:image/png;base64,') == 3
    assert '<table class="metrics">' in dom.stdout and "CMD vs real (K=5)" in dom.stdout
    assert '<table class="generation">' in dom.stdout and '<table class="entities">' in dom.stdout
    shot = tmp_path / "report.png"
    run = _chromium([f"--screenshot={shot}", page.as_uri()], tmp_path / "profile-shot")
    assert run.returncode == 0, run.stderr[-2000:]
    assert shot.read_bytes().startswith(PNG_MAGIC) and shot.stat().st_size > 20_000
