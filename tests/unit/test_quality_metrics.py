import numpy as np
import pytest

from clingen.cli.quality import parse_synthetic
from clingen.errors import ConfigError, DataFormatError
from clingen.quality.embed import mean_pool
from clingen.quality.metrics import (cmd, distinct_n, entity_coverage, entity_stats, mean_pairwise_cosine,
                                     topic_coverage, vocabulary_size)

pytestmark = pytest.mark.unit


def _points(seed: int = 0, n: int = 200, dims: int = 8) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-0.5, 0.5, size=(n, dims))


def test_cmd_of_a_set_with_itself_is_zero():
    x = _points()
    assert cmd(x, x) == 0.0
    assert cmd(x, x.copy(), k=3) == 0.0


def test_cmd_grows_monotonically_as_one_set_is_shifted():
    x = _points()
    values = [cmd(x, x + shift) for shift in (0.1, 0.2, 0.4)]
    # A pure shift moves only the mean: ||shift * 1||_2 / |b - a| = shift * sqrt(8) / 2.
    assert values == pytest.approx([s * np.sqrt(8) / 2 for s in (0.1, 0.2, 0.4)])
    assert 0 < values[0] < values[1] < values[2]


def test_cmd_sees_a_change_of_spread_with_the_same_mean():
    x = _points()
    assert cmd(x, x * 0.5) > 0
    assert cmd(x, x * 0.5, k=1) == pytest.approx(np.linalg.norm(x.mean(0) - 0.5 * x.mean(0)) / 2)


def test_cmd_refuses_values_outside_its_bounds_and_mismatched_dims():
    with pytest.raises(DataFormatError, match=r"outside the CMD bounds \[-1.0, 1.0\]"):
        cmd(_points(), _points() + 1.0)
    with pytest.raises(DataFormatError, match="8 dimensions but y has 3"):
        cmd(_points(), _points(dims=3))
    with pytest.raises(DataFormatError, match="expected a non-empty 2-D"):
        cmd(np.zeros((0, 4)), _points(dims=4))
    assert cmd(_points() + 1.0, _points() + 1.0, bounds=(-1.0, 2.0)) == 0.0


def test_mean_pairwise_cosine_of_identical_vectors_is_one():
    same = np.tile([[0.6, 0.8, 0.0]], (5, 1))
    assert mean_pairwise_cosine(same) == pytest.approx(1.0)
    # Cosine ignores length: scaled copies are still identical directions.
    assert mean_pairwise_cosine(same * np.arange(1, 6)[:, None]) == pytest.approx(1.0)


def test_mean_pairwise_cosine_known_answer_and_edge_cases():
    # Pairs: (e1, e2) = 0, (e1, -e1) = -1, (e2, -e1) = 0 -> mean -1/3.
    assert mean_pairwise_cosine(np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])) == pytest.approx(-1 / 3)
    assert mean_pairwise_cosine(np.array([[1.0, 0.0]])) is None
    with pytest.raises(DataFormatError, match="row 1 of x has zero norm"):
        mean_pairwise_cosine(np.array([[1.0, 0.0], [0.0, 0.0]]))


def test_mean_pairwise_cosine_samples_big_sets_deterministically():
    x = _points(n=300)
    full = mean_pairwise_cosine(x)
    sampled = mean_pairwise_cosine(x, max_pairs=20_000, seed=3)
    assert sampled == mean_pairwise_cosine(x, max_pairs=20_000, seed=3)
    assert sampled == pytest.approx(full, abs=0.01)


def test_distinct_n_known_string():
    assert distinct_n(["the cat the cat sat"], 1) == pytest.approx(3 / 5)
    assert distinct_n(["the cat the cat sat"], 2) == pytest.approx(3 / 4)
    # Lower-cased, and n-grams never span two texts: "sat the" is not a bigram here.
    assert distinct_n(["The cat sat", "the CAT sat"], 2) == pytest.approx(2 / 4)
    assert distinct_n(["one"], 2) == 0.0
    with pytest.raises(DataFormatError, match="n=0"):
        distinct_n(["a"], 0)


def test_vocabulary_size():
    assert vocabulary_size(["The cat sat", "the dog SAT down"]) == 5
    assert vocabulary_size([]) == 0


def test_entity_stats_case_folds_and_ranks():
    stats = entity_stats([["Breast cancer", "APC"], ["breast Cancer"], [], ["apc", "DM", "breast cancer"]], top=2)
    assert stats == {"distinct": 3, "total": 6, "top": [("breast cancer", 3), ("apc", 2)]}
    # Mentions are re-tokenised, so a pre-tokenised CoNLL mention equals the running-text one.
    assert entity_stats([["A-T"], ["a - t"]])["distinct"] == 1
    with pytest.raises(DataFormatError, match="one list of entity mentions per example"):
        entity_stats(["cancer"])


def test_topic_coverage():
    topics = ["breast cancer", None, "Asthma", "gout"]
    texts = ["Breast Cancer risk rises.", "no topic here", "A child with asthma.", "Nothing relevant."]
    assert topic_coverage(topics, texts) == pytest.approx(2 / 3)
    # A relation topic "head / tail" counts when both parts appear.
    assert topic_coverage(["BRCA1 / breast cancer"], ["BRCA1 variants cause breast cancer"]) == 1.0
    assert topic_coverage(["BRCA1 / breast cancer"], ["brca1 variants"]) == 0.0
    assert topic_coverage([None, ""], ["a", "b"]) is None
    with pytest.raises(DataFormatError, match="2 topics but 1 texts"):
        topic_coverage(["a", "b"], ["a"])


def test_entity_coverage():
    real = [["Breast cancer", "APC"], ["DM"], ["breast cancer"]]
    assert entity_coverage(real, [["breast CANCER"], ["gout"]]) == pytest.approx(1 / 3)
    assert entity_coverage(real, [["apc", "dm", "Breast cancer"]]) == 1.0
    assert entity_coverage(real, []) == 0.0
    assert entity_coverage([[], []], [["apc"]]) is None


def test_mean_pool_ignores_padding_and_normalises():
    hidden = np.array([[[3.0, 0.0], [1.0, 4.0], [100.0, 100.0]]])  # the last token is padding
    pooled = mean_pool(hidden, np.array([[1, 1, 0]]))
    assert pooled[0] == pytest.approx(np.array([2.0, 2.0]) / np.sqrt(8))
    assert np.linalg.norm(pooled, axis=1) == pytest.approx([1.0])


def test_parse_synthetic_names():
    assert parse_synthetic(["runs/kg/", "plain=runs/zero", "runs/t=0.7"]) == {
        "kg": "runs/kg/", "plain": "runs/zero", "t=0.7": "runs/t=0.7"}
    with pytest.raises(ConfigError, match="given twice"):
        parse_synthetic(["a/run", "b/run"])
