"""Entity names (knowledge-graph stage): how a graph's names are read and written in running text.

Shared by the prompts that ask for them and the parsers that look for them.
"""

from __future__ import annotations


def is_acronym(word: str) -> bool:
    """Two or more capitals (AS, ALL, AIDS, BRCA1, mTOR): matched with its case, so that the disease 'AS' is not
    the word 'as' and 'AIDS' is not 'hearing aids'."""
    return sum(char.isupper() for char in word) >= 2


def is_shouted(name: str) -> bool:
    """A name in capitals throughout that is not an acronym (OMIM's "AMYLOIDOSIS, FAMILIAL RENAL"): several words
    or a long one, all letters upper case."""
    letters = [char for char in name if char.isalpha()]
    return bool(letters) and all(c.isupper() for c in letters) and (len(name.split()) > 1 or len(letters) > 6)


def natural_name(name: str) -> str:
    """A knowledge-graph name in running-text order: MeSH and OMIM invert names ("Nystagmus, Congenital",
    "Leukemia, Myeloid, Acute", "Diabetes Mellitus, Type 2"), which a prompt should not ask a model to write; the
    comma-separated parts are reversed when every part after the first is a short qualifier (three words or
    fewer), else the name is kept ("Adrenal Hyperplasia, Congenital, Due To 21-Hydroxylase Deficiency"); a name
    in capitals throughout (OMIM) is lower-cased."""
    if is_shouted(name):
        name = name.lower()
    parts = [part.strip() for part in name.split(", ")]
    if len(parts) < 2 or not all(parts) or any(len(part.split()) > 3 for part in parts[1:]):
        return name
    return " ".join(reversed(parts))
