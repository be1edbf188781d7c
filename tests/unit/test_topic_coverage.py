"""Topic coverage counts a row as covering its topic only where the parse stage would find the topic's name
(issue #34): "met" does not cover the gene MET, nor "asthmatic" the disease asthma. Checked against the parser's
own labelling (parsing.mentions.label_spans, fidelity.relation_problem) over random names and texts."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from hypothesis import given, strategies as st

from clingen.errors import DataFormatError
from clingen.parsing.fidelity import relation_problem
from clingen.parsing.mentions import label_spans
from clingen.quality.metrics import topic_coverage

pytestmark = pytest.mark.unit

# A relation spec without masks: each entity counts only by name, as a topic does.
NAMES_ONLY = SimpleNamespace(head_role="gene", tail_role="disease", head_mask=None, tail_mask=None)

WORDS = st.sampled_from(["MET", "BRCA1", "mTOR", "IL-6", "asthma", "lung", "cancer", "Sjögren", "syndrome",
                         "Crohn's", "ödem", "type 2", "diabetes", "ſepsis", "AIDS"])
NAMES = st.lists(WORDS, min_size=1, max_size=3).map(" ".join)


@st.composite
def mentions(draw, name: str) -> str:
    """`name` as a text might hold it: as written, in another case, hyphenated, pluralised, glued to a word."""
    form = draw(st.sampled_from([name, name.lower(), name.upper(), name.title(), name.replace(" ", "-")]))
    return draw(st.sampled_from(["", "x", "pre"])) + form + draw(st.sampled_from(["", "s", "es", "tic", "'s"]))


FILLER = st.lists(st.sampled_from(["patients", "met", "criteria", "with", "é", "(", ")", ",", "AS", "in", "\n"]),
                  max_size=4).map(" ".join)


@st.composite
def rows(draw) -> tuple[str, str]:
    """(topic, text): a topic ('name' or 'head / tail') and a text that may or may not hold its names."""
    names = draw(st.lists(NAMES, min_size=1, max_size=2))
    parts = [draw(FILLER)]
    for name in names:
        parts += [draw(mentions(name)) if draw(st.booleans()) else draw(NAMES), draw(FILLER)]
    return " / ".join(names), " ".join(parts)


def parser_finds(topic: str, text: str) -> bool:
    """Whether the parse stage finds the topic in the text: it labels a single name as a span, and counts a
    relation's head and tail as present."""
    names = topic.split(" / ")
    if len(names) == 2:
        return relation_problem(NAMES_ONLY, text, *names) is None
    spans, _ = label_spans(text, [], ("Topic", names[0]))
    return any(span.type == "Topic" for span in spans)


@given(st.lists(rows(), min_size=1, max_size=6), st.lists(st.sampled_from([None, "", "  ", " / "]), max_size=3))
def test_a_row_covers_its_topic_where_the_parser_finds_it(covered, untopical):
    topics = [topic for topic, _ in covered] + untopical
    texts = [text for _, text in covered] + ["asthma met MET"] * len(untopical)
    found = [parser_finds(topic, text) for topic, text in covered]
    assert topic_coverage(topics, texts) == pytest.approx(sum(found) / len(found))
    for topic, text in covered:
        assert topic_coverage([topic], [text]) == float(parser_finds(topic, text)), (topic, text)


def test_words_that_only_look_like_the_topic_do_not_cover_it():
    assert topic_coverage(["MET"], ["Patients met the criteria."]) == 0.0  # was 1.0: case-folded substring
    assert topic_coverage(["asthma"], ["Asthmatic children wheeze."]) == 0.0  # was 1.0: inside a longer word
    assert topic_coverage(["MET / lung cancer"], ["We met with lung cancer patients."]) == 0.0
    assert topic_coverage(["MET / lung cancer"], ["MET amplification in Lung-Cancers."]) == 1.0
    assert topic_coverage(["asthma", "AIDS"], ["Asthma in children.", "hearing aids"]) == 0.5
    assert topic_coverage([" / ", None], ["a", "b"]) is None  # a topic with no name is no topic
    with pytest.raises(DataFormatError, match="1 topics but 2 texts"):
        topic_coverage(["MET"], ["a", "b"])


def test_a_relation_entity_only_inside_the_others_name_does_not_cover_it():
    """Found by Hypothesis: head 'MET' occurs only inside the tail 'MET MET', as the parser judges it."""
    assert topic_coverage(["MET / MET MET"], [" MET  MET "]) == 0.0
    assert topic_coverage(["MET / lung cancer"], ["MET amplification in lung cancer"]) == 1.0
