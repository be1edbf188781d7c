"""Tests of one view of a sentence from file to model: training, evaluation and serving feed the encoder its own
tokenizer's pieces of the sentence text, for every tokenizer family, with labels and tags on the right words."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from clingen.datasets.records import NERExample, Span, bio_to_spans, ner_example_from_spans, tokenize
from clingen.errors import ConfigError
from clingen.tasks.registry import get_task
from clingen.training.alignment import IGNORE_INDEX, align, encode_words, require_word_alignment
from clingen.training.features import Featurizer
from clingen.training.labels import label_space
from clingen.training.card import ModelCard
from clingen.training.predict import Predictor

pytestmark = pytest.mark.unit

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
tokenizers = pytest.importorskip("tokenizers")
NCBI = get_task("ncbi-disease")
TAGS = label_space(NCBI).names  # ("O", "B-Disease", "I-Disease")

# Sentences written for these tests, repeated so that the small trainers learn merges across punctuation.
CORPUS = ["Hepatocarcinogenesis and IL-6 levels in Crohn's disease patients.",
          "Aspirin-induced asthma and (+)-x toxicity were seen in adults (+)-x (+)-x.",
          "Cystic fibrosis is a disease of the lungs; IL-6 and TNF-alpha rise.",
          "We describe a case of gout in a child with 5 mg/kg dosing."] * 20


def _wordpiece():
    """BERT/PubMedBERT style: lower-casing BertNormalizer, BertPreTokenizer, WordPiece with ## continuations."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.train_from_iterator(CORPUS, trainers.WordPieceTrainer(
        vocab_size=150, special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]"]))
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", tok.token_to_id("[CLS]")),
                                                 ("[SEP]", tok.token_to_id("[SEP]"))])
    return transformers.PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]",
                                                cls_token="[CLS]", sep_token="[SEP]")


def _metaspace(model: str):
    """XLM-R/DeBERTa-v3 style: Metaspace pre-tokenizer ("▁" word starts, no split at punctuation), Unigram or BPE."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    specials = ["<pad>", "<unk>", "<s>", "</s>"]
    if model == "unigram":
        tok = Tokenizer(models.Unigram())
        trainer = trainers.UnigramTrainer(vocab_size=120, special_tokens=specials, unk_token="<unk>")
    else:
        tok = Tokenizer(models.BPE(unk_token="<unk>"))
        trainer = trainers.BpeTrainer(vocab_size=150, special_tokens=specials)
    tok.pre_tokenizer, tok.decoder = pre_tokenizers.Metaspace(), decoders.Metaspace()
    tok.train_from_iterator(CORPUS, trainer)
    tok.post_processor = processors.TemplateProcessing(single="<s> $A </s>", special_tokens=[("<s>", 2), ("</s>", 3)])
    return transformers.PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>", pad_token="<pad>",
                                                bos_token="<s>", eos_token="</s>")


def _byte_level(roberta: bool):
    """RoBERTa style (<s> ... </s>, offsets trimmed of the leading space) or GPT-2 style (no special tokens,
    offsets keep the "Ġ" space, end-of-text as pad): byte-level BPE."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer, tok.decoder = pre_tokenizers.ByteLevel(add_prefix_space=False), decoders.ByteLevel()
    specials = ["<pad>", "<s>", "</s>"] if roberta else ["<|endoftext|>"]
    tok.train_from_iterator(CORPUS, trainers.BpeTrainer(vocab_size=320, special_tokens=specials,
                                                        initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    if roberta:
        tok.post_processor = processors.RobertaProcessing(("</s>", 2), ("<s>", 1), trim_offsets=True,
                                                          add_prefix_space=False)
        return transformers.PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", bos_token="<s>",
                                                    eos_token="</s>")
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    return transformers.PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<|endoftext|>",
                                                eos_token="<|endoftext|>")


def _minilm():
    from clingen.training.model_io import offline_encoder_dir
    try:
        return transformers.AutoTokenizer.from_pretrained(offline_encoder_dir())
    except RuntimeError as exc:
        pytest.skip(f"offline MiniLM encoder unavailable: {exc}")


