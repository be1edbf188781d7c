"""Every word's label lands on its own first piece, for every tokenizer family, on random texts (issue #34): real
WordPiece (the offline MiniLM) and byte-level BPE (SmolLM2's), and a SentencePiece-style Unigram and a RoBERTa-style
byte-level BPE built here; texts of several sentences, glued punctuation, double spaces, non-ASCII, combining accents
and zero-width characters; and serving reads the tags back from the same pieces."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from hypothesis import given, settings, strategies as st

from clingen.datasets.records import NERExample, to_iob2, tokenize
from clingen.tasks.registry import get_task
from clingen.training.alignment import IGNORE_INDEX, encode_words, text_word_offsets
from clingen.training.card import ModelCard
from clingen.training.features import Featurizer
from clingen.training.labels import label_space
from clingen.training.predict import Predictor
from tests.unit.test_bos import smollm2_tokenizer

pytestmark = pytest.mark.unit

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
NCBI = get_task("ncbi-disease")
TAGS = label_space(NCBI).names  # ("O", "B-Disease", "I-Disease")
CORPUS = ["Hepatocarcinogenesis and IL-6 levels in Crohn's disease patients.",
          "Aspirin-induced asthma and (+)-x toxicity in naïve adults; Größe, café, α-synuclein.",
          "Cystic fibrosis is a disease of the lungs: 5 mg/kg, 北京, TNF-alpha."] * 20


def _unigram():
    """SentencePiece/XLM-R style: Metaspace ("▁" word starts, no split at punctuation), Unigram, <s> $A </s>."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    tok = Tokenizer(models.Unigram())
    tok.pre_tokenizer, tok.decoder = pre_tokenizers.Metaspace(), decoders.Metaspace()
    tok.train_from_iterator(CORPUS, trainers.UnigramTrainer(vocab_size=150, unk_token="<unk>",
                                                            special_tokens=["<pad>", "<unk>", "<s>", "</s>"]))
    tok.post_processor = processors.TemplateProcessing(single="<s> $A </s>", special_tokens=[("<s>", 2), ("</s>", 3)])
    return transformers.PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>", pad_token="<pad>",
                                                bos_token="<s>", eos_token="</s>")


