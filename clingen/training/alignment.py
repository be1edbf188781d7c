"""Training stage (datasets -> training -> evaluation, serving): what the encoder sees of a text.

One view of a sentence from file to model: the encoder's own pieces of the text, aligned to the record's words
by offsets.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from clingen.datasets.records import NERExample, token_offsets, tokenize
from clingen.errors import ConfigError, DataFormatError

IGNORE_INDEX = -100  # what torch's cross-entropy skips: special tokens and pieces that do not start a word
# Checked when a word-tagging encoder is taken on: words glued to punctuation, digits, an apostrophe and a
# double space, the places where tokenizer families cut differently.
PROBE_TEXT = "Hepatocarcinogenesis and IL-6 (+)-x in Crohn's  disease, 5 mg/kg."

WordOffsets = Sequence[tuple[int, int]]


def tokenize_truncated(tokenizer: Any, max_length: int, first: list, second: list | None = None,
                       **extra: Any) -> tuple[Any, list[bool]]:
    """The tokenizer's output truncated to max_length (pairs: longest first), and which rows lost tokens.
    `extra` goes to the tokenizer (padding, return_tensors, return_offsets_mapping)."""
    truncation = "longest_first" if second is not None else True
    encoded = tokenizer(first, second, truncation=truncation, max_length=max_length, **extra)
    encodings = getattr(encoded, "encodings", None)
    if encodings:  # fast tokenizers keep what truncation cut off, so no second pass is needed
        return encoded, [bool(encoding.overflowing) for encoding in encodings]
    full = tokenizer(first, second, truncation=False, verbose=False)
    return encoded, [len(ids) > max_length for ids in full["input_ids"]]


@dataclass(frozen=True)
class WordAlignment:
    """Where one text's words fall among the encoder's pieces (sub-tokens, special tokens and padding included).

    piece_words[p]: the word piece p belongs to, the first word its characters overlap; None for special
    tokens, padding and pieces of whitespace only (SentencePiece's lone "▁", byte-level BPE's "Ġ").
    own_pieces[w]: the position of word w's first piece, which carries the word's label; None when no piece
    belongs to w. A word whose first letters sit in an earlier word's piece may still own a later piece
    (SentencePiece "-in" "du" "ced" over "-" "induced"): that piece carries its label, so an entity can
    still start at the word.
    shared_pieces[w]: for a word without a piece of its own, the first piece of an earlier word that
    overlaps it (a piece merged across a boundary with no space, as byte-level BPE's "(+" over the words
    "(" and "+"), or for a word whose characters the tokenizer dropped (a combining accent, a zero-width space)
    glued to the word before, that word's piece; None otherwise. Such a word can only continue the entity of
    the word that owns the piece.
    truncated: truncation cut pieces off; the words it cut have neither own nor shared piece."""

    piece_words: tuple[int | None, ...]
    own_pieces: tuple[int | None, ...]
    shared_pieces: tuple[int | None, ...]
    truncated: bool

    def piece_labels(self, word_labels: Sequence[int]) -> list[int]:
        """One label per piece: the word's label on its first piece, IGNORE_INDEX elsewhere (so a word split
        into five pieces counts once in the loss). A word without a piece of its own adds no label."""
        labels = [IGNORE_INDEX] * len(self.piece_words)
        for word, position in enumerate(self.own_pieces):
            if position is not None:
                labels[position] = word_labels[word]
        return labels

    def word_tags(self, piece_tags: Sequence[str]) -> list[str]:
        """One BIO tag per word from one tag per piece: the tag of the word's first piece (also when truncation
        cut the word's later pieces); a word inside an earlier word's piece continues that word's entity
        (I-<type>) or is O, since no boundary can fall inside a piece; a word truncation cut is O."""
        tags: list[str] = []
        for own, shared in zip(self.own_pieces, self.shared_pieces):
            if own is not None:
                tags.append(piece_tags[own])
            elif shared is not None:
                owner_tag = tags[self.piece_words[shared]]
                tags.append("O" if owner_tag == "O" else "I-" + owner_tag[2:])
            else:
                tags.append("O")
        return tags


def align(piece_offsets: Sequence[tuple[int, int]], word_offsets: WordOffsets, text_length: int,
          truncated: bool = False) -> WordAlignment:
    """The alignment of pieces with character offsets [start, end) (a fast tokenizer's offset_mapping; (0, 0)
    for special tokens and padding) to words with character offsets into the same text."""
    word_at: list[int | None] = [None] * text_length  # the word each character belongs to
    for word, (start, end) in enumerate(word_offsets):
        word_at[start:end] = [word] * (end - start)
    piece_words = tuple(next((word_at[c] for c in range(max(start, 0), min(end, text_length))
                              if word_at[c] is not None), None) for start, end in piece_offsets)
    own: list[int | None] = [None] * len(word_offsets)
    for position, word in enumerate(piece_words):
        if word is not None and own[word] is None:
            own[word] = position
    shared: list[int | None] = [None] * len(word_offsets)
    kept_end = max((end for start, end in piece_offsets if end > start), default=0)  # truncation cuts after it
    for word, (start, end) in enumerate(word_offsets):
        if own[word] is None:
            shared[word] = next((position for position, (p_start, p_end) in enumerate(piece_offsets)
                                 if p_start < end and p_end > start and piece_words[position] is not None), None)
        if own[word] is None and shared[word] is None and word and word_offsets[word - 1][1] == start \
                and (start < kept_end or not truncated):
            # The tokenizer dropped the word's characters (BERT strips a combining accent, "e" + U+0301, and
            # zero-width or control characters): glued to the word before, it goes with that word's piece.
            shared[word] = own[word - 1] if own[word - 1] is not None else shared[word - 1]
    return WordAlignment(piece_words, tuple(own), tuple(shared), truncated)


def encode_words(tokenizer: Any, max_length: int, texts: Sequence[str], word_offsets: Sequence[WordOffsets],
                 **extra: Any) -> tuple[Any, list[WordAlignment]]:
    """The encoder's input for word-tagged texts, and per text how its words fall among the pieces. The pieces
    are the tokenizer's own for each whole text (tokenizer(text) truncated to max_length), never a re-split
    of the words, so that training, evaluation and serving feed the encoder what it was pre-trained on
    whatever its family (WordPiece, SentencePiece/Unigram, byte-level BPE). `word_offsets`: per text, the
    (start, end) character offsets of its words. `extra` goes to the tokenizer (padding, return_tensors).
    Needs a fast tokenizer (offset mapping): check it first with require_word_alignment."""
    encoded, truncated = tokenize_truncated(tokenizer, max_length, list(texts), return_offsets_mapping=True,
                                            **extra)
    offsets = encoded.pop("offset_mapping")
    offsets = offsets.tolist() if hasattr(offsets, "tolist") else offsets
    alignments = [align([tuple(pair) for pair in row], words, len(text), cut)
                  for row, words, text, cut in zip(offsets, word_offsets, texts, truncated)]
    return encoded, alignments


def record_word_offsets(record: NERExample) -> list[tuple[int, int]]:
    """The character offsets of a record's tokens in its text, searched left to right (for CoNLL records the
    text is the tokens joined by single spaces); DataFormatError naming the record when a token is missing."""
    try:
        return token_offsets(list(record.tokens), record.text)[1]
    except DataFormatError as exc:
        raise DataFormatError(f"NER example {record.id!r}: {exc}; text {record.text[:200]!r}") from None


def text_word_offsets(text: str) -> list[tuple[int, int]]:
    """The offsets of the words ClinGen splits a raw text into (records.tokenize), as serving does."""
    return [(start, end) for _, start, end in tokenize(text)]


def _tokenizer_name(tokenizer: Any) -> str:
    name = getattr(tokenizer, "name_or_path", "") or ""
    return f"{type(tokenizer).__name__} {name!r}" if name else type(tokenizer).__name__


def require_word_alignment(tokenizer: Any, user: str) -> None:
    """Refuse, with ConfigError naming the tokenizer and `user` (who needs it), a tokenizer whose pieces
    cannot be aligned to words: a slow (Python) tokenizer has no offset mapping, and a fast one whose
    offsets leave a word of PROBE_TEXT with no piece at all or point outside the text is broken."""
    if not getattr(tokenizer, "is_fast", False):
        raise ConfigError(f"{user} tags words and needs each sub-token's character offsets "
                          f"(return_offsets_mapping), which only fast tokenizers (Rust `tokenizers`, a "
                          f"tokenizer.json) give; tokenizer {_tokenizer_name(tokenizer)} is slow. Expected the "
                          f"encoder's fast tokenizer (AutoTokenizer with use_fast=True)")
    words = text_word_offsets(PROBE_TEXT)
    offsets = [tuple(pair) for pair in tokenizer(PROBE_TEXT, return_offsets_mapping=True)["offset_mapping"]]
    alignment = align(offsets, words, len(PROBE_TEXT))
    outside = [pair for pair in offsets if not 0 <= pair[0] <= pair[1] <= len(PROBE_TEXT)]
    lost = [PROBE_TEXT[start:end] for (start, end), own, shared
            in zip(words, alignment.own_pieces, alignment.shared_pieces) if own is None and shared is None]
    if outside or lost:
        raise ConfigError(f"{user} tags words, but the offsets of tokenizer {_tokenizer_name(tokenizer)} do not "
                          f"align its pieces with the words of {PROBE_TEXT!r}: offsets outside the text "
                          f"{outside[:5]}, words without a piece {lost[:5]}; expected every word covered by "
                          f"a piece whose offsets index the text")
