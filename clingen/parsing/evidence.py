"""Name evidence (parsing/filtering stage): is a listed NER mention a name of the prompted type?

Word lists can say what a mention is not (a pronoun, a placeholder, a body part); they cannot say that an
invented string ('EINOCENTER ENSEMBLY') or a clause holding the topic ('new treatment for elephantiasis') is not a
disease. This module asks for positive evidence instead, from the knowledge graph's names of the type:

- ``graph_name``: the mention is a graph name of the type (or of a type the corpora annotate as it: symptoms and
  side effects for diseases), up to case, separators, a plural and a leading article;
- ``ends_with_graph_name``: its head phrase (the words before a preposition) ends with such a name and what comes
  before it are modifiers ('type 2 diabetes mellitus', 'hereditary breast cancer of the young'); a bare type word
  such as 'disease' is not a name, so 'Emerging Disease' needs more than its head;
- ``type_word_with_name``: a bare type word after a specific modifier: an eponym the graph does not hold
  ('Pendred syndrome'), a symbol ('VHL disease') or a word that qualifies many graph names of the type
  ('autosomal recessive disorder'), but not a generic one ('Emerging Disease', 'rare disorders', 'chronic disease');
- ``head_noun``: its head is a noun that heads many graph names of the type ('tumor', 'carcinoma', 'deficiency'),
  the form the NCBI-disease and BC5CDR guidelines annotate for disease mentions ('VLCAD deficiency');
- ``word_form``: its head has the form of a disease word: a medical suffix ('-itis', '-osis', '-oma', '-emia',
  '-pathy') or the adjective of a graph name ('hypertensive' of 'hypertension');
- ``defined_abbreviation``: an abbreviation the text defines for a mention with evidence ('... dystrophy (DMD)'),
  or an acronym that is itself a graph name of the type ('ALS').

A listed mention with none of these is `mention_unverified`: its row goes to the failures, since dropping only the
mention would leave a real name untagged and teach the model that it is not one.

Measured on the gold training mentions (tests/unit/test_name_evidence.py pins it): of NCBI-disease's
5,134 and BC5CDR-disease's 4,182, every mention but 7.5% and 8.4% has evidence (acronyms aside: most are
defined in an earlier sentence of their abstract).
"""

from __future__ import annotations

import bisect
import re
from collections import Counter
from collections.abc import Iterable

from clingen.datasets.records import Span
from clingen.kg.names import is_acronym, natural_name

# Types whose names count as evidence for a prompted type: the corpora annotate symptoms and side effects as
# diseases ('pain', 'nausea', 'hepatotoxicity': 1,194 of BC5CDR-disease's gold mentions had no evidence without them).
EVIDENCE_TYPES: dict[str, tuple[str, ...]] = {
    "disease": ("disease", "symptom", "side_effect"),
    "chemical": ("chemical",),
}
# Medical word endings of diseases ('arthritis', 'fibrosis', 'melanoma', 'anaemia', 'neuropathy').
_DISEASE_SUFFIXES = ("itis", "itides", "osis", "oses", "oma", "omas", "omata", "emia", "aemia", "pathy", "pathies",
                     "algia", "plasia", "trophy", "ectasia", "megaly", "rrhea", "rrhoea", "penia", "cytosis", "iasis",
                     "ism", "isms", "uria", "plegia", "paresis", "toxicity", "toxicities")
FORM_SUFFIXES: dict[str, tuple[str, ...]] = {"disease": _DISEASE_SUFFIXES}
# Words that only name the type: a head of them is no evidence ('Emerging Disease', 'rare disorders').
TYPE_HEADS: dict[str, frozenset[str]] = {
    "disease": frozenset("disease disorder condition illness syndrome sickness ailment".split()),
    "chemical": frozenset("chemical drug compound medication medicine substance agent".split()),
}
# Modifiers that say how a disease behaves, not which one it is: before a bare type word they name no disease
# ('Emerging Disease', 'a chronic condition'). The graph's own rare qualifiers ('emerging': 1 name) are below
# MIN_MODIFIER_NAMES anyway; these are common in graph names but generic.
_GENERIC_MODIFIERS = frozenset("acute chronic severe mild rare common unknown new novel emerging other specific "
                               "multiple complex major minor fatal serious certain various different similar related "
                               "primary secondary late early progressive medical clinical deadly debilitating preventable aggressive human "
                               "devastating".split())
