"""The reply schema asks for a name exactly as the parser finds it (issue #34): constrained decoding may write the
gene MET only as "MET", never "met" (the verb the parser refuses), and any other name in every case, spacing and
plural the parser's matcher (parsing.mentions.find_mentions) accepts. Checked with Python's re on the schema's
pattern string, against find_mentions over random names (acronyms, hyphens, plurals, non-ASCII), and on xgrammar,
which compiles the pattern for vLLM."""

from __future__ import annotations

import json
import re
import sys
import unicodedata
from functools import lru_cache

import pytest
from hypothesis import given, settings, strategies as st

from clingen.kg.names import is_acronym, is_shouted
from clingen.parsing.fidelity import relation_problem
from clingen.parsing.mentions import find_mentions, name_pattern
from clingen.prompts import schemas
from clingen.prompts.schemas import entity_pattern, name_regex, reply_schema
from clingen.tasks.registry import get_task

pytestmark = pytest.mark.unit

GAD = get_task("gad")
HEAD_MASK, TAIL_MASK = GAD.head_mask, GAD.tail_mask
ALL = "".join(map(chr, range(sys.maxunicode + 1)))

# Name words: acronyms (kept in their case), mixed-case symbols, words in any case with non-ASCII letters whose
# case partners are unusual in Python (ſ ~ s, K ~ k, İ ~ i ~ ı, ς ~ σ, µ ~ μ, ẞ ~ ß), numbers and brackets.
ACRONYM = st.from_regex(r"[A-Z]{2,4}[0-9]?|[a-z][A-Z]{2,3}|[A-Z][a-z]?[A-Z]", fullmatch=True)
WORD = st.text(st.sampled_from(list("aeiklmnorstyzABEIKLMS") + list("éüßſıİσςΣµμθϑẞåÅ\u00ad")), min_size=1, max_size=7)
OTHER = st.sampled_from(["2", "(T2D)", "Ca2+", "α", "II", "1,2", "p53", "'s", "A"])
NAMES = st.lists(st.one_of(ACRONYM, WORD, OTHER), min_size=1, max_size=4).flatmap(
    lambda words: st.lists(st.sampled_from([" ", "-", " - ", "\u00a0", "  "]), min_size=len(words) - 1,
                           max_size=len(words) - 1).map(
        lambda gaps: words[0] + "".join(gap + word for gap, word in zip(gaps, words[1:]))))


@lru_cache(maxsize=None)
def cased() -> str:
    return "".join(c for c in ALL if c.lower() != c or c.upper() != c)


def partners(char: str) -> list[str]:
    """The character and those Python's case-insensitive matching pairs with it."""
    return sorted({char, *re.findall(f"(?i:{re.escape(char)})", cased())})


def spellings(char: str) -> list[str]:
    """The ways a model might write one character of a name: as it is, in the other case, or as any character
    Python's case-insensitive matching pairs with it."""
    forms = {char.upper(), char.lower(), char.swapcase(), *partners(char)}
    return sorted(form for form in forms if len(form) == 1)


GAPS = [" ", "-", "\u00a0", "\u2009", " -", "\u3000"]  # runs of spaces or hyphens
PLURALS = ["s", "es", "S", "ES", "\u017f"]


@st.composite
def surfaces(draw, name: str, valid: bool = False) -> str:
    """A way of writing `name` in a reply: each character in some case, each gap between words as a run of
    spaces or hyphens or as something else, and a plural ending or another ending or none. With `valid`, only
    the spellings the parser accepts: acronyms as written, other words in any case, gaps of spaces or hyphens,
    a plural only after a word in any case that ends in a letter."""
    out, shouted, exact = [], is_shouted(name), False
    for piece in re.split(r"([\s\-]+)", name.strip()):
        if re.fullmatch(r"[\s\-]+", piece):
            out.append(draw(st.sampled_from(GAPS if valid else [*GAPS, "_", "", "/", piece])))
        else:
            exact = is_acronym(piece) and not shouted
            out.extend(char if valid and exact else draw(st.sampled_from(partners(char) if valid else spellings(char)))
                       for char in piece)
    plural_allowed = name.strip()[-1].isalpha() and not exact
    endings = ["", *PLURALS] if plural_allowed else [""]
    return "".join(out) + draw(st.sampled_from(endings if valid else ["", "", *PLURALS, "x", "'s", "ing"]))


@given(NAMES, st.data())
def test_the_schema_spells_a_name_exactly_as_the_parser_finds_it(name, data):
    regex = name_regex(name)
    assert (regex is None) == (name_pattern(name) is None)
    surface = data.draw(surfaces(name))
    assert bool(re.fullmatch(regex, surface)) == ((0, len(surface)) in find_mentions(surface, name)), (regex, surface)


def test_an_acronym_keeps_its_case_and_other_words_take_any_case():
    assert name_regex("MET") == "MET"  # was [Mm][Ee][Tt]: the model wrote "met", which the parser refused
    pattern = entity_pattern(HEAD_MASK, TAIL_MASK, "MET", "lung cancer")
    assert re.fullmatch(pattern, "MET amplification was found in Lung Cancers.")
    assert not re.fullmatch(pattern, "Patients met criteria for lung cancer screening.")
    assert not re.fullmatch(pattern, "METs were found in lung cancer.")  # not the whole word
    assert re.fullmatch(pattern, "@GENE$ was found in lung-cancer.")
    # A name in capitals throughout that is not an acronym (OMIM) is matched in any case, as the parser does.
    shouted = entity_pattern(HEAD_MASK, TAIL_MASK, "BRCA1", "BREAST-OVARIAN CANCER, FAMILIAL")
    assert re.fullmatch(shouted, "BRCA1 in breast ovarian cancer, familial forms.")


