"""Chunk invariants on real documents with the real MiniLM tokenizer."""

from __future__ import annotations

import itertools
import os
import time
from collections import defaultdict
from pathlib import Path

import pytest

from morgan.rag.chunking import (
    GRANULARITIES,
    Chunk,
    ChunkSizes,
    GranularitySize,
    chunk_document,
    load_minilm_tokenizer,
)
from morgan.rag.extract import ExtractedDocument, Mime, Section, extract
from morgan.text import sentence_spans as split_sentences

SAMPLES = Path(os.environ.get("MORGAN_SAMPLE_DOCUMENTS", "/work/shared/data/documents"))
SAMPLE_FILES = [
    "pdf/GeoBase_NHNC1_Data_Model_UML_EN.pdf",
    "pdf/multicolumn.pdf",
    "docx/handbook-1p.docx",
    "html/wikipedia-hermitian-matrix.html",
    "html/v8-blog.html",
    "md/pypdf-extract-text.md",
]


@pytest.fixture(scope="module")
def tokenizer():
    return load_minilm_tokenizer()


@pytest.fixture(scope="module")
def samples() -> dict[str, ExtractedDocument]:
    if not (SAMPLES / "manifest.tsv").exists():
        pytest.skip(f"sample documents not found under {SAMPLES}")
    return {name: extract((SAMPLES / name).read_bytes(), Path(name).name) for name in SAMPLE_FILES}


def assert_invariants(
    doc: ExtractedDocument, chunks: list[Chunk], sizes: ChunkSizes, count
) -> None:
    by_granularity: dict[str, list[Chunk]] = defaultdict(list)
    for chunk in chunks:
        by_granularity[chunk.granularity].append(chunk)
    assert set(by_granularity) == set(GRANULARITIES)

    for granularity, group in by_granularity.items():
        # Stable, contiguous indices in document order.
        assert [chunk.index for chunk in group] == list(range(len(group)))
        order = [(chunk.section_index, chunk.char_start) for chunk in group]
        assert order == sorted(order)
        limit = sizes.of(granularity).max_tokens
        for chunk in group:
            section = doc.sections[chunk.section_index]
            # Inside one section, with its heading and page.
            assert section.text[chunk.char_start : chunk.char_end] == chunk.text
            assert chunk.text == chunk.text.strip() and chunk.text
            assert chunk.heading == section.heading
            assert chunk.page == section.page
            assert chunk.token_count <= limit
        assert [chunk.token_count for chunk in group] == count.count_batch([c.text for c in group])

    coarse, medium, fine = (by_granularity[g] for g in GRANULARITIES)
    assert all(chunk.parent_index is None for chunk in coarse)
    for child, parents in ((medium, coarse), (fine, medium)):
        for chunk in child:
            assert chunk.parent_index is not None
            parent = parents[chunk.parent_index]
            assert parent.section_index == chunk.section_index
            assert parent.char_start < chunk.char_end and chunk.char_start < parent.char_end
    for chunk in medium:  # a medium chunk lies wholly inside its coarse parent
        parent = coarse[chunk.parent_index]
        assert parent.char_start <= chunk.char_start and chunk.char_end <= parent.char_end
    for chunk in fine:  # and a fine chunk inside its grandparent
        grandparent = coarse[medium[chunk.parent_index].parent_index]
        assert grandparent.char_start <= chunk.char_start
        assert chunk.char_end <= grandparent.char_end

    # Nothing but whitespace is left out, at every granularity.
    for granularity, group in by_granularity.items():
        spans: dict[int, list[tuple[int, int]]] = defaultdict(list)
        for chunk in group:
            spans[chunk.section_index].append((chunk.char_start, chunk.char_end))
        for section_index, section in enumerate(doc.sections):
            uncovered, position = [], 0
            for start, end in sorted(spans[section_index]):
                uncovered.append(section.text[position:start])
                position = max(position, end)
            uncovered.append(section.text[position:])
            assert "".join(uncovered).strip() == "", (granularity, section_index)


@pytest.mark.parametrize("name", SAMPLE_FILES)
def test_sample_chunks_keep_invariants(name: str, samples, tokenizer) -> None:
    doc = samples[name]
    sizes = ChunkSizes()
    chunks = chunk_document(doc, tokenizer, sizes=sizes)
    assert_invariants(doc, chunks, sizes, tokenizer)