def _byte_level_roberta():
    """RoBERTa style byte-level BPE: offsets trimmed of the leading space, <s> ... </s>."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer, tok.decoder = pre_tokenizers.ByteLevel(add_prefix_space=False), decoders.ByteLevel()
    tok.train_from_iterator(CORPUS, trainers.BpeTrainer(vocab_size=320, special_tokens=["<pad>", "<s>", "</s>"],
                                                        initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    tok.post_processor = processors.RobertaProcessing(("</s>", 2), ("<s>", 1), trim_offsets=True,
                                                      add_prefix_space=False)
    return transformers.PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", bos_token="<s>",
                                                eos_token="</s>")


def _minilm():
    from clingen.training.model_io import offline_encoder_dir
    try:
        return transformers.AutoTokenizer.from_pretrained(offline_encoder_dir())
    except RuntimeError as exc:
        pytest.skip(f"offline MiniLM encoder unavailable: {exc}")


def _smollm2():
    tokenizer = smollm2_tokenizer()
    if tokenizer.pad_token is None:  # a decoder's tokenizer: padding (serving batches) needs a pad token
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


BUILDERS = {"wordpiece-minilm": _minilm, "byte-level-smollm2": _smollm2, "unigram-sentencepiece": _unigram,
            "byte-level-roberta": _byte_level_roberta}


@pytest.fixture(scope="module", params=sorted(BUILDERS))
def tokenizer(request):
    return BUILDERS[request.param]()


# Words of every shape the tokenizer families cut differently, and what may stand between them.
WORDS = ["Hepatocarcinogenesis", "and", "IL-6", "(+)-x", "Crohn's", "disease", "naïve", "Größe", "北京", "🙂",
         "5", "mg/kg", "α-synuclein", "cafe\u0301", "x\u200by", "ﬁbrosis", "İstanbul", "½", "TNF-alpha", "of",
         "asthma"]
GAPS = [" ", " ", " ", "  ", "", "\n", ". ", "; ", "\u00a0"]


@st.composite
def records(draw) -> NERExample:
    """A text of random words and gaps, its words as serving splits them (records.tokenize), random BIO tags."""
    parts = draw(st.lists(st.tuples(st.sampled_from(WORDS), st.sampled_from(GAPS)), min_size=1, max_size=10))
    text = "".join(word + gap for word, gap in parts).strip()
    tokens = [token for token, _, _ in tokenize(text)]
    tags = draw(st.lists(st.sampled_from(TAGS), min_size=len(tokens), max_size=len(tokens)))
    return NERExample("p-0", text, tokens, tags)


def _first_visible(text: str, piece: tuple[int, int]) -> int | None:
    return next((c for c in range(*piece) if not text[c].isspace()), None)


@settings(max_examples=60)
@given(records())
def test_each_word_label_is_on_the_first_piece_that_starts_in_it(tokenizer, record) -> None:
    [labels] = Featurizer(NCBI, tokenizer, max_length=512).encode([record])["labels"]
    offsets = [tuple(pair) for pair in tokenizer(record.text, return_offsets_mapping=True)["offset_mapping"]]
    words, gold = text_word_offsets(record.text), to_iob2(record.tags)
    assert len(labels) == len(offsets)

    def started_in(piece) -> int | None:  # the word holding the piece's first visible character
        first = _first_visible(record.text, piece)
        return next((w for w, (start, end) in enumerate(words) if first is not None and start <= first < end), None)

    starts = [started_in(piece) for piece in offsets]
    for word, (start, end) in enumerate(words):
        labelled = [p for p, label in enumerate(labels) if label != IGNORE_INDEX and starts[p] == word]
        if word in starts:  # the word starts a piece: its first one carries the word's label, and only it
            assert labelled == [starts.index(word)], (record.text, record.text[start:end])
            assert labels[labelled[0]] == TAGS.index(gold[word])
        else:  # inside an earlier word's piece (one run over a no-break space by a tokenizer that does not split
            # there, too), or dropped by the tokenizer (a combining accent under BERT)
            assert labelled == []
            covered = any(p_start < end and start < p_end for p_start, p_end in offsets)
            glued = word > 0 and words[word - 1][1] == start
            assert covered or glued, (record.text, record.text[start:end])
    assert sum(label != IGNORE_INDEX for label in labels) == len(set(starts) - {None})


class PieceTagger(torch.nn.Module):
    """A token classifier that outputs, for each row of a batch, the given label id per piece (O elsewhere)."""

    def __init__(self, rows: list[list[int]]):
        super().__init__()
        self.rows, self.config = rows, SimpleNamespace(num_labels=len(TAGS))

    def forward(self, input_ids, attention_mask=None, token_type_ids=None):
        logits = torch.zeros(*input_ids.shape, len(TAGS))
        logits[..., 0] = 1.0
        for row, labels in enumerate(self.rows):
            for position, label in enumerate(labels):
                if label != IGNORE_INDEX:
                    logits[row, position, label] = 5.0
        return SimpleNamespace(logits=logits)


def _expected_tags(tokenizer, text: str, gold: list[str]) -> list[str]:
    """What serving can give back from the training labels, from the offsets alone: a word that starts a piece
    keeps its tag; a word inside an earlier word's piece, or dropped by the tokenizer right after a word (an NFD
    accent under BERT), continues the entity before it, or is O; a word dropped on its own is O."""
    offsets = [tuple(pair) for pair in tokenizer(text, return_offsets_mapping=True)["offset_mapping"]]
    words = text_word_offsets(text)
    firsts = {_first_visible(text, piece) for piece in offsets}
    tags: list[str] = []
    for word, (start, end) in enumerate(words):
        covered = any(p_start < end and start < p_end for p_start, p_end in offsets)
        if any(first is not None and start <= first < end for first in firsts):
            tags.append(gold[word])
        elif word and (covered or words[word - 1][1] == start):
            tags.append("O" if tags[-1] == "O" else "I-" + tags[-1][2:])
        else:
            tags.append("O")
    return tags


@settings(max_examples=40)
@given(st.lists(records(), min_size=1, max_size=3))
def test_serving_reads_the_training_labels_back_onto_the_same_words(tokenizer, batch) -> None:
    """A model that predicts exactly the training labels gives back each word's gold tag through the padded
    serving batch, and entity offsets that index the text (with an NFD accent or a zero-width space kept)."""
    features = Featurizer(NCBI, tokenizer, max_length=512).encode(batch)
    predictor = Predictor(PieceTagger(features["labels"]), tokenizer, ModelCard.from_spec(NCBI, max_length=512),
                          batch_size=len(batch))
    predicted = predictor.tag_words([r.text for r in batch], [text_word_offsets(r.text) for r in batch])[0]
    for record, tags in zip(batch, predicted):
        assert tags == _expected_tags(tokenizer, record.text, to_iob2(record.tags))
    for record, result in zip(batch, predictor.predict_entities([r.text for r in batch])):
        for entity in result["entities"]:
            assert record.text[entity["start"]:entity["end"]] == entity["text"]


def test_a_combining_accent_the_tokenizer_drops_stays_in_the_entity() -> None:
    """BERT strips accents, so "e" + U+0301 has no piece for the accent: the entity still ends after it."""
    tokenizer, text = _minilm(), "Patients with cafe\u0301 disease and x\u200by."
    words = text_word_offsets(text)  # ... cafe, U+0301, disease ...
    accent = [text[start:end] for start, end in words].index("\u0301")
    _, [alignment] = encode_words(tokenizer, 64, [text], [words])
    assert alignment.own_pieces[accent] is None and alignment.shared_pieces[accent] == alignment.own_pieces[accent - 1]
    labels = [[IGNORE_INDEX] * len(alignment.piece_words)]
    labels[0][alignment.own_pieces[accent - 1]] = TAGS.index("B-Disease")
    labels[0][alignment.own_pieces[accent + 1]] = TAGS.index("I-Disease")
    predictor = Predictor(PieceTagger(labels), tokenizer, ModelCard.from_spec(NCBI, max_length=64))
    assert predictor.predict_entities([text])[0]["entities"] == \
        [{"start": 14, "end": 27, "type": "Disease", "text": "cafe\u0301 disease"}]


def test_truncation_cuts_words_off_without_sharing_them(tokenizer) -> None:
    text = "Hepatocarcinogenesis and IL-6 levels in Crohn's disease patients, cafe\u0301 and x\u200by."
    _, [alignment] = encode_words(tokenizer, 6, [text], [text_word_offsets(text)])
    assert alignment.truncated
    cut = [w for w, (own, shared) in enumerate(zip(alignment.own_pieces, alignment.shared_pieces))
           if own is None and shared is None]
    assert cut and cut == list(range(cut[0], len(cut) + cut[0]))  # the cut words are the last ones, all of them
    assert cut[-1] == len(text_word_offsets(text)) - 1


def test_an_empty_split_encodes_to_nothing(tokenizer) -> None:
    assert Featurizer(NCBI, tokenizer, max_length=32).encode([]) == \
        {"input_ids": [], "attention_mask": [], "labels": [], "truncated": []}