BUILDERS = {"wordpiece": _wordpiece, "unigram-metaspace": lambda: _metaspace("unigram"),
            "bpe-metaspace": lambda: _metaspace("bpe"), "byte-level-roberta": lambda: _byte_level(True),
            "byte-level-gpt2": lambda: _byte_level(False), "minilm": _minilm}


@pytest.fixture(scope="module", params=sorted(BUILDERS))
def tokenizer(request):
    return BUILDERS[request.param]()


def conll_record() -> NERExample:
    """A CoNLL sentence: punctuation split off as its own token, text = tokens joined by single spaces."""
    tokens = ["Hepatocarcinogenesis", "and", "IL", "-", "6", "levels", "in", "Crohn", "'", "s", "disease",
              "patients", "."]
    tags = ["B-Disease", "O", "O", "O", "O", "O", "O", "B-Disease", "I-Disease", "I-Disease", "I-Disease", "O", "O"]
    return NERExample("conll-0", " ".join(tokens), tokens, tags, bio_to_spans(tokens, tags))


def synthetic_record() -> NERExample:
    """A generated sentence: words found by records.tokenize, glued to punctuation, a double space."""
    text = "Aspirin-induced  asthma and (+)-x toxicity in Crohn's disease patients."
    spans = [Span(17, 23, "Disease", "asthma"), Span(46, 61, "Disease", "Crohn's disease")]
    return ner_example_from_spans("synthetic-0", text, spans)


RECORDS = [conll_record(), synthetic_record()]


def _offsets(tokenizer, text: str, **options) -> list[tuple[int, int]]:
    return [tuple(pair) for pair in tokenizer(text, return_offsets_mapping=True, **options)["offset_mapping"]]


def _word_offsets(record: NERExample) -> list[tuple[int, int]]:
    if record.text == " ".join(record.tokens):
        starts = [sum(len(token) + 1 for token in record.tokens[:i]) for i in range(len(record.tokens))]
        return [(start, start + len(token)) for start, token in zip(starts, record.tokens)]
    return [(start, end) for _, start, end in tokenize(record.text)]


# ---- what the encoder is fed ----

@pytest.mark.parametrize("record", RECORDS, ids=lambda r: r.id)
def test_pieces_fed_are_the_tokenizers_own_for_the_text(tokenizer, record) -> None:
    featurizer = Featurizer(NCBI, tokenizer, max_length=64)
    expected = tokenizer(record.text, truncation=True, max_length=64)["input_ids"]
    assert featurizer.encode([record])["input_ids"] == [expected]
    assert featurizer.encode([record.to_row()])["input_ids"] == [expected]  # Ray Data hands row dicts
    short = Featurizer(NCBI, tokenizer, max_length=6).encode([record])
    assert short["input_ids"] == [tokenizer(record.text, truncation=True, max_length=6)["input_ids"]]
    assert short["truncated"] == [True] and featurizer.encode([record])["truncated"] == [False]


@pytest.mark.parametrize("family", sorted(BUILDERS))
def test_the_split_words_view_differs_from_the_text_for_sentencepiece_and_byte_level(family) -> None:
    """Why pieces come from the text: split into words, SentencePiece and byte-level BPE mark every word as
    word-initial (▁-, Ġ-less), unlike the text where "induced" follows "-" directly; WordPiece is unaffected."""
    tokenizer, record = BUILDERS[family](), synthetic_record()
    same = tokenizer(record.tokens, is_split_into_words=True)["input_ids"] == tokenizer(record.text)["input_ids"]
    assert same == (family in ("wordpiece", "minilm"))


