"""Positive evidence that a listed NER mention is a name of the prompted type (clingen/parsing/evidence.py)."""

from __future__ import annotations

import functools
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clingen.kg.names import is_acronym
from clingen.parsing.evidence import NameEvidence, defined_long_form

pytestmark = pytest.mark.unit


@functools.lru_cache(maxsize=1)
def _default_graph_names() -> dict[str, list[str]]:
    from clingen.kg.graph import KnowledgeGraph
    from clingen.kg.source import DEFAULT_KG_DIR
    graph = KnowledgeGraph.load(DEFAULT_KG_DIR)
    return {kind: graph.names_of_type(kind) for kind in ("disease", "symptom", "side_effect", "chemical", "anatomy")}


@functools.lru_cache(maxsize=1)
def _disease_evidence() -> NameEvidence:
    return NameEvidence.from_names_by_type(_default_graph_names(), "disease")


# The kept spans the issue read in a README run, each with its verdict: a name of a disease or not.
@pytest.mark.parametrize("mention, text, has_evidence", [
    ("new treatment for elephantiasis", "", False),   # a clause holding the topic
    ("new treatment for adult respiratory distress syndrome", "", False),  # found by Hypothesis
    ("new treatment for glioblastoma mesenchymal subtype", "", False),     # found by Hypothesis
    ("acute inflammation of lacrimal passage patients", "", False),        # found by Hypothesis
    ("EINOCENTER ENSEMBLY", "", False),               # invented strings
    ("E-NONEE-EINECOLYXANAM ENSEMBLY", "", False),
    ("teeth", "", False),                             # a body part
    ("skeletal system", "", False),                   # a body part whose head leads 14 graph disease names
    ("Emerging Disease", "", False),                  # a type word after a generic modifier
    ("Disease Parturient Paresis", "", False),        # the type word glued to the name
    ("Pseudorabies 2023", "", False),                 # a year is no subtype
    ("non-cancerous", "", False),                     # a negation
    ("Coronary Vessel Anomalies (CVA), a disease", "", False),  # a clause after the name
    ("rare disorders", "", False),
    ("Diseases and Conditions", "", False),           # a second held-out sample of a seed-1 run
    ("aggressive disease", "", False),
    ("cancer patients", "", False),                   # people, not a disease
    ("elephantiasis", "", True),
    ("A-fib", "", True),                              # a graph name, not the article "a"
    ("Huntington's disease", "", True),
    ("type 2 diabetes mellitus", "", True),
    ("hereditary nonpolyposis colorectal cancer", "", True),
    ("VLCAD deficiency", "", True),                   # a disease head noun
    ("tumors", "", True),
    ("Pendred syndrome", "", True),                   # an eponym the graph does not hold
    ("autosomal recessive disorder", "", True),       # a disease class
    ("retinoblastomas", "", True),                    # a disease word form
    ("epileptic", "", True),                          # the adjective of a graph name
    ("DMD", "Boys with Duchenne muscular dystrophy (DMD) lose strength.", True),
    ("DMD", "Boys with DMD lose strength.", False),   # an acronym the text does not define
    ("XYZ", "A zebra fever (XYZ) was seen.", False),  # defined, but its letters are not the long form's
])
def test_the_issue_cases_get_their_verdict(mention, text, has_evidence):
    assert (_disease_evidence().kind(mention, text) is not None) is has_evidence


def test_defined_long_form_follows_schwartz_hearst():
    assert defined_long_form("DMD", "in Duchenne muscular dystrophy (DMD) and") == "Duchenne muscular dystrophy"
    assert defined_long_form("HD", "Huntington's disease (HD), a") == "Huntington's disease"
    assert defined_long_form("HD", "the HD gene") is None
    assert defined_long_form("ABC", "a b c (XYZ)") is None


@given(st.data())
def test_every_graph_name_has_evidence_however_it_is_written(data):
    """A graph disease name stays a name with an article, another case, a plural or hyphens for spaces."""
    names = [name for name in _default_graph_names()["disease"]
             if not is_acronym(name) and re.fullmatch(r"[A-Za-z' \-]+", name)]
    name = data.draw(st.sampled_from(names))
    written = data.draw(st.sampled_from([name, name.lower(), f"the {name}", name.replace(" ", "-"),
                                         name.upper() if len(name.split()) > 1 else name]))
    assert _disease_evidence().kind(written) is not None, written


