"""Relation inputs keep what the text says (issue #34): training and serving mark the head and tail where the parser
found them (parsing.mentions: whole words, acronyms in their case), so "met" stays a verb beside the gene MET, and
marking is undone exactly, for random texts with acronyms, names inside names, several sentences and non-ASCII."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest
from hypothesis import assume, given, strategies as st

from clingen.datasets.records import RelationExample
from clingen.errors import DataFormatError
from clingen.parsing.mentions import find_mentions
from clingen.tasks.registry import get_task
from clingen.training.labels import encode_relation_text, relation_mentions

pytestmark = pytest.mark.unit

GAD = get_task("gad")
MARKERS = SimpleNamespace(head_mask=None, tail_mask=None)
MASKS = SimpleNamespace(head_mask="@GENE$", tail_mask="@DISEASE$")

# Words of names (never fillers) and fillers (never name words, never an acronym in lower case).
NAME_WORDS = ["cancer", "breast", "syndrome", "sjögren", "naïve", "cataract", "lung", "crohn", "β-thalassemia",
              "déjà", "amyloidosis", "renal", "adénome", "ödem"]
FILLERS = ["smokers", "who", "the", "screening", "criteria", "and", "carried", "amplification", "patients", "in",
           "über", "résumé", "mg/kg", "(+)-x", "IL-6", "5", "with", "Größe", "naïvely", "an", "of", "é"]
UPPER = "ABCDEFGHIJKLMNOPRSTUVWXYZÄÖÜ"


@st.composite
def acronyms(draw) -> str:
    """Gene-symbol-like: 2-5 capitals (non-ASCII ones too), maybe a digit (MET, BRCA1, ÖZ)."""
    letters = draw(st.text(UPPER, min_size=2, max_size=5))
    return letters + draw(st.sampled_from(["", "", "1", "2"]))


@st.composite
def names(draw) -> str:
    """An acronym, a name of lower-case words, or both ("BRCA1 cancer"); never all capitals over several words
    (OMIM's shouted names, which the parser matches in any case)."""
    kind = draw(st.sampled_from(["acronym", "words", "mixed"]))
    words = draw(st.lists(st.sampled_from(NAME_WORDS), min_size=1, max_size=3, unique=True))
    if kind == "acronym":
        return draw(acronyms())
    if kind == "mixed":
        return f"{draw(acronyms())} {words[0]}"
    return " ".join(words)


def _is_acronym(word: str) -> bool:
    return sum(char.isupper() for char in word) >= 2


@st.composite
def surfaces(draw, name: str) -> str:
    """How a text may write `name` and still be it: acronyms as written, other words in any case, a space or a
    hyphen between words."""
    parts = []
    for word in name.split(" "):
        if _is_acronym(word):
            parts.append(word)
        else:
            parts.append(draw(st.sampled_from([word, word.upper(), word.capitalize()])))
    return "".join(part + (draw(st.sampled_from([" ", "-"])) if i < len(parts) - 1 else "")
                   for i, part in enumerate(parts))


def decoys(name: str) -> list[str]:
    """Words that look like `name` but are not it: an acronym in lower or title case ("met", "Met" for MET), or
    the name glued together and to more letters (one word, so that it holds no whole word of another name)."""
    out = [name.replace(" ", "") + "oid", "pre" + name.replace(" ", "")]
    if " " not in name and _is_acronym(name):
        out += [name.lower(), name.capitalize()]
    return [word for word in out if word != name]


@st.composite
def relation_texts(draw):
    """(text, head, tail, planted, decoyed): the text, and the character ranges where the head or tail was written
    (`planted`, with the role) and where a look-alike was (`decoyed`). The tail may be a word of the head's name."""
    head = draw(names())
    tail = draw(st.one_of(names(), st.sampled_from(head.split(" "))))
    assume(head != tail and head.casefold() != tail.casefold())
    pieces: list[tuple[str, str | None]] = []  # (written text, role planted / "decoy" / None)
    for _ in range(draw(st.integers(1, 14))):
        kind = draw(st.sampled_from(["filler", "filler", "head", "tail", "decoy", "stop"]))
        if kind in ("head", "tail"):
            pieces.append((draw(surfaces(head if kind == "head" else tail)), kind))
        elif kind == "decoy":
            pieces.append((draw(st.sampled_from(decoys(head) + decoys(tail))), "decoy"))
        elif kind == "stop":
            pieces.append((".", None))
        else:
            pieces.append((draw(st.sampled_from(FILLERS)), None))
    text, planted, decoyed = "", [], []
    for written, role in pieces:
        text += " " if text else ""
        start = len(text)
        text += written
        if role == "decoy":
            decoyed.append((start, len(text)))
        elif role:
            planted.append((start, len(text), role))
    return text, head, tail, planted, decoyed


_MARKED = re.compile(r"\[(E1|E2)\] (.*?) \[/\1\]")


def unmark(encoded: str) -> tuple[str, list[tuple[int, int, str]]]:
    """The text without [E1]/[E2] markers, and the marked (start, end, role) ranges in it."""
    text, spans, at = "", [], 0
    for match in _MARKED.finditer(encoded):
        text += encoded[at:match.start()]
        start = len(text)
        text += match.group(2)
        spans.append((start, len(text), "head" if match.group(1) == "E1" else "tail"))
        at = match.end()
    return text + encoded[at:], spans


def _covered(start: int, end: int, spans) -> bool:
    return any(s < end and start < e for s, e, *_ in spans)


def _encode_or_refusal(text: str, head: str, tail: str, spec) -> str | None:
    """The encoded text, or None when the encoder refused it, after checking that the refusal is right: the name
    it names is found nowhere but inside the other name, and no written occurrence of it stood alone."""
    try:
        return encode_relation_text(text, head, tail, spec)
    except DataFormatError as exc:
        role = "head" if str(exc).startswith("relation head") else "tail"
        name, other = (head, tail) if role == "head" else (tail, head)
        assert all(_covered(start, end, find_mentions(text, other)) for start, end in find_mentions(text, name))
        return None


@given(relation_texts())
def test_marking_round_trips_and_marks_what_the_parser_finds(case) -> None:
    text, head, tail, planted, decoyed = case
    encoded = _encode_or_refusal(text, head, tail, MARKERS)
    alone = {role for start, end, role in planted
             if not _covered(start, end, find_mentions(text, tail if role == "head" else head))}
    assert encoded is not None or alone != {"head", "tail"}  # both written on their own: never refused
    if encoded is None:
        return
    restored, spans = unmark(encoded)
    assert restored == text  # nothing but the markers was added, removed or changed
    assert {role for *_, role in spans} == {"head", "tail"}  # both entities are marked
    for start, end, role in spans:  # each marked range is the whole entity, as the parser reads it
        assert find_mentions(text[start:end], head if role == "head" else tail) == [(0, end - start)]
    assert all(s1 >= e0 for (_, e0, _), (s1, _, _) in zip(spans, spans[1:]))  # in order, never overlapping
    for start, end, role in planted:  # every occurrence written is marked (a name inside the other name with it)
        assert _covered(start, end, spans), (text[start:end], role)
    for name in (head, tail):  # and so is every one the parser finds
        assert all(_covered(start, end, spans) for start, end in find_mentions(text, name))
    for start, end in decoyed:  # look-alikes never are: "met" is not MET
        assert not _covered(start, end, spans), text[start:end]


@given(relation_texts())
def test_masks_replace_exactly_the_marked_ranges(case) -> None:
    text, head, tail, _, _ = case
    marked = _encode_or_refusal(text, head, tail, MARKERS)
    if marked is None:
        with pytest.raises(DataFormatError):
            encode_relation_text(text, head, tail, MASKS)
        return
    masked = encode_relation_text(text, head, tail, MASKS)
    assert masked == _MARKED.sub(lambda m: MASKS.head_mask if m.group(1) == "E1" else MASKS.tail_mask, marked)
    # unmasking: each mask, in order, back to the surface it replaced, gives the text again
    _, spans = unmark(marked)
    surfaces_in_order = iter(text[start:end] for start, end, _ in spans)
    assert re.sub(r"@GENE\$|@DISEASE\$", lambda _: next(surfaces_in_order), masked) == text
    assert [(m.start, m.end, m.role) for m in relation_mentions(text, head, tail)] == spans


@given(acronyms(), st.sampled_from(["cancer", "lung cancer", "sjögren syndrome"]))
def test_lower_case_words_equal_to_an_acronym_stay_words(symbol, disease) -> None:
    text = f"Smokers who {symbol.lower()} the criteria carried {symbol} and {disease}; {symbol.capitalize()} too."
    masked = encode_relation_text(text, symbol, disease, MASKS)
    assert masked == f"Smokers who {symbol.lower()} the criteria carried @GENE$ and @DISEASE$; " \
                     f"{symbol.capitalize()} too."


def test_the_issue_sentence_keeps_met_was_and_cat() -> None:
    text = "Smokers who met the screening criteria and carried MET amplification was CAT; WAS and cat too."
    assert encode_relation_text(text + " Lung cancer.", "MET", "lung cancer", GAD) == \
        "Smokers who met the screening criteria and carried @GENE$ amplification was CAT; WAS and cat too. " \
        "@DISEASE$."
    assert encode_relation_text(text + " Lung cancer.", "WAS", "CAT", GAD) == \
        "Smokers who met the screening criteria and carried MET amplification was @DISEASE$; @GENE$ and cat " \
        "too. Lung cancer."


def test_a_name_inside_the_other_name_is_marked_once_with_the_longer() -> None:
    text = "BRCA1-associated breast cancer and breast cancer in BRCA1 carriers."
    assert encode_relation_text(text, "BRCA1", "BRCA1-associated breast cancer", GAD) == \
        "@DISEASE$ and breast cancer in @GENE$ carriers."
    # the plural the parser accepts; the tail inside the head is the head's, the one alone is the tail
    assert encode_relation_text("Breast cancers and a cancer in mice", "breast cancer", "cancer", MARKERS) == \
        "[E1] Breast cancers [/E1] and a [E2] cancer [/E2] in mice"


def test_a_name_the_text_does_not_carry_is_refused_not_passed_on_unmasked() -> None:
    with pytest.raises(DataFormatError, match=r"relation head 'MET' does not occur in the text 'Smokers who met "
                                              r"the criteria had lung cancer.'; expected it as a whole word"):
        encode_relation_text("Smokers who met the criteria had lung cancer.", "MET", "lung cancer", GAD)
    with pytest.raises(DataFormatError, match=r"tail 'cancer' occurs only inside the other entity's name"):
        encode_relation_text("BRCA1 and breast cancer.", "breast cancer", "cancer", MARKERS)
    # the mask standing in for the name is what the parser accepts too (fidelity.relation_problem)
    assert encode_relation_text("MET and @DISEASE$.", "MET", "lung cancer", GAD) == "@GENE$ and @DISEASE$."
    record = RelationExample("r-9", "Smokers who met the criteria had lung cancer.", "Has_relation", "MET",
                             "lung cancer")
    from clingen.training.features import Featurizer
    with pytest.raises(DataFormatError, match=r"relation example 'r-9': relation head 'MET' does not occur"):
        Featurizer(GAD, _word_level_tokenizer(), 32).encode([record])


def _word_level_tokenizer():
    """A tiny fast tokenizer (whitespace words, case kept) so that the test needs no downloaded encoder."""
    transformers = pytest.importorskip("transformers")
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "@GENE$", "@DISEASE$", "met", "MET", "Smokers", "who", "the",
             "criteria", "carried", "had", "lung", "cancer", "."]
    tok = Tokenizer(models.WordLevel({word: i for i, word in enumerate(words)}, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit(),
                                                 pre_tokenizers.Punctuation(behavior="isolated")])
    tok.post_processor = processors.TemplateProcessing(single="[CLS] $A [SEP]",
                                                       special_tokens=[("[CLS]", 2), ("[SEP]", 3)])
    tok.add_tokens(["@GENE$", "@DISEASE$"])  # whole, as a real encoder's vocabulary extension would keep them
    return transformers.PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]",
                                                cls_token="[CLS]", sep_token="[SEP]")