MIN_MODIFIER_NAMES = 3
_CLASS_WORDS = frozenset("disease disorder syndrome".split())
# Words of graph names that never qualify a class mention in running text ('the', 'of', 'and', 'with', 'this').
_NOT_QUALIFIERS = frozenset("the a an of and or with without in on at to for from by as is are was were be this "
                            "that these those such its their his her our my your which what who any some each every "
                            "no not other another many several few most all both".split())
# Last words of graph names that are qualifiers, not nouns heading a name ('Anemia NOS', 'Fever (finding)',
# 'Hypertension, Aggravated', 'Diabetes Mellitus, Type 1'), nor body parts ('Cancer of skin').
_NOT_HEADS = frozenset("nos unspecified finding findings type due increased decreased abnormal positive negative "
                       "aggravated acute chronic congenital cell cells level levels count skin lung site other "
                       "disorder disease syndrome".split())
_PREPOSITIONS = frozenset("of in for with to on from by".split())
# A single negated word ('non-cancerous', 'noninfectious'); 'non-Hodgkin lymphoma' is a name.
_NEGATED = re.compile(r"(?i)^non-?[a-z]+$")
_ARTICLE = re.compile(r"(?i)^(?:the|a|an)\s+(?=\S)")
_SEPARATORS = re.compile(r"[\s\-/,]+")
_QUALIFIER = re.compile(r"\s*[\[(][^\])]*[\])]")  # '(disorder)', '[ambiguous]'
# A head must lead this many graph names to count as evidence of its own: 3 keeps rare heads out; a single-word
# mention must be a head of many (20: 'tumor' leads 831, 'teeth' 3).
MIN_HEAD_NAMES, MIN_BARE_HEAD_NAMES = 3, 20
# A head noun that leads this many graph names is completed on its own ('tumors': tumor leads 831, carcinoma 1,109,
# neoplasm 909; NCBI-disease and BC5CDR-disease tag 169 of the 173 'tumor(s)' of their training texts).
MIN_ALONE_HEAD_NAMES = 500
# The adjective of a name ('epileptic' of 'epilepsy') shares all but its last three letters with it (at least 5).
_MIN_STEM_WORD = 7
# Only adjectives: an invented word that shares a graph name's stem ('encephalitozus', a README run) is none.
_ADJECTIVE_ENDINGS = ("ic", "ical", "ive", "al", "ed", "oid", "ous", "ar", "ary", "otic", "tic")


def _words(text: str) -> list[str]:
    return [word for word in _SEPARATORS.split(text.strip().strip(".;:")) if word.strip("()'\"")]


def _key(words: Iterable[str]) -> tuple[str, ...]:
    # "Parkinson's disease" is the graph's "Parkinson Disease"; "Thomsen's" and "Thomsens" are one word too.
    return tuple(re.sub(r"'s$|'$", "", word.strip("()\"").casefold()).strip("'") for word in words)


def _singulars(word: str) -> set[str]:
    """The word and its singular candidates ('tumors', 'diseases' -> 'disease', 'deficiencies', "Wilson's")."""
    forms = {word}
    if word.endswith("'s"):
        forms.add(word[:-2])
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        forms |= {word[:-1], word[:-2]}
    if word.endswith("ies"):
        forms.add(word[:-3] + "y")
    return forms


# A subtype qualifier: 'type II', '1B', 'A', 'IVA' after a name ('spinocerebellar ataxia 6', 'Atelosteogenesis type
# II', 'von Willebrand disease type B') or 'type II' before one ('type II GD').
_SUBTYPE = re.compile(r"^(?:type|subtype|group|class|grade|stage|form|[ivx]+[a-d]?|\d{1,2}[a-z]?|[a-z])$")


def _without_subtype(words: tuple[str, ...]) -> tuple[str, ...]:
    """The words without a subtype qualifier at either end ('type ii gd' -> 'gd'); at least one word is left."""
    while len(words) > 1 and _SUBTYPE.match(words[-1]):
        words = words[:-1]
    while len(words) > 1 and _SUBTYPE.match(words[0]) and (words[0] == "type" or _SUBTYPE.match(words[1])):
        words = words[1:]
    return words


def _head_phrase(words: tuple[str, ...]) -> tuple[str, ...]:
    """The words before the first preposition: the head of 'deficiency of the VLCAD protein' is 'deficiency'."""
    return words[:next((i for i, word in enumerate(words) if i and word in _PREPOSITIONS), len(words))]