@pytest.mark.parametrize("record", RECORDS, ids=lambda r: r.id)
def test_labels_go_on_the_first_piece_of_the_right_word(tokenizer, record) -> None:
    labels = Featurizer(NCBI, tokenizer, max_length=64).encode([record])["labels"][0]
    offsets, words = _offsets(tokenizer, record.text), _word_offsets(record)
    assert len(labels) == len(offsets)
    labelled = [position for position, label in enumerate(labels) if label != IGNORE_INDEX]
    def word_started(piece: tuple[int, int]) -> int | None:  # the word holding the piece's first letter
        first = next((c for c in range(*piece) if not record.text[c].isspace()), None)
        return next((w for w, (w_start, w_end) in enumerate(words) if first is not None and w_start <= first < w_end),
                    None)

    owners = []
    for position in labelled:
        word = word_started(offsets[position])
        assert labels[position] == TAGS.index(record.tags[word]), (position, word)
        assert word not in [word_started(piece) for piece in offsets[:position]]  # the word's first piece
        owners.append(word)
    assert owners == sorted(set(owners))  # one label per word, in order
    if record.id.startswith("conll"):  # every word follows a space: each has a piece of its own
        assert owners == list(range(len(words)))
    else:  # only words glued to the previous one can lack a piece of their own
        assert all(record.text[words[w][0] - 1] != " " for w in set(range(len(words))) - set(owners))


# ---- what prediction gives back ----

class PositionTagger(torch.nn.Module):
    """A token classifier whose logits are set per position: tag name -> positions that get it, else O."""

    def __init__(self, tags_at: dict[str, set[int]]):
        super().__init__()
        self.tags_at, self.config = tags_at, SimpleNamespace(num_labels=len(TAGS))

    def forward(self, input_ids, attention_mask=None, token_type_ids=None):
        logits = torch.zeros(*input_ids.shape, len(TAGS))
        logits[..., 0] = 1.0
        for tag, positions in self.tags_at.items():
            for position in positions:
                if position < input_ids.shape[1]:
                    logits[:, position, TAGS.index(tag)] = 5.0
        return SimpleNamespace(logits=logits)


def _pieces_over(offsets, start: int, end: int) -> list[int]:
    return [p for p, (p_start, p_end) in enumerate(offsets) if p_start < end and p_end > start and p_start < p_end]


@pytest.mark.parametrize("record", RECORDS, ids=lambda r: r.id)
def test_predicted_tags_come_back_to_the_right_words_and_offsets(tokenizer, record) -> None:
    """The first piece of every word in a gold entity is tagged I- (so the entity opens with a stray I- after O)
    and the words' later pieces B-: the first-piece rule and the shared IOB1 reading give back exactly the
    gold entities, with their character offsets."""
    offsets, words = _offsets(tokenizer, record.text), _word_offsets(record)
    first_pieces, later_pieces = set(), set()
    for word, (start, end) in enumerate(words):
        if record.tags[word] != "O":
            # pieces whose first letter is in the word (a piece that started in an earlier word is not its own)
            pieces = [p for p in _pieces_over(offsets, start, end)
                      if start <= next(c for c in range(*offsets[p]) if not record.text[c].isspace())]
            first_pieces.update(pieces[:1])
            later_pieces.update(pieces[1:])
    model = PositionTagger({"I-Disease": first_pieces, "B-Disease": later_pieces})
    predictor = Predictor(model, tokenizer, ModelCard.from_spec(NCBI, max_length=64), batch_size=1)
    gold = [{"start": s.start, "end": s.end, "type": s.type, "text": s.text} for s in record.spans]
    if record.id.startswith("synthetic"):  # serving splits raw text into the same words as the generator
        assert predictor.predict_entities([record.text]) == [{"entities": gold, "truncated": False}]
    [tags] = predictor.predict_records([record])
    assert [(s.start, s.end, s.type) for s in bio_to_spans(record.tokens, tags, record.text)] == \
        [(s.start, s.end, s.type) for s in record.spans]


def test_words_truncation_cut_off_are_o_and_reported(tokenizer) -> None:
    record = synthetic_record()
    kept = _offsets(tokenizer, record.text, truncation=True, max_length=8)
    predictor = Predictor(PositionTagger({"B-Disease": set(range(64))}), tokenizer,
                          ModelCard.from_spec(NCBI, max_length=8))
    [tags], [result] = predictor.predict_records([record]), predictor.predict_entities([record.text])
    words = _word_offsets(record)
    reached = [bool(_pieces_over(kept, start, end)) for start, end in words]
    assert [tag != "O" for tag in tags] == reached and not all(reached)
    last = max(w for w, hit in enumerate(reached) if hit)  # a word cut in the middle is still tagged whole
    assert result["truncated"] is True and result["entities"][-1]["end"] == words[last][1]