def test_training_and_serving_feed_the_encoder_the_same_masked_text() -> None:
    torch = pytest.importorskip("torch")
    from clingen.training.card import ModelCard
    from clingen.training.features import Featurizer
    from clingen.training.predict import Predictor

    class Recorder(torch.nn.Module):
        """A classifier that records the input ids it is given and scores every label alike."""

        def __init__(self):
            super().__init__()
            self.config, self.seen = SimpleNamespace(num_labels=len(GAD.label_names)), []

        def forward(self, input_ids, attention_mask=None, token_type_ids=None):
            self.seen.extend(input_ids.tolist())
            return SimpleNamespace(logits=torch.zeros(input_ids.shape[0], len(GAD.label_names)))

    tokenizer, model = _word_level_tokenizer(), Recorder()
    text = "Smokers who met the criteria carried MET had lung cancer."
    record = RelationExample("r-1", text, GAD.label_names[0], "MET", "lung cancer")
    trained = Featurizer(GAD, tokenizer, 32).encode([record])["input_ids"]
    Predictor(model, tokenizer, ModelCard.from_spec(GAD, max_length=32)).predict_relations([(text, "MET",
                                                                                              "lung cancer")])
    assert model.seen == trained
    assert tokenizer.convert_ids_to_tokens(trained[0]) == \
        ["[CLS]", "Smokers", "who", "met", "the", "criteria", "carried", "@GENE$", "had", "@DISEASE$", ".", "[SEP]"]
