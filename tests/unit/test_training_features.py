"""Tests of the training stage's label spaces, featurizer, collate, encoder loading and Predictor (offline MiniLM)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from clingen.datasets.records import ClassificationExample, NERExample, PairExample, RelationExample
from clingen.errors import ConfigError, DataFormatError
from clingen.tasks.registry import get_task
from clingen.training.features import IGNORE_INDEX, Featurizer, collate
from clingen.training.labels import encode_relation_text, label_space
from clingen.training.model_io import load_encoder_for_training, offline_encoder_dir
from clingen.training.card import CARD_FILE, ModelCard
from clingen.training.predict import Predictor, save_model

pytestmark = pytest.mark.unit

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
HOC_LABELS = get_task("hoc").label_names


@pytest.fixture(scope="module")
def encoder_dir() -> str:
    try:
        return offline_encoder_dir()
    except RuntimeError as exc:
        pytest.skip(f"offline MiniLM encoder unavailable: {exc}")


@pytest.fixture(scope="module")
def tokenizer(encoder_dir: str):
    torch.set_num_threads(1)
    return transformers.AutoTokenizer.from_pretrained(encoder_dir)


def _forced(model, bias: list[float]):
    """Make the head ignore its input and always output `bias`, so that predictions are known exactly."""
    head = model.classifier
    with torch.no_grad():
        head.weight.zero_()
        head.bias.copy_(torch.tensor(bias))
    return model


# ---- label spaces and relation encoding ----

def test_label_spaces_per_family() -> None:
    ner = label_space(get_task("ncbi-disease"))
    assert (ner.names, ner.kind, ner.multi_label) == (("O", "B-Disease", "I-Disease"), "token", False)
    hoc = label_space(get_task("hoc"))
    assert (hoc.names, hoc.kind, hoc.multi_label) == (tuple(HOC_LABELS), "sequence", True)
    assert hoc.to_id("resisting cell death") == 4 and hoc.to_name(4) == "resisting cell death"
    assert label_space(get_task("casi")).names[:3] == ("O", "B-Medication", "I-Medication")


def test_relation_masks_markers_and_premasked_text() -> None:
    gad = get_task("gad")
    assert encode_relation_text("BRCA1 variants and breast cancer", "BRCA1", "breast cancer", gad) == \
        "@GENE$ variants and @DISEASE$"
    # whole words only, every occurrence, case-insensitive except acronyms (as the parser matches names)
    assert encode_relation_text("brca1, BRCA12 and Breast Cancer; BRCA1.", "BRCA1", "breast cancer", gad) == \
        "brca1, BRCA12 and @DISEASE$; @GENE$."
    unmasked = gad.model_copy(update={"head_mask": None, "tail_mask": None})
    assert encode_relation_text("BRCA1 variants and breast cancer", "BRCA1", "breast cancer", unmasked) == \
        "[E1] BRCA1 [/E1] variants and [E2] breast cancer [/E2]"
    assert encode_relation_text("@GENE$ in @DISEASE$", None, None, gad) == "@GENE$ in @DISEASE$"


# ---- featurizer ----

def test_ner_labels_go_on_the_first_subtoken_only(tokenizer) -> None:
    featurizer = Featurizer(get_task("ncbi-disease"), tokenizer, max_length=32)
    record = NERExample("n-1", "Hepatocarcinogenesis in mice", ["Hepatocarcinogenesis", "in", "mice"],
                        ["B-Disease", "O", "O"])
    encoded = featurizer.encode([record])
    pieces = tokenizer.convert_ids_to_tokens(encoded["input_ids"][0])
    assert pieces == ["[CLS]", "he", "##pa", "##to", "##car", "##cino", "##genesis", "in", "mice", "[SEP]"]
    assert encoded["labels"] == [[IGNORE_INDEX, 1, *[IGNORE_INDEX] * 5, 0, 0, IGNORE_INDEX]]
    assert encoded["truncated"] == [False]
    short = Featurizer(get_task("ncbi-disease"), tokenizer, max_length=4).encode([record])
    assert short["labels"] == [[IGNORE_INDEX, 1, IGNORE_INDEX, IGNORE_INDEX]] and short["truncated"] == [True]


def test_multi_label_records_get_multi_hot_labels(tokenizer) -> None:
    featurizer = Featurizer(get_task("hoc"), tokenizer, max_length=8)
    records = [ClassificationExample("h-1", "Tumours grow new vessels and resist apoptosis.",
                                     ["resisting cell death", "inducing angiogenesis"]),
               ClassificationExample("h-2", "No hallmark.", [])]
    encoded = featurizer.encode(records)
    assert encoded["labels"] == [[0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 1.0, 0.0, 0.0], [0.0] * 10]
    assert [len(ids) for ids in encoded["input_ids"]] == [8, 5] and encoded["truncated"] == [True, False]


def test_relation_records_are_masked_before_tokenising(tokenizer) -> None:
    featurizer = Featurizer(get_task("gad"), tokenizer, max_length=32)
    record = RelationExample("r-1", "BRCA1 variants and breast cancer", "Has_relation", "BRCA1", "breast cancer")
    encoded = featurizer.encode([record])
    assert tokenizer.decode(encoded["input_ids"][0]) == "[CLS] @ gene $ variants and @ disease $ [SEP]"
    assert encoded["labels"] == [0]


def test_pair_records_have_two_segments(tokenizer) -> None:
    featurizer = Featurizer(get_task("mednli"), tokenizer, max_length=32)
    record = PairExample("p-1", "the patient has fever", "the patient is afebrile", "contradiction")
    encoded = featurizer.encode([record])
    # [CLS] + 4 pieces + [SEP], then 7 pieces ("af ##eb ##ril ##e") + [SEP]
    assert encoded["token_type_ids"] == [[0] * 6 + [1] * 8]
    assert encoded["labels"] == [1] and encoded["truncated"] == [False]
    cut = Featurizer(get_task("mednli"), tokenizer, max_length=10).encode([record])
    assert len(cut["input_ids"][0]) == 10 and cut["truncated"] == [True] and 1 in cut["token_type_ids"][0]


def test_unknown_labels_name_the_record_and_the_known_labels(tokenizer) -> None:
    with pytest.raises(DataFormatError) as info:
        Featurizer(get_task("gad"), tokenizer, 32).encode([RelationExample("r-7", "x and y", "Causes")])
    message = str(info.value)
    assert "'r-7'" in message and "'Causes'" in message and "Has_relation" in message and "No_relation" in message
    with pytest.raises(DataFormatError, match=r"'n-2'.*'B-Chemical'.*I-Disease"):
        Featurizer(get_task("ncbi-disease"), tokenizer, 32).encode([NERExample("n-2", "aspirin", ["aspirin"],
                                                                               ["B-Chemical"])])


def test_collate_pads_each_column_with_its_own_value() -> None:
    rows = [{"input_ids": [101, 5, 102], "attention_mask": [1, 1, 1], "token_type_ids": [0, 0, 0],
             "labels": [IGNORE_INDEX, 1, IGNORE_INDEX], "truncated": False},
            {"input_ids": [101, 102], "attention_mask": [1, 1], "token_type_ids": [0, 0],
             "labels": [IGNORE_INDEX, IGNORE_INDEX], "truncated": False}]
    batch = collate(rows, pad_token_id=7)
    assert set(batch) == {"input_ids", "attention_mask", "token_type_ids", "labels"}
    assert batch["input_ids"].tolist() == [[101, 5, 102], [101, 102, 7]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [1, 1, 0]]
    assert batch["token_type_ids"].tolist() == [[0, 0, 0], [0, 0, 0]]
    assert batch["labels"].tolist() == [[-100, 1, -100], [-100, -100, -100]]
    # Ray Data hands columns as numpy (object) arrays; multi-hot labels stay float
    columns = {"input_ids": np.array([[101, 102], [101, 9, 102]], dtype=object),
               "attention_mask": np.array([[1, 1], [1, 1, 1]], dtype=object),
               "labels": np.array([[1.0, 0.0], [0.0, 0.0]])}
    batch = collate(columns, pad_token_id=0)
    assert batch["input_ids"].tolist() == [[101, 102, 0], [101, 9, 102]]
    assert batch["labels"].dtype == torch.float32 and batch["labels"].tolist() == [[1.0, 0.0], [0.0, 0.0]]
    single = collate({"input_ids": [[1, 2]], "labels": np.array([2])}, pad_token_id=0)["labels"]
    assert single.dtype == torch.long and single.tolist() == [2]


# ---- encoder loading ----

def test_load_encoder_sets_the_head_and_refuses_bad_folders(encoder_dir, tmp_path) -> None:
    model, tokenizer = load_encoder_for_training(encoder_dir, label_space(get_task("hoc")))
    assert model.config.problem_type == "multi_label_classification" and model.config.num_labels == 10
    assert model.config.id2label[4] == "resisting cell death" and tokenizer.pad_token_id == 0
    with pytest.raises(ConfigError, match=str(tmp_path / "absent")):
        load_encoder_for_training(str(tmp_path / "absent"), label_space(get_task("hoc")))
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "pytorch_model.bin").write_bytes(b"")
    with pytest.raises(ConfigError, match=rf"{tmp_path}.*no safetensors weights"):
        load_encoder_for_training(str(tmp_path), label_space(get_task("hoc")))


# ---- predictor ----

@pytest.fixture(scope="module")
def hoc_model_dir(encoder_dir, tmp_path_factory):
    spec = get_task("hoc")
    torch.manual_seed(0)
    model, tokenizer = load_encoder_for_training(encoder_dir, label_space(spec))
    card = ModelCard.from_spec(spec, max_length=16)
    folder = save_model(model, tokenizer, card, tmp_path_factory.mktemp("hoc") / "model")
    return model, tokenizer, card, folder


@pytest.fixture(scope="module")
def ner_model(encoder_dir):
    spec = get_task("ncbi-disease")
    model, tokenizer = load_encoder_for_training(encoder_dir, label_space(spec))
    return model, tokenizer, ModelCard.from_spec(spec, max_length=8)


TEXTS = ["Tumours induce angiogenesis.",
         "Hepatocarcinogenesis cells resist apoptosis, evade immune destruction and metastasise in mice."]


def test_predictions_in_memory_equal_those_after_loading(hoc_model_dir) -> None:
    model, tokenizer, card, folder = hoc_model_dir
    in_memory = Predictor(model, tokenizer, card, batch_size=1).predict_texts(TEXTS)
    loaded = Predictor.load(folder, batch_size=1)
    assert loaded.predict_texts(TEXTS) == in_memory
    assert set(in_memory[0]["scores"]) == set(HOC_LABELS)
    assert [result["truncated"] for result in in_memory] == [False, True]
    records = [ClassificationExample(str(i), text, []) for i, text in enumerate(TEXTS)]
    assert loaded.predict_records(records) == [result["labels"] for result in in_memory]


def test_multi_label_thresholds_are_respected(hoc_model_dir) -> None:
    model, tokenizer, card, _ = hoc_model_dir
    everything = Predictor(model, tokenizer, card.model_copy(update={"thresholds": {n: 0.0 for n in HOC_LABELS}}))
    assert everything.predict_texts(TEXTS[:1])[0]["labels"] == HOC_LABELS
    nothing = Predictor(model, tokenizer, card.model_copy(update={"thresholds": {n: 1.01 for n in HOC_LABELS}}))
    assert nothing.predict_texts(TEXTS[:1])[0]["labels"] == []


def test_load_fails_early_with_the_path(hoc_model_dir, tmp_path) -> None:
    model, tokenizer, card, _ = hoc_model_dir
    with pytest.raises(ConfigError, match=str(tmp_path / "nowhere")):
        Predictor.load(tmp_path / "nowhere")
    folder = tmp_path / "no-card"
    model.save_pretrained(folder, safe_serialization=True)
    with pytest.raises(ConfigError, match=rf"{folder}.*{CARD_FILE}"):
        Predictor.load(folder)
    (folder / CARD_FILE).write_text("{not json")
    with pytest.raises(ConfigError, match=rf"{folder / CARD_FILE}.*not readable JSON"):
        Predictor.load(folder)
    (folder / CARD_FILE).write_text(json.dumps({"task": "hoc"}))
    with pytest.raises(ConfigError, match="lacks"):
        Predictor.load(folder)
    card.write(folder)
    (folder / "model.safetensors").unlink()
    with pytest.raises(ConfigError, match=rf"{folder}.*no safetensors weights"):
        Predictor.load(folder)


def test_entity_offsets_slice_the_original_text(ner_model) -> None:
    model, tokenizer, card = ner_model
    text = "Aspirin-induced  asthma in adults."  # double space: offsets must not assume single spaces
    predictor = Predictor(_forced(model, [0.0, 0.0, 5.0]), tokenizer, card)  # I-Disease everywhere
    [result] = predictor.predict_entities([text])
    # max_length 8 leaves 6 sub-tokens: "as ##pi ##rin - induced asthma"; later words get O
    assert result == {"entities": [{"start": 0, "end": 23, "type": "Disease", "text": "Aspirin-induced  asthma"}],
                      "truncated": True}
    assert text[0:23] == "Aspirin-induced  asthma"
    predictor = Predictor(_forced(model, [0.0, 5.0, 0.0]), tokenizer,  # B- everywhere
                          card.model_copy(update={"max_length": 32}))
    [result] = predictor.predict_entities([text])
    assert [e["text"] for e in result["entities"]] == ["Aspirin", "-", "induced", "asthma", "in", "adults", "."]
    assert all(text[e["start"]:e["end"]] == e["text"] for e in result["entities"])
    record = NERExample("n-1", "in adults", ["in", "adults"], ["O", "O"])
    assert predictor.predict_records([record]) == [["B-Disease", "B-Disease"]]
    assert predictor.predict_entities([""]) == [{"entities": [], "truncated": False}]


def test_relation_predictor_masks_entities(encoder_dir) -> None:
    spec = get_task("gad")
    model, tokenizer = load_encoder_for_training(encoder_dir, label_space(spec))
    predictor = Predictor(_forced(model, [0.0, 3.0]), tokenizer, ModelCard.from_spec(spec, max_length=32))
    by_entities = predictor.predict_relations([("BRCA1 variants and breast cancer", "BRCA1", "breast cancer")])
    assert by_entities == predictor.predict_texts(["@GENE$ variants and @DISEASE$"])
    assert by_entities[0]["label"] == "No_relation"
    with pytest.raises(ConfigError, match="predict_pairs"):
        predictor.predict_pairs([("a", "b")])


def test_featurized_blocks_have_one_arrow_type_whatever_their_row_lengths(encoder_dir):
    """Ray Data joins the featurizer's blocks: a block of equally long rows must not become a tensor column
    while another block holds lists (that failed a supervised NCBI run mid-epoch)."""
    import pyarrow as pa

    from clingen.training.run import FeaturizeRecords
    featurize = FeaturizeRecords(get_task("ncbi-disease").model_dump_json(), encoder_dir, 32, False)
    def row(id_, tokens, tags):
        return NERExample(id_, " ".join(tokens), tokens, tags).to_row()
    same = [row("a", ["Gout", "flares"], ["B-Disease", "O"]), row("b", ["Asthma", "worsens"], ["B-Disease", "O"])]
    ragged = [row("c", ["Severe", "asthma", "attacks", "recur"], ["O", "B-Disease", "O", "O"]),
              row("d", ["Gout"], ["B-Disease"])]
    blocks = [featurize({key: [row[key] for row in rows] for key in rows[0]}) for rows in (same, ragged)]
    assert blocks[0].schema.field("input_ids").type == pa.list_(pa.int64())
    joined = pa.concat_tables(blocks)
    assert joined.num_rows == 4 and joined.schema == blocks[1].schema


def test_evaluation_tunes_multi_label_thresholds_on_the_fewshot_split_only(encoder_dir, tmp_path) -> None:
    """A head stuck below 0.5 (sigmoid(-2) = 0.12 for every label) predicts nothing at the default cut; cuts
    tuned on the few-shot split turn its ranking into labels, and the test split plays no part in them."""
    from clingen.config import load_config
    from clingen.datasets.records import write_jsonl
    from clingen.evaluation.evaluate import evaluate_model
    spec = get_task("hoc")
    model, tokenizer = load_encoder_for_training(encoder_dir, label_space(spec))
    folder = save_model(_forced(model, [-2.0] * len(HOC_LABELS)), tokenizer,
                        ModelCard.from_spec(spec, max_length=16), tmp_path / "model")
    first, second = HOC_LABELS[0], HOC_LABELS[1]
    write_jsonl(tmp_path / "fewshot.jsonl", [ClassificationExample("f1", "Tumours grow.", [first]),
                                             ClassificationExample("f2", "Cells divide.", [second]),
                                             ClassificationExample("f3", "Mice were fed.", [first, second])])
    write_jsonl(tmp_path / "test.jsonl", [ClassificationExample("t1", "Tumours invade.", [first]),
                                          ClassificationExample("t2", "Cells die.", [HOC_LABELS[2]])])
    config = load_config(overrides=["task=hoc"])
    untuned, _, _ = evaluate_model(folder, tmp_path / "test.jsonl", "hoc", "test", tmp_path / "a", config)
    assert untuned["micro_f1"] == 0.0 and "thresholds" not in untuned
    tuned, table, _ = evaluate_model(folder, tmp_path / "test.jsonl", "hoc", "test", tmp_path / "b", config,
                                     tune_on=tmp_path / "fewshot.jsonl")
    values = tuned["thresholds"]["values"]
    assert values[first] == pytest.approx(0.1192, abs=1e-3) and values[second] == pytest.approx(0.1192, abs=1e-3)
    assert values[HOC_LABELS[2]] == 0.5  # not in the few-shot split: no evidence for another cut
    assert tuned["thresholds"]["tuned_on_examples"] == 3 and tuned["per_label"][first]["recall"] == 1.0
    assert tuned["micro_f1"] > 0 and "thresholds (tuned on 3 real training examples)" in table


def test_threshold_tuning_names_a_single_label_model_and_an_empty_split(encoder_dir, hoc_model_dir, tmp_path) -> None:
    from clingen.config import load_config
    from clingen.datasets.records import write_jsonl
    from clingen.evaluation.evaluate import evaluate_model
    gad = get_task("gad")
    model, tokenizer = load_encoder_for_training(encoder_dir, label_space(gad))
    gad_dir = save_model(model, tokenizer, ModelCard.from_spec(gad, max_length=16), tmp_path / "gad")
    pool = tmp_path / "gad.jsonl"
    write_jsonl(pool, [RelationExample("r1", "@GENE$ is linked to @DISEASE$ .", "Has_relation")])
    with pytest.raises(ConfigError, match=r"multi-label models; gad is single-label .*gad.jsonl"):
        evaluate_model(gad_dir, pool, "gad", "test", tmp_path / "a", load_config(overrides=["task=gad"]), tune_on=pool)
    unlabelled = tmp_path / "unlabelled.jsonl"
    write_jsonl(unlabelled, [ClassificationExample("u1", "Cells divide.", [])])
    with pytest.raises(DataFormatError, match=r"unlabelled.jsonl gives 1 document\(s\), none with a label of task hoc; "
                                              r"expected at least one document with a label"):  # refused when read
        evaluate_model(hoc_model_dir[3], unlabelled, "hoc", "test", tmp_path / "b",
                       load_config(overrides=["task=hoc"]), tune_on=unlabelled)
