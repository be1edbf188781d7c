"""Property tests of the real-data readers: random documents written to files in each published format (PubTator,
CoNLL in its schemes, CASI JSON lines), with nested and overlapping mentions of several types, several sentences
and non-ASCII text, read the way every command reads them (read_task_data) for every built-in task that reads the
format, and compared with the truth that was drawn: the mentions, where they are, their tags, what is counted;
every result survives a ClinGen record file (JSONL and Parquet) unchanged."""

from __future__ import annotations

import tempfile
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from clingen.datasets.readers import read_real_file, read_task_data
from clingen.datasets.records import (Span, bio_to_spans, read_jsonl, read_parquet, write_jsonl,
                                      write_parquet)
from clingen.errors import DataFormatError
from clingen.tasks.registry import builtin_tasks
from clingen.tasks.spec import label_key

pytestmark = pytest.mark.unit

TASKS = builtin_tasks()
NER_TASKS = sorted(name for name, spec in TASKS.items() if spec.family == "ner")
# Letters of several scripts and digits: no sentence punctuation, no white space, no PubTator or CoNLL syntax.
WORD = st.text(alphabet="abcdefghijklmnopqrstuvwxyzéüßçñαβγδдж中文0123456789-", min_size=1, max_size=7)


def type_names(spec) -> tuple[list[str], list[str]]:
    """The entity types a file may name for the task: those it keeps (its labels and label_map names mapped to
    one) and those its label_map drops."""
    names = [*spec.label_names, *spec.label_map]
    lookup = spec.dataset_labels()
    return ([n for n in names if lookup[label_key(n)]], [n for n in names if lookup[label_key(n)] is None])


