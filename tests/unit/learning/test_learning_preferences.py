"""extract_preferences: explicit, direct instructions only; quoted or reported ones are not."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from morgan.learning import (
    PREFERENCE_KEYS,
    Preference,
    PreferenceUpdate,
    apply_preference_updates,
    extract_preferences,
)

POSITIVES = [
    # text, key, value (None = remove)
    ("Keep it short please.", "answer_length", "short"),
    ("please keep your answers brief", "answer_length", "short"),
    ("Be brief.", "answer_length", "short"),
    ("be more concise", "answer_length", "short"),
    ("Shorter answers, please.", "answer_length", "short"),
    ("I prefer short answers", "answer_length", "short"),
    ("Your answers are way too long.", "answer_length", "short"),
    ("Could you keep it short?", "answer_length", "short"),
    ("I would like you to be brief", "answer_length", "short"),
    ("I told you to keep it short!", "answer_length", "short"),
    ("More detail please.", "answer_length", "detailed"),
    ("Please be more detailed.", "answer_length", "detailed"),
    ("I'd like longer answers", "answer_length", "detailed"),
    ("Don't be so brief.", "answer_length", "detailed"),
    ("stop being so verbose", "answer_length", "short"),
    ("forget about keeping it short", "answer_length", None),
    ("you can stop being brief now", "answer_length", None),
    ("call me Sam", "preferred_name", "Sam"),
    ("Call me sam.", "preferred_name", "Sam"),
    ("My name is Sam", "preferred_name", "Sam"),
    ("my name's Alex, by the way", "preferred_name", "Alex"),
    ("You can call me Dr. Smith", "preferred_name", "Dr. Smith"),
    ("Please call me Jo from now on", "preferred_name", "Jo"),
    ("stop calling me Sam", "preferred_name", None),
    ("don't call me that", "preferred_name", None),
    ("forget my name", "preferred_name", None),
    ("Answer in German", "language", "German"),
    ("reply in French from now on", "language", "French"),
    ("Can you respond in spanish?", "language", "Spanish"),
    ("please talk to me in Italian", "language", "Italian"),
    ("use English please", "language", "English"),
    ("switch back to English", "language", "English"),
    ("auf Deutsch bitte", "language", "German"),
    ("stop answering in German", "language", None),
    ("no more German", "language", None),
    ("be more formal", "formality", "formal"),
    ("Please use a formal tone.", "formality", "formal"),
    ("be more casual", "formality", "casual"),
    ("you can be less formal with me", "formality", "casual"),
    ("don't be so formal", "formality", "casual"),
    ("stop being so formal", "formality", "casual"),
    ("don't use emojis", "emoji", "none"),
    ("don\u2019t use emojis", "emoji", "none"),  # curly apostrophe from a phone keyboard
    ("No emojis please.", "emoji", "none"),
    ("stop using emojis", "emoji", "none"),
    ("please don't add any emoji", "emoji", "none"),
    ("feel free to use emojis", "emoji", "allowed"),
    ("emojis are fine", "emoji", "allowed"),
    # A change of thought ends the reported part.
    ("The doc says to be detailed, but please keep it short", "answer_length", "short"),
    ("Stop calling me Sam, my name is Samuel", "preferred_name", "Samuel"),
    ("Thanks! Answer in German from now on.", "language", "German"),
]


@pytest.mark.parametrize(("text", "key", "value"), POSITIVES, ids=[p[0] for p in POSITIVES])
def test_explicit_statements_are_extracted(text: str, key: str, value: str | None) -> None:
    updates = extract_preferences(text)
    matching = [u for u in updates if u.key == key]
    assert len(matching) == 1, updates
    update = matching[0]
    assert update.value == value
    assert update.action == ("remove" if value is None else "set")
    assert update.confidence >= 0.6
    assert update.source_text and update.source_text in text  # the sentence it came from


NEGATIVES = [
    # Reported or quoted instructions are somebody else's, not the user's preference.
    "the doc says keep it short",
    'the doc says "keep it short"',
    "The style guide says: be concise.",
    "My boss told me to keep it short",
    "According to the manual, answer in German.",
    "He said 'call me Sam' and left.",
    "the template reads \u2018keep it short\u2019",
    # About the user's own writing or a question about how to say something.
    "Should I keep it short?",
    "I need to keep it short for the report",
    "How do I say my name is Sam in German?",
    "how do I reply in French to this email?",
    "What's the formal way to write this?",
    # Phrases that merely look alike.
    "call me later",
    "Call me when it's done.",
    "call me crazy, but I like it",
    "can you call me a taxi?",
    "my name is on the lease",
    "my name is spelled wrong in the doc",
    "His name is Sam",
    "I'm Sam",  # too ambiguous ("I'm tired"): not extracted, by design
    "translate this into German",
    "write the function in Python",
    "answer in detail about the invoice?",
    "more details about the invoice",
    "go into detail on section 3",
    "give short answers to these quiz questions",
    "Why do you always keep it short?",
    "the emoji keyboard is broken",
    "switch to dark mode",
    "It's a formal event next week",
    "",
]


@pytest.mark.parametrize("text", NEGATIVES)
def test_non_preferences_are_ignored(text: str) -> None:
    assert extract_preferences(text) == []


def test_tentative_length_complaint_is_extracted_below_threshold() -> None:
    [update] = extract_preferences("that was too long")
    assert update.key == "answer_length" and update.value == "short"
    assert update.confidence < 0.6  # kept for inspection, not applied by default


def test_persistence_cue_raises_confidence() -> None:
    [plain] = extract_preferences("answer in German")
    [lasting] = extract_preferences("answer in German from now on")
    assert lasting.confidence > plain.confidence


def test_several_preferences_in_one_message() -> None:
    text = "Call me Sam. Keep it short, answer in German and don't use emojis."
    found = {u.key: u.value for u in extract_preferences(text)}
    assert found == {
        "preferred_name": "Sam",
        "answer_length": "short",
        "language": "German",
        "emoji": "none",
    }


def test_later_statement_wins() -> None:
    [update] = extract_preferences("Keep it short. Actually, no: more detail please.")
    assert update.value == "detailed"
    [name] = extract_preferences("don't call me Sam, call me Samuel")
    assert (name.action, name.value) == ("set", "Samuel")


def test_forget_my_preferences_removes_every_key() -> None:
    updates = extract_preferences("Please forget my preferences.")
    assert {u.key for u in updates} == set(PREFERENCE_KEYS)
    assert all(u.action == "remove" and u.value is None for u in updates)


T0 = datetime(2025, 1, 1, 12, tzinfo=UTC)


def test_apply_updates_sets_removes_and_respects_threshold() -> None:
    current = {
        "preferred_name": Preference("preferred_name", "Sam", 0.9, "call me Sam", T0),
        "emoji": Preference("emoji", "none", 0.9, "no emojis", T0),
    }
    updates = [
        PreferenceUpdate("answer_length", "short", 0.85, "keep it short"),
        PreferenceUpdate("preferred_name", None, 0.9, "stop calling me Sam", "remove"),
        PreferenceUpdate("language", "German", 0.3, "maybe German"),
    ]
    after = apply_preference_updates(current, updates, T0 + timedelta(minutes=1))
    assert set(after) == {"emoji", "answer_length"}
    assert after["answer_length"].value == "short"
    assert after["answer_length"].updated_at == T0 + timedelta(minutes=1)
    assert current["preferred_name"].value == "Sam"  # input untouched


def test_apply_updates_ignores_statements_older_than_the_stored_one() -> None:
    current = {"answer_length": Preference("answer_length", "detailed", 0.9, "more", T0)}
    stale = [PreferenceUpdate("answer_length", "short", 0.9, "keep it short")]
    after = apply_preference_updates(current, stale, T0 - timedelta(hours=1))
    assert after["answer_length"].value == "detailed"