@given(st.data())
def test_a_graph_name_inside_a_clause_is_no_name(data):
    """The topic inside a phrase about something else ('treatment for X', 'X patients') is not a disease name."""
    names = [name for name in _default_graph_names()["disease"] if re.fullmatch(r"[a-z][a-z ]+[a-z]", name)]
    name = data.draw(st.sampled_from(names))
    phrase = data.draw(st.sampled_from([f"new treatment for {name}", f"{name} patients", f"risk of {name}",
                                        f"{name} research", f"management of {name}"]))
    assert _disease_evidence().kind(phrase) is None, phrase


def _conll_mentions(path):
    mentions, tokens, tags = [], [], []
    for line in list(path.read_text(encoding="utf-8").splitlines()) + [""]:
        if line.strip():
            token, tag = line.split("\t")[0], line.split("\t")[-1]
            tokens.append(token)
            tags.append(tag)
            continue
        text = " ".join(tokens)
        current: list[str] = []
        for token, tag in zip(tokens + [""], tags + ["O"]):
            if current and not tag.startswith("I-"):
                mentions.append((" ".join(current), text))
                current = []
            if tag.startswith("B-"):
                current = [token]
            elif tag.startswith("I-") and current:
                current.append(token)
        tokens, tags = [], []
    return mentions


def _untokenised(text: str) -> str:
    return re.sub(r" ([-/]) ", r"\1", text).replace("( ", "(").replace(" )", ")").replace(" ' s", "'s")


@pytest.mark.parametrize("corpus, most_without", [("ncbi-disease", 0.078), ("bc5cdr-disease", 0.086)])
def test_gold_training_mentions_have_evidence(shared_dir, corpus, most_without):
    """Measured 2026-12-07: 7.5% of NCBI-disease's and 8.4% of BC5CDR-disease's gold training mentions (acronyms
    aside: most are defined in an earlier sentence) have no evidence. The rule costs rows, never gold names."""
    evidence = _disease_evidence()
    mentions = [(_untokenised(m), _untokenised(t)) for m, t in
                _conll_mentions(shared_dir / "data" / "eval" / corpus / "train.tsv")]
    names = [(m, t) for m, t in mentions if not (" " not in m and is_acronym(m))]
    without = [m for m, t in names if evidence.kind(m, t) is None]
    assert len(names) > 3000
    assert len(without) / len(names) <= most_without, sorted(set(without))[:50]


def test_an_invented_word_sharing_a_names_stem_is_no_adjective_of_it():
    assert _disease_evidence().kind("encephalitozus") is None  # a README run's 'acute infectious encephalitozus'
    assert _disease_evidence().kind("seizure") == "graph_name"  # the graph's 'Seizures', singular


def test_an_abbreviation_the_text_defines_for_a_labelled_name_is_labelled_wherever_it_stands():
    from clingen.datasets.records import Span
    from clingen.parsing.evidence import abbreviation_spans
    text = "Adrenogenital Syndrome (ADS) is rare; ADS affects growth, not ADSL or the ads."
    spans = [Span(0, 22, "Disease", "Adrenogenital Syndrome")]
    found = abbreviation_spans(text, spans)
    assert [(s.start, s.end, s.type, s.text) for s in found] == [(24, 27, "Disease", "ADS"), (38, 41, "Disease", "ADS")]
    # Letters that do not fit the name define nothing; an abbreviation already inside a span is not labelled twice.
    assert abbreviation_spans("Adrenogenital Syndrome (XYZ) is rare; XYZ.", spans) == []
    assert abbreviation_spans(text, spans + found) == []