def test_a_byte_level_piece_across_words_makes_the_later_word_continue_the_entity() -> None:
    tokenizer, text = BUILDERS["byte-level-roberta"](), "in Crohn's disease"
    words = [(start, end) for _, start, end in tokenize(text)]  # in Crohn ' s disease
    _, [alignment] = encode_words(tokenizer, 32, [text], [words])
    assert alignment.own_pieces[3] is None and alignment.piece_words[alignment.shared_pieces[3]] == 2  # "'s"
    predictor = Predictor(PositionTagger({"B-Disease": {alignment.own_pieces[1]},
                                          "I-Disease": {alignment.own_pieces[2], alignment.own_pieces[4]}}),
                          tokenizer, ModelCard.from_spec(NCBI, max_length=32))
    assert predictor.predict_entities([text])[0]["entities"] == \
        [{"start": 3, "end": 18, "type": "Disease", "text": "Crohn's disease"}]


# ---- the alignment rules, on hand-made offsets ----

def test_alignment_of_shared_whitespace_special_and_cut_pieces() -> None:
    # text "(+)-x  IL6 mice": words ( + ) - x IL6 mice; pieces: <s>, "(+", ")-", "x", "▁" (a space alone),
    # "▁IL" (a space and "IL"), "6"; truncation cut "mice".
    words = [(0, 1), (1, 2), (2, 3), (3, 4), (4, 5), (7, 10), (11, 15)]
    pieces = [(0, 0), (0, 2), (2, 4), (4, 5), (5, 6), (6, 9), (9, 10)]
    alignment = align(pieces, words, 15, truncated=True)
    assert alignment.piece_words == (None, 0, 2, 4, None, 5, 5)
    assert alignment.own_pieces == (1, None, 2, None, 3, 5, None)
    assert alignment.shared_pieces == (None, 1, None, 2, None, None, None)
    assert alignment.piece_labels([1, 2, 2, 2, 2, 1, 0]) == [IGNORE_INDEX, 1, 2, 2, IGNORE_INDEX, 1, IGNORE_INDEX]
    assert alignment.word_tags(["O", "B-Chemical", "O", "I-Gene", "B-Gene", "B-Gene", "O"]) == \
        ["B-Chemical", "I-Chemical", "O", "O", "I-Gene", "B-Gene", "O"]


# ---- tokenizers that cannot be aligned are refused ----

def test_a_slow_tokenizer_is_refused_with_its_name() -> None:
    from clingen.training.model_io import offline_encoder_dir
    try:
        vocab = f"{offline_encoder_dir()}/vocab.txt"
    except RuntimeError as exc:
        pytest.skip(f"offline MiniLM encoder unavailable: {exc}")
    slow = transformers.BertTokenizerLegacy(vocab_file=vocab)
    assert not slow.is_fast
    with pytest.raises(ConfigError, match=r"task ncbi-disease .*offsets.*BertTokenizerLegacy is slow"):
        Featurizer(NCBI, slow, 32)
    with pytest.raises(ConfigError, match=r"model of task ncbi-disease .*BertTokenizerLegacy is slow"):
        Predictor(PositionTagger({}), slow, ModelCard.from_spec(NCBI, max_length=32))
    Featurizer(get_task("gad"), slow, 32)  # sequence tasks need no offsets


class LostOffsets:
    """A fast tokenizer whose every piece claims (0, 0), as a converter that lost the alignments would give."""

    is_fast, name_or_path = True, "org/broken"

    def __call__(self, text, **_):
        return {"input_ids": [5] * 4, "offset_mapping": [(0, 0)] * 4}


def test_a_fast_tokenizer_with_unusable_offsets_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"task x tags words.*'org/broken'.*words without a piece \['Hepato"):
        require_word_alignment(LostOffsets(), "task x")
