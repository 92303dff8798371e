"""BM25 sparse vectors: shape of the weights, analysis, and stability across processes."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import zlib

import pytest

from morgan.rag.sparse import Analyzer, BM25Parameters, SparseEncoder, term_index

TEXT = "Hermitian matrices have real eigenvalues. The eigenvalues of a Hermitian matrix are real!"


def weight_of(vector: tuple[list[int], list[float]], term: str) -> float:
    indices, values = vector
    return dict(zip(indices, values, strict=True)).get(term_index(term), 0.0)


def test_analyzer_lowercases_stems_and_drops_stopwords() -> None:
    terms = Analyzer().terms("The Running runners RUN; matrices' eigenvalues aren't 3.14 Öl Über")
    assert terms == ["run", "runner", "run", "matric", "eigenvalu", "3.14", "öl", "über"]


def test_document_weights_follow_bm25() -> None:
    parameters = BM25Parameters(k1=1.2, b=0.75)
    encoder = SparseEncoder(parameters)
    terms = encoder.analyzer.terms(TEXT)
    avg_len = 20.0
    indices, values = encoder.encode_document(TEXT, avg_len=avg_len)
    assert indices == sorted(set(indices))
    assert len(indices) == len(values) == len(set(terms))
    norm = 1.2 * (1 - 0.75 + 0.75 * len(terms) / avg_len)
    for term in set(terms):
        tf = terms.count(term)
        expected = tf * 2.2 / (tf + norm)
        assert weight_of((indices, values), term) == pytest.approx(expected)


def test_term_frequency_saturates() -> None:
    encoder = SparseEncoder(BM25Parameters(b=0.0))  # no length effect: tf alone
    weights = [
        weight_of(encoder.encode_document("owl " * tf, avg_len=10), "owl") for tf in range(1, 11)
    ]
    assert weights == sorted(weights)
    gains = [later - earlier for earlier, later in itertools.pairwise(weights)]
    assert gains == sorted(gains, reverse=True)
    assert weights[0] == pytest.approx(1.0)
    assert weights[-1] < 1.2 + 1
    assert weight_of(encoder.encode_document("owl " * 500, avg_len=10), "owl") < 1.2 + 1


def test_longer_documents_weigh_a_term_less() -> None:
    encoder = SparseEncoder()
    short = encoder.encode_document("owl hunts", avg_len=10)
    long = encoder.encode_document("owl hunts " + "field forest river meadow " * 10, avg_len=10)
    assert weight_of(long, "owl") < weight_of(short, "owl")
    no_length = SparseEncoder(BM25Parameters(b=0.0))
    assert weight_of(no_length.encode_document("owl hunts", avg_len=10), "owl") == pytest.approx(
        weight_of(no_length.encode_document("owl hunts " + "field " * 40, avg_len=10), "owl")
    )


def test_granularity_picks_its_average_length() -> None:
    parameters = BM25Parameters(avg_len={"coarse": 100.0, "fine": 5.0})
    encoder = SparseEncoder(parameters)
    text = "owl " + "meadow " * 9
    coarse = weight_of(encoder.encode_document(text, granularity="coarse"), "owl")
    fine = weight_of(encoder.encode_document(text, granularity="fine"), "owl")
    assert coarse > fine  # a 10-term text is short for a coarse chunk, long for a fine one


def test_query_is_binary_over_unique_terms() -> None:
    indices, values = SparseEncoder().encode_query(
        "What are the eigenvalues of Hermitian matrices matrices?"
    )
    assert values == [1.0] * 3
    assert indices == sorted({term_index(t) for t in ("eigenvalu", "hermitian", "matric")})


def test_query_and_document_share_terms() -> None:
    encoder = SparseEncoder()
    document = dict(zip(*encoder.encode_document(TEXT, granularity="fine"), strict=True))
    query_indices, _ = encoder.encode_query("hermitian matrix eigenvalue")
    assert all(index in document for index in query_indices)


def test_empty_and_stopword_only_texts() -> None:
    encoder = SparseEncoder()
    assert encoder.encode_document("") == ([], [])
    assert encoder.encode_document("the of and") == ([], [])
    assert encoder.encode_query("   ") == ([], [])


def test_term_index_is_crc32_in_u32_range() -> None:
    assert term_index("matric") == zlib.crc32(b"matric")
    assert all(0 <= term_index(word) < 2**32 for word in ("a", "ü", "你好", "x" * 40))


def test_encoding_is_identical_in_another_process() -> None:
    script = (
        "import json, sys; from morgan.rag.sparse import SparseEncoder; "
        "e = SparseEncoder(); "
        "print(json.dumps([e.encode_document(sys.argv[1], granularity='medium'), "
        "e.encode_query(sys.argv[1])]))"
    )
    encoder = SparseEncoder()
    here = json.loads(
        json.dumps(
            [encoder.encode_document(TEXT, granularity="medium"), encoder.encode_query(TEXT)]
        )
    )
    environment = {**os.environ, "PYTHONHASHSEED": "12345", "PYTHONPATH": os.pathsep.join(sys.path)}
    result = subprocess.run(
        [sys.executable, "-c", script, TEXT],
        capture_output=True,
        text=True,
        check=True,
        env=environment,
        timeout=60,
    )
    assert json.loads(result.stdout) == here


def test_batch_matches_single() -> None:
    encoder = SparseEncoder()
    texts = [TEXT, "owls at night", ""]
    assert encoder.encode_documents(texts, granularity="fine") == [
        encoder.encode_document(text, granularity="fine") for text in texts
    ]