def test_fine_chunks_are_sentence_aligned_and_sized(samples, tokenizer) -> None:
    doc = samples["html/wikipedia-hermitian-matrix.html"]
    fine = [c for c in chunk_document(doc, tokenizer) if c.granularity == "fine"]
    for chunk in fine:
        text = doc.sections[chunk.section_index].text
        sentences = split_sentences(text)
        oversized = [(s, e) for s, e in sentences if tokenizer(text[s:e]) > 96]
        starts = {start for start, _ in sentences}
        ends = {end for _, end in sentences}
        for position, boundaries in ((chunk.char_start, starts), (chunk.char_end, ends)):
            inside_oversized = any(s <= position <= e for s, e in oversized)
            assert position in boundaries or inside_oversized, chunk.text
    sizable = [c.token_count for c in fine if c.token_count >= 64]
    assert len(sizable) >= len(fine) // 2  # most fine chunks reach the 64-token target
    assert max(c.token_count for c in fine) <= 96


def test_medium_and_fine_overlap_by_whole_sentences(tokenizer) -> None:
    sentences = [f"Sentence number {n} talks about topic {n} in some detail." for n in range(60)]
    doc = ExtractedDocument(
        title="t", mime=Mime.TEXT, sections=[Section(heading="H", text=" ".join(sentences))]
    )
    chunks = chunk_document(doc, tokenizer)
    medium = [c for c in chunks if c.granularity == "medium"]

    def coarse_of(chunk: Chunk) -> int:
        return (
            chunk.parent_index
            if chunk.granularity == "medium"
            else medium[chunk.parent_index].parent_index
        )

    for granularity in ("medium", "fine"):
        group = [c for c in chunks if c.granularity == granularity]
        assert len(group) > 1
        for previous, current in itertools.pairwise(group):
            if coarse_of(previous) == coarse_of(current):  # overlap stays inside a coarse chunk
                assert current.char_start < previous.char_end  # overlap
            assert current.char_end > previous.char_end  # progress
            assert current.text.startswith("Sentence number")
    coarse = [c for c in chunks if c.granularity == "coarse"]
    for previous, current in itertools.pairwise(coarse):
        assert current.char_start >= previous.char_end  # no overlap at coarse


def test_chunks_never_cross_sections_and_keep_pages(tokenizer) -> None:
    doc = ExtractedDocument(
        title="t",
        mime=Mime.PDF,
        pages=3,
        sections=[
            Section(heading="A", text="Alpha one. Alpha two.", page=1),
            Section(heading="A > B", text="Beta one. Beta two.", page=2),
            Section(heading="C", text="Gamma.", page=3),
        ],
    )
    chunks = chunk_document(doc, tokenizer)
    for granularity in GRANULARITIES:
        group = [c for c in chunks if c.granularity == granularity]
        assert [(c.heading, c.page, c.text) for c in group] == [
            ("A", 1, "Alpha one. Alpha two."),
            ("A > B", 2, "Beta one. Beta two."),
            ("C", 3, "Gamma."),
        ]