@given(st.text(alphabet="abcdefghij ", min_size=0, max_size=40), st.sampled_from(["DMD", "ALS", "HD"]))
def test_abbreviation_spans_never_overlap_the_spans_they_extend(filler, acronym):
    from clingen.datasets.records import Span
    from clingen.parsing.evidence import abbreviation_spans
    long_forms = {"DMD": "Duchenne muscular dystrophy", "ALS": "amyotrophic lateral sclerosis", "HD": "Huntington disease"}
    name = long_forms[acronym]
    text = f"{filler} {name} ({acronym}) {filler} {acronym}."
    start = text.index(name)
    spans = [Span(start, start + len(name), "Disease", name)]
    found = abbreviation_spans(text, spans)
    assert found and all(text[s.start:s.end] == acronym for s in found)
    everything = sorted((s.start, s.end) for s in spans + found)
    assert all(a[1] <= b[0] for a, b in zip(everything, everything[1:]))


@pytest.mark.parametrize("text, classes", [
    ("Bowen-Conradi syndrome is a rare neurodegenerative disorder characterized by degeneration.",
     ["neurodegenerative disorder"]),                                  # README runs, 2026-12-07
    ("Megaesophagus is a genetic disorder that affects the skeletal system.", ["genetic disorder"]),
    ("Fungal esophagitis is a parasitic disease of the gut.", ["Fungal esophagitis", "parasitic disease"]),
    ("Adrenogenital Syndrome (ADS), a rare and debilitating endocrine disorder, affects millions",
     ["endocrine disorder"]),
    ("This disease is a serious disease. Many diseases are complex conditions.", []),  # generic words only
    ("It is an aggressive disease of new human diseases.", []),
    ("The disease, genetic or not, is rare.", []),
    ("It is caused by a type of hemorrhagic fever and a brain tumor, not chronic pain.",
     ["hemorrhagic fever", "brain tumor"]),                            # disease head nouns after qualifiers
    ("It forms tumors, not a deficiency.", ["tumors"]),                # a head of 500+ graph names, alone
])
def test_class_mentions_are_completed_with_their_qualifiers_only(text, classes):
    assert [span.text for span in _disease_evidence().class_spans(text, [], "Disease")] == classes


def test_class_mentions_never_overlap_labelled_spans():
    from clingen.datasets.records import Span
    text = "Fabry disease is a genetic disorder."
    spans = [Span(19, 35, "Disease", "genetic disorder")]
    # ('Fabry disease' is the gazetteer's: an eponym is no class qualifier.)
    assert _disease_evidence().class_spans(text, spans, "Disease") == []


def test_the_gazetteer_finds_a_plural_graph_name_in_the_singular_and_back():
    from clingen.parsing.gazetteer import Gazetteer
    gazetteer = Gazetteer(["Bacterial Infections", "tumor", "fibrosis", "ALL"], "Disease")
    text = "A bacterial infection, two tumors, fibrosis and fibrosi; all ALL."
    assert [span.text for span in gazetteer.find(text, [])] == ["bacterial infection", "tumors", "fibrosis", "ALL"]


def test_a_generic_class_is_no_completion():
    evidence = _disease_evidence()
    assert evidence.is_generic_class("rare disease") and evidence.is_generic_class("Rare Diseases")
    assert not evidence.is_generic_class("genetic disease") and not evidence.is_generic_class("rare")
    assert evidence.class_spans("It is a medical condition, a serious illness.", [], "Disease") == []


def test_completion_prefers_a_class_mention_to_the_graph_name_inside_it():
    from clingen.parsing.gazetteer import Gazetteer
    from clingen.parsing.parsers import _completed
    text = "A parasitic infection of the skin and a meningioma tumor; rare disease."
    gazetteer = Gazetteer(["infection", "meningioma", "Rare Diseases"], "Disease")
    found = sorted(_completed(text, [], gazetteer, _disease_evidence()), key=lambda s: s.start)
    assert [s.text for s in found] == ["parasitic infection", "meningioma tumor"]


def test_class_qualifiers_are_adjectives_body_parts_or_disease_names():
    text = "A water vascular plant infection, an autoimmune disease and a lung disease."
    assert [s.text for s in _disease_evidence().class_spans(text, [], "Disease")] == ["autoimmune disease",
                                                                                       "lung disease"]
