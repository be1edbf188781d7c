"""The quality report end to end: synthetic sets in the generation layout, a real split, embeddings on Ray,
quality.json, PNG figures, and report.html rendered by headless Chromium."""

import json
import shutil
import subprocess
from dataclasses import replace
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


def _asked(records: list) -> list:
    """The records as generation writes them: each with the label its prompt row asked for."""
    return [replace(r, provenance=replace(r.provenance, prompt_label="Disease")) for r in records]


def _rejected(rows: range) -> list[dict]:
    """too_short failure rows as the generation stream writes them, the first with a reply that holds HTML."""
    record = json.dumps({"prompt": {"row_id": rows[0], "task": "ncbi-disease", "label": "Disease"}, "replies": [],
                         "ends": []})
    return [{"row_id": row, "reason": "too_short", "detail": "3 words, fewer than the minimum 5",
             "raw": '{"sentence": "<script>alert(1)</script> gout."}' if row == rows[0] else '{"sentence": "Gout."}',
             "step": 1, "reply_record": record} for row in rows]


@pytest.fixture(scope="module")
def report(ray_local, tmp_path_factory):
    root = tmp_path_factory.mktemp("quality")
    kg_records, plain_records = _asked(ner_records(12, seed=0)), _asked(ner_records(8, seed=7))
    write_generation_output(str(root / "kg"), "ncbi-disease", kg_records)
    write_generation_output(str(root / "plain"), "ncbi-disease", plain_records, rejected_rows=3,
                            failures=_rejected(range(8, 11)))
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
        assert entry["generation"]["counts"]["parse_failures_by_reason"] == ({} if name == "kg" else {"too_short": 3})
    assert saved["real"]["entities"]["total"] > 0


def test_trainability_checks_add_up(report):
    _, result = report
    kg, plain = (result["sets"][name]["trainability"] for name in ("kg", "plain"))
    assert kg["rows"] == {"source": "manifest", "rows_done": 12, "kept": 12, "rejected": [], "total": 12,
                          "adds_up": True, "mention_failures": []}
    assert plain["rows"]["rejected"] == [{"reason": "too_short", "rows": 3, "share": 3 / 11}]
    assert (plain["rows"]["rows_done"], plain["rows"]["kept"], plain["rows"]["adds_up"]) == (11, 8, True)
    assert kg["labels"]["rows"] == [{"label": "Disease", "asked": 12, "kept": 12, "share": 1.0}]
    assert plain["labels"]["rows"] == [{"label": "Disease", "asked": 11, "kept": 8, "share": 1.0}]
    assert len(kg["examples_per_label"]["Disease"]) == 3 and kg["examples_per_label"]["Disease"][0]["topic"]
    (reason,) = plain["failure_reasons"]
    assert (reason["reason"], reason["count"], len(reason["samples"])) == ("too_short", 3, 3)
    for checks in (kg, plain):
        names = [flag["name"] for flag in checks["flags"]]
        assert names == ["min_kept_share", "max_reason_share", "length_ratio_range", "max_leak_share"]
        assert checks["leakage"]["count"] == 0 and checks["leakage"]["checked"] == checks["rows"]["kept"]
        lengths = checks["lengths"]
        assert lengths["median_ratio"] == pytest.approx(lengths["synthetic"]["median"] / lengths["real"]["median"])
    assert lengths["real"]["texts"] == (5 if _real_split() == DEMOS else 940)
    assert all(flag["passed"] for flag in plain["flags"] if flag["name"] != "length_ratio_range")


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
    assert "<link" not in html and "<script" not in html  # self-contained: nothing fetched, replies escaped
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    dom = _chromium(["--dump-dom", page.as_uri()], tmp_path / "profile-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert dom.stdout.count('<img src="data:image/png;base64,') == 3
    assert '<table class="metrics">' in dom.stdout and "CMD vs real (K=5)" in dom.stdout
    assert '<table class="generation">' in dom.stdout and '<table class="entities">' in dom.stdout
    assert dom.stdout.index("Can I train on this?") < dom.stdout.index("<h2>Metrics</h2>")
    assert '<table class="flags">' in dom.stdout and '<pre class="raw">' in dom.stdout
    shot = tmp_path / "report.png"
    run = _chromium([f"--screenshot={shot}", page.as_uri()], tmp_path / "profile-shot")
    assert run.returncode == 0, run.stderr[-2000:]
    assert shot.read_bytes().startswith(PNG_MAGIC) and shot.stat().st_size > 20_000
