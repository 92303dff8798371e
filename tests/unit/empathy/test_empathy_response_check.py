"""check_response: flags dismissive, saccharine, unacknowledging and repetitive replies."""

from __future__ import annotations

import msgspec
import pytest

from morgan.empathy import EmotionSignal, Preferences, ResponseCheck, TonePolicy, check_response

ANGRY = EmotionSignal("anger", "anger", 0.85, -0.8)
NEUTRAL = EmotionSignal()
CRISIS = EmotionSignal("sadness", "sadness", 0.9, -0.9, crisis=True)
JOY = EmotionSignal("joy", "joy", 0.7, 0.8)

policy = TonePolicy(seed=5)
ANGRY_DECISION = policy.decide(ANGRY, Preferences())
NEUTRAL_DECISION = policy.decide(NEUTRAL, Preferences())
CRISIS_DECISION = policy.decide(CRISIS, Preferences())
JOY_DECISION = policy.decide(JOY, Preferences())

GOOD_ANGRY = (
    "That sounds frustrating. The export fails because the token expired [1]; "
    "renew it under Settings > Tokens [2]."
)


@pytest.mark.parametrize(
    "phrase",
    [
        "Just calm down, the export works.",
        "It's not a big deal, the export works.",
        "It\u2019s not a big deal, the export works.",
        "This is no big deal.",
        "You should have renewed the token.",
        "Whatever. The token expired.",
        "You're overreacting; the token expired.",
        "Don't get so upset, the token expired.",
    ],
)
def test_dismissive_phrases_are_flagged_in_any_mood(phrase: str) -> None:
    for emotion, decision in ((ANGRY, ANGRY_DECISION), (NEUTRAL, NEUTRAL_DECISION)):
        result = check_response("That sounds frustrating. " + phrase, decision, emotion)
        assert "dismissive" in result.codes, (phrase, emotion.label)
        assert not result.ok
        assert result.score < 1.0


@pytest.mark.parametrize("word", ["Obviously", "Simply", "As I already said,"])
def test_condescending_words_only_count_when_the_user_is_upset(word: str) -> None:
    text = f"That sounds frustrating. {word} renew the token [1]."
    assert "condescending" in check_response(text, ANGRY_DECISION, ANGRY).codes
    neutral_text = f"{word} renew the token [1]."
    assert check_response(neutral_text, NEUTRAL_DECISION, NEUTRAL).ok


def test_missing_acknowledgement_at_high_intensity() -> None:
    bare = "The export fails because the token expired [1]. Renew it under Settings [2]."
    result = check_response(bare, ANGRY_DECISION, ANGRY)
    assert "missing_acknowledgement" in result.codes
    assert check_response(GOOD_ANGRY, ANGRY_DECISION, ANGRY).ok


def test_opener_hint_counts_as_acknowledgement() -> None:
    assert ANGRY_DECISION.opener_hint is not None
    text = f"{ANGRY_DECISION.opener_hint} Renew the token under Settings [1]."
    assert "missing_acknowledgement" not in check_response(text, ANGRY_DECISION, ANGRY).codes


def test_no_acknowledgement_needed_for_neutral_or_moderate_emotion() -> None:
    bare = "The export fails because the token expired [1]."
    assert check_response(bare, NEUTRAL_DECISION, NEUTRAL).ok
    moderate = EmotionSignal("annoyance", "anger", 0.4, -0.3)
    decision = policy.decide(moderate)
    assert decision.acknowledge
    assert "missing_acknowledgement" not in check_response(bare, decision, moderate).codes


def test_rising_trend_requires_acknowledgement_even_at_moderate_intensity() -> None:
    rising = EmotionSignal("annoyance", "anger", 0.4, -0.3, trend="rising_negative")
    decision = policy.decide(rising)
    bare = "The export fails because the token expired [1]."
    assert "missing_acknowledgement" in check_response(bare, decision, rising).codes


@pytest.mark.parametrize(
    "text",
    [
        "I'm so sorry you feel that way! The token expired [1].",
        "Oh no, I'm so sorry!! The token expired [1].",
        "Sending you hugs. The token expired [1].",
        "Your feelings are valid. The token expired [1].",
        "I completely understand, I'm here for you. The token expired [1].",
    ],
)
def test_saccharine_overkill_is_flagged(text: str) -> None:
    assert "saccharine" in check_response(text, ANGRY_DECISION, ANGRY).codes


def test_a_single_plain_sorry_is_not_saccharine() -> None:
    text = "I'm sorry, that's a rough one. The token expired [1]."
    sad = EmotionSignal("sadness", "sadness", 0.8, -0.8)
    assert check_response(text, policy.decide(sad), sad).ok


def test_light_reply_to_joy_passes() -> None:
    text = "Nice! Your notes say the trip starts on 3 May [1]."
    assert check_response(text, JOY_DECISION, JOY).ok


def test_repeated_opener_is_flagged() -> None:
    recent = ["That sounds frustrating. Let's sort it out.", "Yeah, that's a pain."]
    text = "That sounds frustrating! Let's sort it out. Renew the token [1]."
    assert "repeated_opener" in check_response(text, ANGRY_DECISION, ANGRY, recent).codes
    fresh = "That would bother me too. Renew the token [1]."
    assert check_response(fresh, ANGRY_DECISION, ANGRY, recent).ok


def test_crisis_reply_must_point_to_help_and_not_refuse() -> None:
    good = (
        "I'm glad you told me. Are you safe right now? Please call your local emergency "
        "number (112 or 911) or a crisis line such as 988. I'm here and we can keep talking."
    )
    assert check_response(good, CRISIS_DECISION, CRISIS).ok
    cold = "I'm sorry, but I can't help with that. I'm just an AI."
    codes = check_response(cold, CRISIS_DECISION, CRISIS).codes
    assert "missing_safety_resources" in codes
    assert "cold_refusal" in codes


def test_score_drops_with_each_problem_and_is_bounded() -> None:
    clean = check_response(GOOD_ANGRY, ANGRY_DECISION, ANGRY)
    one = check_response(GOOD_ANGRY + " Obviously.", ANGRY_DECISION, ANGRY)
    many = check_response(
        "Just calm down!! Obviously you should have known. Sending hugs.", ANGRY_DECISION, ANGRY
    )
    assert clean.score == 1.0 and clean.ok
    assert 0.0 <= many.score < one.score < clean.score
    assert len(many.flags) >= 3


def test_result_serialises_for_storage() -> None:
    result = check_response("Just calm down.", ANGRY_DECISION, ANGRY)
    decoded = msgspec.json.decode(msgspec.json.encode(result), type=ResponseCheck)
    assert decoded == result
    assert decoded.flags[0].evidence