class NameEvidence:
    """Positive evidence that a mention is a name of one entity type, from that type's graph names."""

    def __init__(self, names: Iterable[str], entity_type: str, anatomy: Iterable[str] = ()):
        self.entity_type = entity_type
        self._type_heads = TYPE_HEADS.get(entity_type, frozenset())
        self._suffixes = FORM_SUFFIXES.get(entity_type, ())
        self._names: set[tuple[str, ...]] = set()
        self._acronyms: set[str] = set()
        heads: Counter[str] = Counter()
        self._vocabulary: Counter[str] = Counter()
        for name in names:
            self._vocabulary.update(set(_key(_words(_QUALIFIER.sub("", name)))))
            for form in {name, natural_name(name)}:
                words = _key(_words(_QUALIFIER.sub("", form)))
                if not words:
                    continue
                # Graph names are often plural ('Seizures', MeSH): their singular is the same name.
                self._names |= {words[:-1] + (form,) for form in _singulars(words[-1])}
                head = _head_phrase(words)[-1]
                if head.isalpha() and len(head) > 2 and head not in _NOT_HEADS:  # 'Hepatitis A': 'a' heads nothing
                    heads[head] += 1
            if " " not in name.strip() and is_acronym(name.strip()):
                self._acronyms.add(name.strip())
        # A head that leads as many anatomy names is a body part ('skeletal system', 'gland'), not a disease noun.
        anatomy_words = [words for words in (_key(_words(_QUALIFIER.sub("", name))) for name in anatomy) if words]
        anatomy_heads = Counter(_head_phrase(words)[-1] for words in anatomy_words)
        self._anatomy_vocabulary = {word for words in anatomy_words for word in words}
        self._heads = {head: count for head, count in heads.items()
                       if count >= MIN_HEAD_NAMES and count > anatomy_heads[head]}
        self._single_words = sorted(words[0] for words in self._names if len(words) == 1)
        self._single_names = set(self._single_words)
        self._class_pattern: re.Pattern | None = None

    @classmethod
    def from_names_by_type(cls, names_by_type: dict[str, list[str]], entity_type: str) -> "NameEvidence":
        """The evidence of `entity_type` from the names of its EVIDENCE_TYPES found in `names_by_type`."""
        kinds = EVIDENCE_TYPES.get(entity_type, (entity_type,))
        return cls([name for kind in kinds for name in names_by_type.get(kind, [])], entity_type,
                   names_by_type.get("anatomy", []) if entity_type != "anatomy" else [])

    def _is_type_word(self, word: str) -> bool:
        """'disease', 'Diseases', 'disorders': a word that only names the type."""
        return bool(_singulars(word.casefold()) & self._type_heads)

    def _is_name(self, words: tuple[str, ...]) -> bool:
        return any(words[:-1] + (form,) in self._names for form in _singulars(words[-1]))

    def _is_adjective_of_name(self, word: str) -> bool:
        if len(word) < _MIN_STEM_WORD or not word.endswith(_ADJECTIVE_ENDINGS):
            return False
        stem = word[:max(5, len(word) - 3)]
        at = bisect.bisect_left(self._single_words, stem)
        return at < len(self._single_words) and self._single_words[at].startswith(stem)

    def kind(self, mention: str, text: str = "") -> str | None:
        """The kind of evidence that `mention` (as listed in a reply whose sentence is `text`) is a name of the
        type, or None when it has none."""
        stripped = mention.strip().strip(".,;:")
        if _NEGATED.match(stripped):  # 'non-cancerous', 'noninfectious': what it is not
            return None
        if stripped and " " not in stripped and is_acronym(stripped):
            return self._abbreviation_kind(stripped, text)
        written = _words(_ARTICLE.sub("", stripped))  # 'the asthma', but 'A-fib' is a name
        if not written:
            return None
        words = _key(written)
        if self._is_name(words) or self._is_name(_without_subtype(words)):
            return "graph_name"
        words = _without_subtype(words)
        inner, head_phrase = self._longest_inner_name(words), _head_phrase(words)
        if inner and inner[1] < len(words) and words[inner[1]] not in _PREPOSITIONS and inner[0] < len(head_phrase):
            return self._after_name_kind(words, inner[1])
        return self._head_phrase_kind(written, words, head_phrase)

    def _after_name_kind(self, words: tuple[str, ...], end: int) -> str | None:
        """Words after a name in the head head the mention ('acute gastritis patients', 'asthma research'): the
        name only modifies them, so the mention is what they are. A name before a bare type word is what makes it
        specific ('hereditary polyposis cancer syndrome'); only qualifiers may stand between ('Coronary Vessel
        Anomalies (CVA), a disease' is a clause)."""
        after = _head_phrase(words[end:])
        if not all(self._is_qualifier(word) for word in after[:-1]):
            return None
        return "type_word_with_name" if self._is_type_word(after[-1]) else self._head_kind(after[-1], len(words))

    def _head_phrase_kind(self, written: list[str], words: tuple[str, ...], head_phrase: tuple[str, ...]) -> str | None:
        """The evidence of a mention by its head phrase, the words before a preposition: 'deficiency of the VLCAD
        protein' is a deficiency, 'new treatment for glioblastoma' a treatment."""
        head = head_phrase[-1]
        for start in range(len(head_phrase)):
            # A type word is no modifier: 'Disease Parturient Paresis' is the prompt's type glued to the name.
            if self._is_name(head_phrase[start:]) and (start < len(head_phrase) - 1 or not self._is_type_word(head)):
                return None if any(self._is_type_word(word) for word in head_phrase[:start]) else "ends_with_graph_name"
        if self._is_type_word(head):
            modifiers = written[:len(head_phrase) - 1]
            return "type_word_with_name" if any(self._is_specific(word) for word in modifiers) else None
        return self._head_kind(head, len(words))

    def _head_kind(self, head: str, n_words: int) -> str | None:
        """'head_noun' or 'word_form' when the head word of an `n_words`-word mention is evidence, else None."""
        forms = _singulars(head)
        if any(self._heads.get(form, 0) >= (MIN_HEAD_NAMES if n_words > 1 else MIN_BARE_HEAD_NAMES)
               for form in forms):
            return "head_noun"
        if self._suffixes and (any(form.endswith(self._suffixes) for form in forms)
                               or self._is_adjective_of_name(head)):
            return "word_form"
        return None

    def _longest_inner_name(self, words: tuple[str, ...]) -> tuple[int, int] | None:
        """(start, end) of the longest graph name inside `words` (indices into words), or None when none is. A
        bare type word ('disease') is no name here."""
        best: tuple[int, int] = (0, 0)
        for start in range(len(words)):
            for end in range(len(words), start + (best[1] - best[0]), -1):
                if not (end - start == 1 and self._is_type_word(words[start])) and self._is_name(words[start:end]):
                    best = (start, end)
                    break
        return best if best[1] else None

    def _is_specific(self, modifier: str) -> bool:
        """Whether a modifier before a bare type word says which entity it is: a symbol ('VHL', 'X-linked' has
        none), an eponym the graph does not know ('Pendred'), or a qualifier of many graph names."""
        key = _key([modifier])[0]
        if key in _GENERIC_MODIFIERS or key in _NOT_QUALIFIERS or self._is_type_word(key):  # 'Diseases and Conditions'
            return False
        if is_acronym(modifier) or any(char.isdigit() for char in modifier) or modifier.endswith(("'s", "s'")):
            return True
        if modifier[:1].isupper() and self._vocabulary[key] == 0:
            return True
        return self._vocabulary[key] >= MIN_MODIFIER_NAMES

    def class_spans(self, text: str, spans: list[Span], label: str) -> list[Span]:
        """Spans for the disease-class mentions of `text` that no span covers: a type word or a disease head noun
        after qualifiers that qualify many graph names of the type ('a rare neurodegenerative disorder' ->
        'neurodegenerative disorder', 'genetic disorders', 'parasitic disease', 'a type of hemorrhagic fever' ->
        'hemorrhagic fever'), as NCBI-disease annotates classes. Generic words
        ('rare', 'serious', 'this') are left out. Label completion's part for names the graph lists only as
        classes ('Genetic Diseases, Inborn')."""
        if not self._type_heads:
            return []
        taken = [(span.start, span.end) for span in spans]
        found: list[Span] = []
        for match in self._type_word_pattern().finditer(text):
            start = match.start()
            for word in reversed(list(re.finditer(r"\S+", text[:match.start()]))[-4:]):
                # Only whole words right before it: 'disease, genetic disorder' does not reach back over the comma.
                if text[word.end():start].strip() or not self._is_class_qualifier(word.group()):
                    break
                start = word.start()
            alone = start == match.start()
            if alone and not any(self._heads.get(form, 0) >= MIN_ALONE_HEAD_NAMES
                                 for form in _singulars(match.group().casefold())):
                continue
            if not all(match.end() <= a or start >= b for a, b in taken):
                continue
            found.append(Span(start, match.end(), label, text[start:match.end()]))
            taken.append((start, match.end()))
        return found

    def _type_word_pattern(self) -> re.Pattern:
        """The words a class mention ends in: the type words the corpora annotate classes with ('genetic
        disorder', not 'medical condition') and the nouns that head many graph names ('hemorrhagic fever',
        'brain tumor'). Compiled once: the parse stage asks for every reply."""
        if self._class_pattern is None:
            heads = {head for head, count in self._heads.items() if count >= MIN_BARE_HEAD_NAMES}
            words = "|".join(sorted(map(re.escape, (self._type_heads & _CLASS_WORDS) | heads), key=len, reverse=True))
            self._class_pattern = re.compile(rf"(?i)(?<![\w-])(?:{words})(?:s|es)?(?![\w-])")
        return self._class_pattern

    def _is_class_qualifier(self, word: str) -> bool:
        """A qualifier that makes a class in running text: an adjective ('genetic', 'parasitic'), a body part
        ('lung disease', 'brain tumor') or a disease name ('meningioma tumor'), not any word of graph names
        ('water vascular plant infections', a README run)."""
        key = _key([word])[0]
        return self._is_qualifier(word) and (key.endswith(_ADJECTIVE_ENDINGS + ("ine", "une", "ory"))
                                             or key in self._anatomy_vocabulary or key in self._single_names)

    def _is_qualifier(self, word: str) -> bool:
        if not re.fullmatch(r"[^\W\d_][\w'-]*", word):  # punctuation ends the class mention
            return False
        key = _key([word])[0]
        return key not in _GENERIC_MODIFIERS and key not in _NOT_QUALIFIERS and \
            self._vocabulary[key] >= MIN_MODIFIER_NAMES and not self._is_type_word(key)

    def is_generic_class(self, mention: str) -> bool:
        """Whether a mention is only generic modifiers and a type word ('rare disease', the graph's 'Rare
        Diseases'): a class of no disease in particular, which label completion must not tag."""
        words = _key(_words(mention))
        return bool(words) and self._is_type_word(words[-1]) and all(
            word in _GENERIC_MODIFIERS or word in _NOT_QUALIFIERS for word in words[:-1])

    def _abbreviation_kind(self, acronym: str, text: str) -> str | None:
        if acronym in self._acronyms:
            return "graph_name"
        long_form = defined_long_form(acronym, text)
        if long_form and not is_acronym(long_form) and self.kind(long_form, "") is not None:
            return "defined_abbreviation"
        return None