def test_big_sections_are_split_evenly(tokenizer) -> None:
    text = " ".join(f"Word{n} appears here once more." for n in range(120))
    doc = ExtractedDocument(title="t", mime=Mime.TEXT, sections=[Section(heading="", text=text)])
    coarse = [c for c in chunk_document(doc, tokenizer) if c.granularity == "coarse"]
    total = tokenizer(text)
    assert len(coarse) == -(-total // 512)
    assert max(c.token_count for c in coarse) - min(c.token_count for c in coarse) < 30


def test_unpunctuated_text_and_huge_words_respect_limits(tokenizer) -> None:
    table = "\n".join(f"cell {n} | value {n * 7} | note" for n in range(200))
    blob = "x" * 5000
    words = " ".join(["lorem"] * 3000)
    doc = ExtractedDocument(
        title="t",
        mime=Mime.TEXT,
        sections=[Section(heading="", text=t) for t in (table, blob, words)],
    )
    sizes = ChunkSizes()
    chunks = chunk_document(doc, tokenizer, sizes=sizes)
    assert_invariants(doc, chunks, sizes, tokenizer)


def test_plain_callable_counter_and_custom_sizes() -> None:
    def words(text: str) -> int:
        return len(text.split())

    sizes = ChunkSizes(
        coarse=GranularitySize(40),
        medium=GranularitySize(20, min_tokens=15, overlap_tokens=5),
        fine=GranularitySize(10, min_tokens=6, overlap_tokens=3),
    )
    text = " ".join(f"This is sentence {n}." for n in range(50))
    doc = ExtractedDocument(title="t", mime=Mime.TEXT, sections=[Section(heading="", text=text)])
    chunks = chunk_document(doc, words, sizes=sizes)

    class Words:
        def count_batch(self, texts):
            return [words(t) for t in texts]

    assert_invariants(doc, chunks, sizes, Words())
    assert chunk_document(doc, Words(), sizes=sizes) == chunks


def test_invalid_sizes_are_refused(tokenizer) -> None:
    doc = ExtractedDocument(title="t", mime=Mime.TEXT, sections=[Section(heading="", text="x")])
    bad = ChunkSizes(fine=GranularitySize(max_tokens=10, min_tokens=20))
    with pytest.raises(ValueError, match="fine"):
        chunk_document(doc, tokenizer, sizes=bad)
    with pytest.raises(ValueError, match="coarse"):
        chunk_document(doc, tokenizer, sizes=ChunkSizes(coarse=GranularitySize(0)))


def test_token_counts_come_from_minilm(tokenizer) -> None:
    assert tokenizer("Hermitian matrices") == 3  # hermit ##ian matrices, no [CLS]/[SEP]
    assert tokenizer.count_batch(["a b", ""]) == [2, 0]
    assert tokenizer("word " * 1000) == 1000  # no truncation at the model's 128/256 limit


def test_long_pdf_chunks_quickly(tokenizer) -> None:
    if not (SAMPLES / "manifest.tsv").exists():
        pytest.skip("sample documents missing")
    doc = extract((SAMPLES / "pdf/GeoTopo-komprimiert.pdf").read_bytes(), "GeoTopo.pdf")
    started = time.perf_counter()
    chunks = chunk_document(doc, tokenizer)
    elapsed = time.perf_counter() - started
    sizes = ChunkSizes()
    assert_invariants(doc, chunks, sizes, tokenizer)
    assert {c.page for c in chunks if c.granularity == "fine"} >= set(range(6, 117))
    assert elapsed < 10, f"chunking 117 pages took {elapsed:.1f}s"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("One. Two! Three? Four", ["One.", "Two!", "Three?", "Four"]),
        (
            "Dr. Smith paid $3.50 for e.g. tea. Done.",
            ["Dr. Smith paid $3.50 for e.g. tea.", "Done."],
        ),
        ("See J. R. Tolkien. Next.", ["See J. R. Tolkien.", "Next."]),
        (
            "Am 31. Dezember schrieb er z.B. Briefe. Ja.",
            ["Am 31. Dezember schrieb er z.B. Briefe.", "Ja."],
        ),
        ("The U.S. Code applies. It is law.", ["The U.S. Code applies.", "It is law."]),
        ("Version 2.0 of example.com is out. Yes.", ["Version 2.0 of example.com is out.", "Yes."]),
        ('He said "Stop." Then left.', ['He said "Stop."', "Then left."]),
        ("no break. lower case continues", ["no break. lower case continues"]),
        ("First para\nstill first\n\nSecond para", ["First para\nstill first", "Second para"]),
        ("你好。世界！", ["你好。", "世界！"]),
        ("   ", []),
    ],
)
def test_split_sentences(text: str, expected: list[str]) -> None:
    assert [text[start:end] for start, end in split_sentences(text)] == expected


def test_transformers_tokenizer_and_count_tokens_objects_are_accepted(tokenizer) -> None:
    from tokenizers import Tokenizer
    from transformers import PreTrainedTokenizerFast

    from morgan.llm.minilm import minilm_model_dir

    path = str(minilm_model_dir() / "tokenizer.json")
    fast = PreTrainedTokenizerFast(tokenizer_file=path)
    raw = Tokenizer.from_file(path)
    truncation_before = raw.truncation

    class Embedder:
        def count_tokens(self, text: str) -> int:
            return tokenizer(text)

    doc = ExtractedDocument(
        title="t",
        mime=Mime.TEXT,
        sections=[Section(heading="", text=" ".join(f"Sentence {n} is here." for n in range(80)))],
    )
    expected = chunk_document(doc, tokenizer)
    for source in (fast, raw, Embedder()):
        assert chunk_document(doc, source) == expected
    assert raw.truncation == truncation_before  # the caller's tokenizer is not reconfigured