@st.composite
def sentence(draw) -> str:
    """One sentence of the splitter's kind: starts with a capital, ends with a period after a word that is not
    an abbreviation, words apart by a space or a no-break space."""
    words = draw(st.lists(WORD, min_size=1, max_size=7))
    words[0] = draw(st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZ")) + words[0]
    words[-1] += "um."
    gaps = draw(st.lists(st.sampled_from([" ", " ", "\u00a0"]), min_size=len(words) - 1, max_size=len(words) - 1))
    return "".join(word + gap for word, gap in zip(words, [*gaps, ""]))


def _edge_positions(text: str) -> list[int]:
    return [i for i, char in enumerate(text) if not char.isspace()]


@st.composite
def interval(draw, text: str, lo: int = 0, hi: int | None = None) -> tuple[int, int]:
    """[start, end) in text, starting at a non-space character in [lo, hi) and ending after one."""
    starts = [i for i in _edge_positions(text) if lo <= i < (len(text) if hi is None else hi)]
    start = draw(st.sampled_from(starts))
    end = draw(st.sampled_from([i + 1 for i in _edge_positions(text) if i >= start]))
    return start, end


@st.composite
def sentence_mentions(draw, text: str, kept: list[str], dropped: list[str]) -> list[tuple[int, int, str, str]]:
    """(start, end, type, role) of one sentence. role "kept": the task's types, apart from each other; "shadowed":
    the task's types, starting inside a kept mention (nested, or running past its end), so the kept one comes
    first and is the one BIO shows; "dropped": a type the task's label_map drops, anywhere (around a kept one:
    "Nicotine" in "Nicotine dependence")."""
    mentions: list[tuple[int, int, str, str]] = []
    for start, end in draw(st.lists(interval(text), max_size=4)):
        if all(end <= s or e <= start for s, e, _, _ in mentions):
            mentions.append((start, end, draw(st.sampled_from(kept)), "kept"))
    outer = [(s, e) for s, e, _, _ in mentions]
    for _ in range(draw(st.integers(0, 2)) if outer else 0):
        s, e = draw(st.sampled_from(outer))
        start, end = draw(interval(text, s, e))
        if (start, end) != (s, e) and not (start == s and end > e):
            mentions.append((start, end, draw(st.sampled_from(kept)), "shadowed"))
    for start, end in draw(st.lists(interval(text), max_size=3)) if dropped else []:
        mentions.append((start, end, draw(st.sampled_from(dropped)), "dropped"))
    return mentions


@st.composite
def pubtator_corpus(draw, kept: list[str], dropped: list[str]):
    """Documents as (pmid, sentences, mentions by sentence)."""
    documents = []
    for number in range(draw(st.integers(1, 3))):
        sentences = draw(st.lists(sentence(), min_size=1, max_size=4))
        mentions = [draw(sentence_mentions(text, kept, dropped)) for text in sentences]
        documents.append((str(1000 + number), sentences, mentions))
    return documents


def write_pubtator(path: Path, documents, shuffle) -> None:
    lines = []
    for pmid, sentences, mentions in documents:
        lines += [f"{pmid}|t|{sentences[0]}", f"{pmid}|a|{' '.join(sentences[1:])}"]
        offset, annotations = 0, []
        for text, found in zip(sentences, mentions):
            annotations += [f"{pmid}\t{offset + s}\t{offset + e}\t{text[s:e]}\t{kind}\tD{s}" for s, e, kind, _ in found]
            offset += len(text) + 1
        lines += shuffle(annotations) + [""]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def assert_tags_say_what_spans_say(records) -> None:
    for record in records:
        assert bio_to_spans(record.tokens, record.tags, record.text) == record.spans
        assert "".join(record.tokens) == "".join(record.text.split())  # every character is in one token


def assert_record_files_keep(records, family: str, folder: Path) -> None:
    """Written as ClinGen records (JSONL, Parquet) and read back, the records are identical."""
    write_jsonl(folder / "records.jsonl", records)
    write_parquet(folder / "records.parquet", records, family)
    assert read_jsonl(folder / "records.jsonl", family) == records
    assert read_parquet(folder / "records.parquet", family) == records


def notes_of(problems: list[str], phrase: str) -> Counter:
    """{type: count} of the problem lines saying `phrase` ("N 'Disease' mention(s) dropped ...")."""
    found: Counter = Counter()
    for line in problems:
        if phrase in line:
            count, name = line.split(" ", 2)[:2]
            found[name.strip("'")] += int(count)
    return found


@pytest.mark.parametrize("task", NER_TASKS)
@given(data=st.data())
def test_pubtator_mentions_of_the_tasks_types_are_never_lost_or_misplaced(task, data):
    spec = TASKS[task]
    kept, dropped = type_names(spec)
    documents = data.draw(pubtator_corpus(kept, dropped))
    lookup = spec.dataset_labels()
    expected = {f"{pmid}-{index}": (text, sorted(
        [Span(s, e, lookup[label_key(kind)], text[s:e]) for s, e, kind, role in found if role == "kept"],
        key=lambda span: (span.start, -span.end)))
        for pmid, sentences, mentions in documents for index, (text, found) in enumerate(zip(sentences, mentions))}
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "corpus.PubTator.txt"
        write_pubtator(path, documents, lambda lines: data.draw(st.permutations(lines)))
        if not any(spans for _, spans in expected.values()):
            with pytest.raises(DataFormatError, match=f"none with an entity of task {task}"):
                read_task_data(spec, path)
            return
        result = read_task_data(spec, path)
        assert {r.id: (r.text, r.spans) for r in result.records} == expected
        assert_tags_say_what_spans_say(result.records)
        roles = Counter(role for _, _, mentions in documents for found in mentions for *_, role in found)
        assert sum(notes_of(result.problems, "nest in or overlap").values()) == roles["shadowed"]
        assert sum(notes_of(result.problems, "dropped: label_map").values()) == roles["dropped"]
        assert_record_files_keep(result.records, "ner", Path(folder))
        assert_record_files_keep(read_real_file(path, "ner").examples, "ner", Path(folder))
        write_jsonl(Path(folder) / "converted.jsonl", result.records)  # a converted split reads as itself
        assert read_task_data(spec, Path(folder) / "converted.jsonl").records == result.records


# ---- CoNLL --------------------------------------------------------------------------------------------------

BARE = "(bare B/I)"


@st.composite
def conll_sentence(draw, types: list[str]):
    """Tokens and non-overlapping chunks (first token, last token, type) over them."""
    tokens = draw(st.lists(WORD, min_size=1, max_size=8))
    chunks, free = [], 0
    while free < len(tokens) and draw(st.booleans()):
        first = draw(st.integers(free, len(tokens) - 1))
        last = draw(st.integers(first, min(first + 2, len(tokens) - 1)))
        chunks.append((first, last, draw(st.sampled_from(types))))
        free = last + 1
    return tokens, chunks


def scheme_tags(tokens, chunks, scheme: str) -> list[str]:
    tags = ["O"] * len(tokens)
    previous_end, previous_type = -2, None
    for first, last, kind in chunks:
        suffix = "" if kind == BARE else f"-{kind.replace(' ', '_')}"  # a column holds no space: NO_CLASS
        follows = previous_end == first - 1 and previous_type == kind
        for i in range(first, last + 1):
            if scheme == "IOB2":
                prefix = "B" if i == first else "I"
            elif scheme == "IOB1":
                prefix = "B" if i == first and follows else "I"
            else:
                prefix = ("S" if first == last else "B") if i == first else ("E" if i == last else "I")
            tags[i] = prefix + suffix
        previous_end, previous_type = last, kind
    return tags


@pytest.mark.parametrize("task", [*NER_TASKS, "casi"])
@given(data=st.data())
def test_conll_chunks_in_any_scheme_read_as_the_chunks_drawn(task, data):
    spec = TASKS[task]
    kept, dropped = type_names(spec)
    kept = kept + ([BARE] if len(spec.labels) == 1 else [])
    sentences = data.draw(st.lists(conll_sentence(kept + dropped), min_size=1, max_size=4))
    scheme = data.draw(st.sampled_from(["IOB1", "IOB2", "IOBES"]))
    separator = data.draw(st.sampled_from(["\t", " "]))
    lines = ["-DOCSTART- -X- O O", ""] if data.draw(st.booleans()) else []
    for tokens, chunks in sentences:
        tags = scheme_tags(tokens, chunks, scheme)
        lines += [separator.join([token, "NN", tag] if separator == " " else [token, tag]) for token, tag in
                  zip(tokens, tags)] + [""]
    expected = []
    for tokens, chunks in sentences:
        starts = [sum(len(t) + 1 for t in tokens[:i]) for i in range(len(tokens))]
        text = " ".join(tokens)
        expected.append([Span(starts[first], starts[last] + len(tokens[last]),
                              spec.labels[0].name if kind == BARE else spec.dataset_labels()[label_key(kind)],
                              text[starts[first]:starts[last] + len(tokens[last])])
                         for first, last, kind in chunks if kind not in dropped])
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "train.tsv"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        if not any(expected):
            with pytest.raises(DataFormatError, match=f"none with an entity of task {task}"):
                read_task_data(spec, path)
            return
        records = read_task_data(spec, path).records
        assert [r.spans for r in records] == expected
        assert [r.tokens for r in records] == [tokens for tokens, _ in sentences]
        assert_tags_say_what_spans_say(records)
        assert_record_files_keep(records, spec.family, Path(folder))


# ---- CASI JSON lines -----------------------------------------------------------------------------------------

@given(data=st.data())
def test_casi_attribute_strings_are_placed_where_they_occur(data):
    spec = TASKS["casi"]
    kept, _ = type_names(spec)
    rows, expected = [], []
    for _ in range(data.draw(st.integers(1, 3))):
        words = data.draw(st.lists(WORD, min_size=1, max_size=8))
        text = " ".join(words)
        starts = [sum(len(w) + 1 for w in words[:i]) for i in range(len(words))]
        spans, free = [], 0
        while free < len(words) and data.draw(st.booleans()):
            first = data.draw(st.integers(free, len(words) - 1))
            last = data.draw(st.integers(first, min(first + 2, len(words) - 1)))
            start, end = starts[first], starts[last] + len(words[last])
            spans.append((start, end, data.draw(st.sampled_from(kept))))
            free = last + 1
        assume(all(text.count(text[s:e]) == 1 for s, e, _ in spans))
        listed = data.draw(st.booleans())
        row: dict = {"text": text, "section": "medications"} if not listed else {"text": text, "attributes": []}
        for s, e, kind in data.draw(st.permutations(spans)):
            if listed:
                row["attributes"].append({"type": kind, "text": text[s:e]})
            else:
                row.setdefault(kind, []).append(text[s:e])
        rows.append(row)
        expected.append([Span(s, e, spec.dataset_labels()[label_key(kind)], text[s:e]) for s, e, kind in spans])
    assume(any(expected))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "casi.jsonl"
        write_jsonl_rows(path, rows)
        records = read_task_data(spec, path).records
        assert [r.spans for r in records] == expected
        assert_tags_say_what_spans_say(records)
        assert_record_files_keep(records, "attribute", Path(folder))


def write_jsonl_rows(path: Path, rows: list[dict]) -> None:
    import json
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")


# ---- CDR relation instances from PubTator -----------------------------------------------------------------------

@st.composite
def cdr_corpus(draw):
    """Documents as (pmid, sentences, mentions by sentence as (start, end, type, concept id), CID pairs); a
    concept id names one of a few chemicals or diseases, so that pairs recur across sentences. Mentions may
    nest in or overlap each other; two of one type never share their offsets (that is a composite mention,
    whose pairs share one instance: a case of its own in test_reader_formats)."""
    documents = []
    for number in range(draw(st.integers(1, 3))):
        sentences = draw(st.lists(sentence(), min_size=1, max_size=4))
        mentions = []
        for text in sentences:
            found = {}
            for s, e in draw(st.lists(interval(text), max_size=4)):
                kind = draw(st.sampled_from(["Chemical", "Disease"]))
                found.setdefault((s, e, kind), f"{kind[0]}{draw(st.integers(1, 3))}")
            mentions.append([(s, e, kind, concept) for (s, e, kind), concept in found.items()])
        pairs = draw(st.sets(st.tuples(st.sampled_from(["C1", "C2", "C3"]), st.sampled_from(["D1", "D2", "D3"]))))
        documents.append((str(2000 + number), sentences, mentions, pairs))
    return documents


def cdr_truth(documents) -> dict[str, tuple[str, list]]:
    """{instance id: (label, [(chemical mention, disease mention) that may be the masked ones])}: one instance
    per sentence and (chemical id, disease id) pair with two mentions in it that do not overlap."""
    truth = {}
    for pmid, sentences, mentions, pairs in documents:
        for index, found in enumerate(mentions):
            for chem in sorted({m[3] for m in found if m[2] == "Chemical"}):
                for dis in sorted({m[3] for m in found if m[2] == "Disease"}):
                    options = [(c, d) for c in found if c[3] == chem for d in found if d[3] == dis
                               if c[1] <= d[0] or d[1] <= c[0]]
                    if options:
                        truth[f"{pmid}-{index}-{chem}-{dis}"] = ("induce" if (chem, dis) in pairs else "not_induce",
                                                                 options)
    return truth


def masked(text: str, chemical, disease) -> str:
    for start, end, mask in sorted([(chemical[0], chemical[1], "@CHEMICAL$"), (disease[0], disease[1], "@DISEASE$")],
                                   reverse=True):
        text = text[:start] + mask + text[end:]
    return text


@given(data=st.data())
def test_cdr_gives_one_instance_per_sentence_and_concept_pair_sharing_it(data):
    from clingen.datasets.summary import summarize
    spec = TASKS["cdr"]
    documents = data.draw(cdr_corpus())
    truth = cdr_truth(documents)
    lines = []
    for pmid, sentences, mentions, pairs in documents:
        lines += [f"{pmid}|t|{sentences[0]}", f"{pmid}|a|{' '.join(sentences[1:])}"]
        offset = 0
        for text, found in zip(sentences, mentions):
            lines += [f"{pmid}\t{offset + s}\t{offset + e}\t{text[s:e]}\t{kind}\t{concept}" for s, e, kind, concept in found]
            offset += len(text) + 1
        lines += [f"{pmid}\tCID\t{chem}\t{dis}" for chem, dis in sorted(pairs)] + [""]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "cdr.PubTator.txt"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        if not truth:
            with pytest.raises(DataFormatError, match="gives no relation instance for task cdr"):
                read_task_data(spec, path)
            return
        result = read_task_data(spec, path)
        got = {r.id: r for r in result.records}
        assert {key: label for key, (label, _) in truth.items()} == {key: r.label for key, r in got.items()}
        sentences = {f"{pmid}-{i}": text for pmid, texts, _, _ in documents for i, text in enumerate(texts)}
        for key, (_, options) in truth.items():  # the masks stand on a mention of each of the instance's concepts
            text = sentences[key.rsplit("-", 2)[0]]
            assert got[key].text in {masked(text, chem, dis) for chem, dis in options}
        lost = sum(len({p for p in pairs if not any(k.startswith(f"{pmid}-") and k.endswith(f"-{p[0]}-{p[1]}")
                                                     for k in truth)}) for pmid, _, _, pairs in documents)
        assert any(f"{lost} of " in line and "never share a sentence" in line for line in result.problems) == bool(lost)
        counts = Counter(label for label, _ in truth.values())
        assert summarize(spec, result)["label_counts"] == {"not_induce": counts["not_induce"], "induce": counts["induce"]}
        assert_record_files_keep(result.records, "relation", Path(folder))


# ---- the encoder every offset-based reader uses ---------------------------------------------------------------

@given(text=st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=40), data=st.data())
def test_an_example_built_from_character_spans_tags_exactly_those_spans(text, data):
    """Any text (any script, combining marks, odd white space) and any mentions apart from each other that start
    and end on a character that is not white space: the tags say exactly the spans, and every character that
    is not white space is in exactly one token."""
    from clingen.datasets.records import ner_example_from_spans
    assume(any(not char.isspace() for char in text))
    spans: list[Span] = []
    for start, end in data.draw(st.lists(interval(text), max_size=4)):
        if all(end <= s.start or s.end <= start for s in spans):
            spans.append(Span(start, end, data.draw(st.sampled_from(["Chemical", "Disease"])), text[start:end]))
    record = ner_example_from_spans("x", text, spans, split_at_spans=True)
    assert record.spans == sorted(spans, key=lambda s: (s.start, -s.end))
    assert_tags_say_what_spans_say([record])
