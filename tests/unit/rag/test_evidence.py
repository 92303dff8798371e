"""Evidence first: question-aware sentence selection, quoting, and the relevance gate."""

from __future__ import annotations

import uuid

from morgan.chat.grounded import is_question, is_small_talk, not_found_text, plan_answer
from morgan.rag.evidence import quote, render_answer, select_evidence
from morgan.rag.retrieval import Passage


def passage(
    text: str, *, title: str = "Spec", heading: str = "", page: int | None = None
) -> Passage:
    return Passage(
        document_id=uuid.uuid4(),
        section_id=uuid.uuid4(),
        chunk_id=uuid.uuid4(),
        chunk_index=0,
        granularity="medium",
        title=title,
        heading=heading,
        page=page,
        text=text,
        snippet=text[:40],
        score=0.1,
    )


MIME = passage(
    "glob elements have a pattern attribute. There is also an optional weight attribute which is "
    "used when resolving conflicts with other glob matches. The default weight value is\n50, and the "
    "maximum is 100.",
    title="shared-mime-info spec",
    heading="2.6 Recommended checking order",
    page=3,
)
BC = passage(
    "There are four special variables. The default value of scale is 0. If bc is invoked with "
    "the -l option, a math library is preloaded and the default scale is set to 20.",
    title="bc manual",
    heading="Basic elements",
)


def test_the_sentence_that_answers_comes_first_with_its_page_and_heading() -> None:
    selection = select_evidence("What is the default weight value of a glob?", [BC, MIME])
    assert selection.relevant
    first = selection.sentences[0]
    assert first.text == "The default weight value is 50, and the maximum is 100."
    assert (first.n, first.page, first.heading, first.document_id) == (
        2,
        3,
        MIME.heading,
        MIME.document_id,
    )
    assert (
        render_answer(selection.sentences[:1])
        == "The default weight value is 50, and the maximum is 100 [2]."
    )


def test_a_number_question_prefers_the_sentence_with_the_number() -> None:
    selection = select_evidence("What is the default scale with the -l option?", [BC])
    assert "20" in selection.sentences[0].text


def test_unrelated_questions_are_not_relevant() -> None:
    for question in (
        "Who won the 2018 FIFA World Cup?",
        "What is the login URL of the admin dashboard?",
    ):
        selection = select_evidence(question, [BC, MIME])
        assert not selection.relevant and selection.sentences == []
    assert not select_evidence("What is the default weight?", []).relevant


def test_dense_similarity_lifts_a_paraphrase_over_the_threshold() -> None:
    question = "Which figure does a glob get when nothing is said?"
    plain = select_evidence(question, [MIME])
    assert not plain.relevant
    lifted = select_evidence(
        question, [MIME], dense={MIME.section_id: 0.9}, min_relevance=plain.relevance + 0.2
    )
    assert lifted.relevant and lifted.relevance >= plain.relevance + 0.25


def test_documents_cannot_cite_themselves() -> None:
    assert quote("As shown in [3] and [1, 2].") == "As shown in (3) and (1, 2)."


def test_plan_modes() -> None:
    assert plan_answer("What is the default weight value?", [MIME], rag=True).mode == "grounded"
    assert plan_answer("Who won the 2018 FIFA World Cup?", [MIME], rag=True).mode == "not_found"
    assert plan_answer("thanks, that helped!", [MIME], rag=True).mode == "small_talk"
    assert plan_answer("I'm so tired of this printer", [MIME], rag=True).mode == "chat"
    assert plan_answer("anything", [MIME], rag=False).mode == "open"
    assert is_small_talk("Hello!") and not is_small_talk("hello, what is the weight?")
    assert is_question("tell me the weight") and not is_question("I am tired")


def test_not_found_names_the_closest_sources_without_citing_them() -> None:
    text = not_found_text([MIME, BC])
    assert text.startswith("I could not find this in your documents.")
    assert "shared-mime-info spec, page 3" in text and "[" not in text