_DEFINITION = re.compile(r"\s*\(\s*([A-Za-z][A-Za-z0-9\-]{1,9})\s*[),;]")


def abbreviation_spans(text: str, spans: list[Span]) -> list[Span]:
    """Spans for the abbreviations the text defines for labelled names ('Adrenogenital Syndrome (ADS)': every
    free whole-word 'ADS'), of the name's type: the abbreviation of a name is a name, and left untagged it would
    teach the model that it is not one. Only acronyms whose letters fit the name (defined_long_form) count."""
    taken = [(span.start, span.end) for span in spans]
    found: list[Span] = []
    for span in spans:
        match = _DEFINITION.match(text, span.end)
        if not match or not is_acronym(match.group(1)):
            continue
        acronym = match.group(1)
        # The long form ends where the span does, just before the parenthesis: its letters must fit the acronym.
        if defined_long_form(acronym, text[:match.end()]) is None:
            continue
        for occurrence in re.finditer(rf"(?<![\w-]){re.escape(acronym)}(?![\w-])", text):
            start, end = occurrence.span()
            if all(end <= a or start >= b for a, b in taken):
                found.append(Span(start, end, span.type, acronym))
                taken.append((start, end))
    return found


def defined_long_form(acronym: str, text: str) -> str | None:
    """The words the text defines `acronym` for, as in 'Duchenne muscular dystrophy (DMD)': the shortest run of
    words just before '(ACRONYM' whose first word starts with the acronym's first letter and that holds its letters
    in order (Schwartz and Hearst's rule, 2003), else None."""
    letters = [char.casefold() for char in acronym if char.isalnum()]
    for match in re.finditer(rf"\(\s*{re.escape(acronym)}\s*[),;]", text):
        before = text[:match.start()].split()[-(len(letters) + 4):]
        for start in range(len(before) - 1, -1, -1):
            candidate = " ".join(before[start:]).strip(",;:")
            if candidate[:1].casefold() == letters[0] and _letters_in_order(letters, candidate.casefold()):
                return candidate
    return None


def _letters_in_order(letters: list[str], words: str) -> bool:
    at = 0
    for letter in letters:
        at = words.find(letter, at)
        if at < 0:
            return False
        at += 1
    return True
