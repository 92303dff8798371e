"""The shipped head with the real MiniLM model (slow: loads ~90 MB of weights)."""

from __future__ import annotations

import numpy as np
import pytest

from morgan.emotion import EmbeddingHeadDetector, extract_triggers, occlusion_triggers
from morgan.emotion.head import EmotionHead
from morgan.llm.minilm import MiniLMEmbedder

pytestmark = pytest.mark.slow

CLEAR_CASES = [
    ("Thank you so much, that really helped!", "gratitude"),
    ("I hate this stupid thing, it makes me so angry", "anger"),
    ("I'm so sorry for your loss", "sadness"),
    ("lol that is hilarious", "joy"),
    ("I'm really worried about the exam tomorrow", "fear"),
    ("Wow, I did not expect that at all!", "surprise"),
    ("The meeting is moved to room 4 at 3pm.", "neutral"),
    ("That is disgusting, gross", "disgust"),
]


@pytest.fixture(scope="module")
def detector() -> EmbeddingHeadDetector:
    made = EmbeddingHeadDetector(embedder=MiniLMEmbedder(threads=1))
    made.warm_up()
    return made


def test_artifact_is_small_and_consistent() -> None:
    head = EmotionHead()
    size = sum(p.stat().st_size for p in head.artifact_dir.iterdir() if p.is_file())
    assert size < 4_000_000
    assert head.input_dimension == 384 + 151
    assert head.tfidf is not None and abs(sum(head.blend.values()) - 1.0) < 1e-6


async def test_clear_messages_get_their_ekman_group(detector: EmbeddingHeadDetector) -> None:
    results = [await detector.detect(text) for text, _ in CLEAR_CASES]
    got = [r.ekman for r in results]
    wanted = [ekman for _, ekman in CLEAR_CASES]
    assert sum(g == w for g, w in zip(got, wanted, strict=False)) >= 7, list(
        zip(got, wanted, strict=False)
    )


async def test_passing_the_chat_embedding_gives_the_same_result(
    detector: EmbeddingHeadDetector,
) -> None:
    text = "I can't believe you did this, I'm furious"
    embedding = MiniLMEmbedder().embed_sync([text])[0]
    with_embedding = await detector.detect(text, embedding)
    without = await detector.detect(text)
    assert with_embedding.labels == without.labels
    assert np.allclose(
        list(with_embedding.scores.values()), list(without.scores.values()), atol=1e-3
    )


async def test_embedding_of_another_size_is_ignored(detector: EmbeddingHeadDetector) -> None:
    text = "thanks a lot!"
    assert (await detector.detect(text, [0.1] * 768)).labels == (await detector.detect(text)).labels


async def test_triggers_from_lexicon_and_occlusion(detector: EmbeddingHeadDetector) -> None:
    text = "Thanks so much for the advice, I really appreciate it"
    result = await detector.detect(text)
    assert result.label == "gratitude"
    assert {t.phrase.lower() for t in extract_triggers(text, result)} & {"thanks", "appreciate"}
    occluded = await occlusion_triggers(text, result, detector.score_texts, min_drop=0.0)
    assert occluded and occluded[0].weight >= occluded[-1].weight