def test_a_name_a_reply_cannot_carry_raw_is_asked_for_by_its_mask():
    pattern = entity_pattern(HEAD_MASK, TAIL_MASK, '5"-nucleotidase', "gout")
    assert name_regex('5"-nucleotidase') is None and name_regex("  ") is None
    assert re.fullmatch(pattern, "@GENE$ levels were high in gout.")
    assert not re.fullmatch(pattern, "5-nucleotidase levels were high in gout.")


# Mostly what prose holds, now and then a mask, a character JSON must escape or a CJK bracket.
ALPHABET = list("aZ1_é ,(-.;\u00a0ß") * 4 + list("\u300c@$\"\\\n") + ["@GENE$", "@DISEASE$"]


@st.composite
def relation_sentences(draw):
    """(head, tail, sentence): the two entities, each by mask or by some spelling of its name, in either order
    between random text of word characters, spaces, punctuation, masks and characters JSON must escape."""
    head, tail = draw(NAMES), draw(NAMES)
    text = st.lists(st.sampled_from(ALPHABET), max_size=5).map("".join)
    entities = [draw(st.sampled_from([HEAD_MASK, None])) or draw(surfaces(head, valid=draw(st.booleans()))),
                draw(st.sampled_from([TAIL_MASK, None])) or draw(surfaces(tail, valid=draw(st.booleans())))]
    if draw(st.booleans()):
        entities.reverse()
    return head, tail, draw(text) + entities[0] + draw(text) + entities[1] + draw(text)


@given(relation_sentences())
def test_what_the_schema_lets_through_the_parser_keeps(case):
    head, tail, sentence = case
    if re.fullmatch(entity_pattern(HEAD_MASK, TAIL_MASK, head, tail), sentence):
        assert relation_problem(GAD, sentence, head, tail) is None, sentence


BOUNDARY = [" ", ", ", " (", ") ", "-", "\u00a0", "\u2014", "/", "\u201c"]


@given(NAMES, NAMES, st.data())
def test_every_sentence_with_both_entities_as_whole_words_fits_the_schema(head, tail, data):
    text = st.text(st.sampled_from(list("ab Z1é,.;()-")), max_size=8)
    spelled = []
    for name, mask in ((head, HEAD_MASK), (tail, TAIL_MASK)):
        surface = data.draw(surfaces(name, valid=True))
        assert (0, len(surface)) in find_mentions(surface, name), (name, surface)  # as the parser reads it
        spelled.append(data.draw(st.sampled_from([mask, surface])))
    first, second = spelled if data.draw(st.booleans()) else spelled[::-1]
    edge = st.sampled_from(BOUNDARY)
    sentence = (data.draw(st.sampled_from(["", data.draw(text) + data.draw(edge)])) + first + data.draw(edge)
                + data.draw(text) + data.draw(edge) + second + data.draw(edge) + data.draw(text))
    assert re.fullmatch(entity_pattern(HEAD_MASK, TAIL_MASK, head, tail), sentence), sentence


def test_the_case_partners_and_spaces_cover_all_of_unicode():
    """name_regex reads case partners off the characters with a case mapping and spaces below U+3001: no other
    character pairs with a letter under re.IGNORECASE, and no other is a space to re's \\s."""
    table = schemas._cased_characters()
    anything_cased, listed = re.compile("(?i:[" + "".join(map(re.escape, table)) + "])"), set(table)
    assert anything_cased.findall("".join(c for c in ALL if c not in listed)) == []
    spaces = {c for c in ALL if re.match(r"\s", c) and unicodedata.category(c) != "Cc"}
    assert spaces == set(schemas._SPACES)
    boundary = [c for c in ALL if re.fullmatch(schemas._BOUNDARY, c)]
    assert boundary and not [c for c in boundary if re.match(r"\w", c) or c in '@"\\\n']


@lru_cache(maxsize=1)
def compiler():
    xgrammar = pytest.importorskip("xgrammar")
    from transformers import AutoTokenizer

    from clingen.generation.models import resolve_model_source
    tokenizer = AutoTokenizer.from_pretrained(resolve_model_source("embedded:smollm2-135m-instruct"))
    return xgrammar, xgrammar.GrammarCompiler(xgrammar.TokenizerInfo.from_huggingface(tokenizer))


@settings(max_examples=25)  # ~50 ms to compile each row's grammar
@given(relation_sentences())
def test_xgrammar_reads_the_pattern_as_python_does(case):
    """The pattern's dialect: the character classes of non-ASCII case partners and spaces, and the boundaries,
    mean the same to xgrammar (what vLLM enforces) as to Python's re (what the tests above check)."""
    head, tail, sentence = case
    xgrammar, compile_ = compiler()
    schema = reply_schema(GAD, max_words=120, max_tokens=256, min_words=5, head=head, tail=tail)
    matcher = xgrammar.GrammarMatcher(compile_.compile_json_schema(json.dumps(schema)))
    reply = json.dumps({"sentence": sentence}, ensure_ascii=False)
    accepted = matcher.accept_string(reply) and matcher.is_completed()
    assert accepted == bool(re.fullmatch(schema["properties"]["sentence"]["pattern"], sentence)), sentence
