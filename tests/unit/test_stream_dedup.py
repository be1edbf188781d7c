"""Duplicate detection split between the parse stage's workers (MinHash signatures) and the driver (banded
look-up): the same decisions as datasketch's own MinHashLSH, and the stream stages on plain dict batches."""

import json
import random

import datasketch
import numpy as np
import pytest

from clingen.config import load_config
from clingen.generation.commits import ShardBuffer
from clingen.generation.job import RunCounters, _absorb
from clingen.generation.stages import ComposePrompts, ParseReplies, StageInputs
from clingen.parsing.dedup import Deduplicator, MinHasher, normalise, shingles

pytestmark = pytest.mark.unit
WORDS = ("patients cohort study onset symptoms diagnosis treatment outcome adults children biopsy serum levels "
         "variant risk incidence relapse remission dose response chronic acute severe family history").split()


def texts_with_near_copies(n: int, seed: int = 0) -> list[str]:
    """Sentences of 14 random words; every third one an earlier sentence with one or two words changed."""
    rng, texts = random.Random(seed), []
    for i in range(n):
        if i % 3 == 2:
            words = rng.choice(texts).split()
            for _ in range(rng.choice((1, 2))):
                words[rng.randrange(len(words))] = rng.choice(WORDS)
            texts.append(" ".join(words))
        else:
            texts.append(" ".join(rng.choices(WORDS, k=14)))
    return texts


def datasketch_decisions(texts: list[str], threshold: float) -> list[bool]:
    """Kept (True) or rejected, by exact match or datasketch.MinHashLSH's candidates, as ClinGen 0.2 decided."""
    lsh, exact, kept = datasketch.MinHashLSH(threshold=threshold, num_perm=64), set(), []
    for index, text in enumerate(texts):
        norm = normalise(text)
        minhash = datasketch.MinHash(num_perm=64)
        minhash.update_batch([s.encode() for s in shingles(norm)])
        new = norm not in exact and not lsh.query(minhash)
        if new:
            exact.add(norm)
            lsh.insert(f"e{index}", minhash)
        kept.append(new)
    return kept


@pytest.mark.parametrize("threshold", [0.7, 0.85])
def test_decisions_match_datasketch_lsh_with_and_without_worker_signatures(threshold):
    texts = texts_with_near_copies(600)
    reference = datasketch_decisions(texts, threshold)
    hasher, here, given = MinHasher(), Deduplicator(threshold), Deduplicator(threshold)
    mine = [here.check(f"e{i}", text) is None for i, text in enumerate(texts)]
    from_workers = [given.check(f"e{i}", text, hasher.signature(normalise(text)).tobytes()) is None
                    for i, text in enumerate(texts)]
    assert mine == reference == from_workers
    assert 20 < reference.count(False) < 200  # some near copies are found, and not everything is a copy


def test_signatures_equal_datasketch_values_and_dtype():
    # The fast path replaces datasketch's per-value hash calls; its values must stay datasketch's own.
    texts = texts_with_near_copies(60) + ["", "abc", "Ärztin: Zöliakie – fünf Fälle", "\u00e9" * 40, "x" * 5]
    for text in texts:
        reference = datasketch.MinHash(num_perm=64)
        reference.update_batch([s.encode() for s in shingles(text)])
        signature = MinHasher().signature(text)
        assert signature.dtype == reference.hashvalues.dtype
        assert np.array_equal(signature, reference.hashvalues), text


def test_a_signature_of_the_wrong_length_is_refused():
    with pytest.raises(ValueError, match="a MinHash signature of 3 values; expected 64"):
        Deduplicator().check("a", "some text here", np.zeros(3, dtype=np.uint32))


def test_parse_stage_signs_each_example_and_the_driver_rejects_the_repeat():
    config = load_config(overrides=["task=ncbi-disease", "generation.min_words=3"])
    prompts = ComposePrompts(inputs=StageInputs.for_config(config), done_rows=np.array([], dtype=np.int64))({"id": np.arange(3)})
    first, second = prompts["topic"][:2]
    # Rows 0 and 1 get the same reply, which names both their topics: the second is an exact duplicate.
    replies = [json.dumps({"sentence": f"Screening found {first} and {second} in several older adults.",
                           "entities": [first, second]})] * 2 + ["not json"]
    batch = {**prompts, "generated_text": replies, "num_input_tokens": [10] * 3, "num_generated_tokens": [5] * 3,
             "finish_reason": ["stop"] * 3}
    out = ParseReplies(inputs=StageInputs.for_config(config, "m"))(batch)
    text = json.loads(out["example"][0])["text"]
    assert out["dedup_signature"][0] == MinHasher().signature(normalise(text)).tobytes()
    assert out["dedup_signature"][2] is None and out["example"][2] is None
    dedup, buffer, run = Deduplicator(), ShardBuffer(), RunCounters()
    for row in [dict(zip(out, values)) for values in zip(*out.values())]:
        _absorb(row, dedup, buffer, run)
    assert buffer.rows == [0, 1, 2] and len(buffer.examples) == 1
    assert buffer.rejected_rows["exact_duplicate"] == 1 and sum(buffer.rejected_rows.values()) == 2
