"""TonePolicy: the prompt and sampling settings must change with emotion and preferences."""

from __future__ import annotations

import pytest

from morgan.empathy import (
    DEFAULT_PROFILES,
    EmotionSignal,
    Preferences,
    ToneDecision,
    TonePolicy,
    normalize_opener,
    prompts,
)


def signal(label: str, intensity: float, valence: float = 0.0, **extra: object) -> EmotionSignal:
    from morgan.empathy.signals import EKMAN_OF_LABEL

    return EmotionSignal(label, EKMAN_OF_LABEL[label], intensity, valence, **extra)  # type: ignore[arg-type]


NEUTRAL = signal("neutral", 0.0)


@pytest.fixture
def policy() -> TonePolicy:
    return TonePolicy(seed=7)


CASES = [
    # id, emotion, tone, acknowledge, opener expected
    ("anger-high", signal("anger", 0.85, -0.8), "calm_practical", True, True),
    ("annoyance-moderate", signal("annoyance", 0.45, -0.4), "calm_practical", True, True),
    ("fear-high", signal("fear", 0.7, -0.7), "calm_practical", True, True),
    ("nervousness-moderate", signal("nervousness", 0.4, -0.4), "calm_practical", False, False),
    ("sadness-high", signal("grief", 0.8, -0.8), "supportive", True, True),
    ("sadness-moderate", signal("disappointment", 0.4, -0.4), "supportive", False, False),
    ("joy", signal("joy", 0.7, 0.8), "warm_light", False, True),
    ("amusement", signal("amusement", 0.5, 0.6), "warm_light", False, True),
    ("neutral", NEUTRAL, "neutral", False, False),
    ("curiosity", signal("curiosity", 0.6, 0.3), "neutral", False, False),
    ("weak-anger-is-neutral", signal("anger", 0.1, -0.1), "neutral", False, False),
    ("crisis", signal("sadness", 0.9, -0.9, crisis=True), "safety", True, True),
    (
        "crisis-even-if-label-neutral",
        signal("neutral", 0.2, 0.0, crisis=True),
        "safety",
        True,
        True,
    ),
    (
        "rising-negative-neutral-label",
        signal("neutral", 0.2, -0.1, trend="rising_negative"),
        "calm_practical",
        True,
        True,
    ),
]


@pytest.mark.parametrize(
    ("emotion", "tone", "acknowledge", "has_opener"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_tone_and_acknowledgement_follow_emotion(
    policy: TonePolicy, emotion: EmotionSignal, tone: str, acknowledge: bool, has_opener: bool
) -> None:
    decision = policy.decide(emotion, Preferences(), [])
    assert decision.tone == tone
    assert decision.acknowledge is acknowledge
    assert (decision.opener_hint is not None) is has_opener
    assert prompts.TONE_RULES[tone].split(".")[0] in decision.system_instructions
    assert (prompts.ACKNOWLEDGE_BRIEFLY in decision.system_instructions) is (
        acknowledge and tone != "safety"
    )


def test_every_decision_carries_identity_and_citation_rules(policy: TonePolicy) -> None:
    for _, emotion, *_ in CASES:
        text = policy.decide(emotion).system_instructions
        assert "You are Morgan" in text
        assert "[1]" in text and "square brackets" in text
        assert "Never invent sources" in text
        assert "I'm so sorry you feel that way!" in text  # quoted as what not to say


def test_anger_is_more_concise_and_cooler_than_neutral(policy: TonePolicy) -> None:
    angry = policy.decide(signal("anger", 0.9, -0.8))
    neutral = policy.decide(NEUTRAL)
    assert angry.max_tokens < neutral.max_tokens
    assert angry.temperature < neutral.temperature
    assert angry.top_p <= neutral.top_p
    assert "concise" in angry.system_instructions
    assert "concise" not in neutral.system_instructions.split("Tone:")[1]


def test_joy_is_warmer_than_neutral(policy: TonePolicy) -> None:
    joyful = policy.decide(signal("joy", 0.8, 0.9))
    neutral = policy.decide(NEUTRAL)
    assert joyful.temperature > neutral.temperature
    assert "light" in joyful.system_instructions.split("Tone:")[1]


def test_neutral_does_not_comment_on_mood(policy: TonePolicy) -> None:
    decision = policy.decide(NEUTRAL)
    assert decision.opener_hint is None
    assert "do not comment on the user's mood" in decision.system_instructions
    assert "acknowledges how the user feels" not in decision.system_instructions


def test_crisis_uses_safety_protocol(policy: TonePolicy) -> None:
    decision = policy.decide(signal("fear", 0.95, -0.9, crisis=True))
    text = decision.system_instructions
    assert decision.tone == "safety"
    assert decision.temperature == min(p.temperature for p in DEFAULT_PROFILES.values())
    assert "emergency" in text and "112" in text and "crisis line" in text
    assert "Do not refuse" in text
    assert "Do not use emojis" in text


def test_crisis_resources_are_configurable() -> None:
    policy = TonePolicy(crisis_resources="Telefonseelsorge (0800 111 0 111)")
    text = policy.decide(signal("sadness", 0.9, -0.9, crisis=True)).system_instructions
    assert "Telefonseelsorge (0800 111 0 111)" in text
    assert "911" not in text


def test_crisis_harm_to_others_uses_its_own_rule(policy: TonePolicy) -> None:
    emotion = signal("anger", 0.9, -0.9, crisis=True, crisis_kind="harm_to_others")
    text = policy.decide(emotion).system_instructions
    assert "hurting someone" in text and "Never help plan or carry out harm" in text
    assert "harming themselves" not in text


def test_crisis_detector_instructions_replace_the_builtin_rule(policy: TonePolicy) -> None:
    custom = "Tone: SAFETY PROTOCOL FROM THE DETECTOR."
    decision = policy.decide(signal("sadness", 0.9, -0.9, crisis=True), safety_instructions=custom)
    assert custom in decision.system_instructions
    assert "harming themselves" not in decision.system_instructions
    # Ignored outside a crisis.
    calm = policy.decide(NEUTRAL, safety_instructions=custom)
    assert custom not in calm.system_instructions


def test_emotion_module_trend_name_counts_as_rising(policy: TonePolicy) -> None:
    decision = policy.decide(signal("annoyance", 0.4, -0.3, trend="rising_frustration"))
    assert "acknowledge:rising_trend" in decision.reasons


def test_crisis_ignores_brevity_preference(policy: TonePolicy) -> None:
    decision = policy.decide(
        signal("sadness", 0.9, -0.9, crisis=True), Preferences(answer_length="short")
    )
    assert decision.max_tokens == DEFAULT_PROFILES["safety"].max_tokens
    assert prompts.BREVITY_RULE not in decision.system_instructions


def test_rising_negative_trend_asks_for_more_acknowledgement(policy: TonePolicy) -> None:
    steady = policy.decide(signal("annoyance", 0.5, -0.4))
    rising = policy.decide(signal("annoyance", 0.5, -0.4, trend="rising_negative"))
    assert steady.acknowledge and rising.acknowledge
    assert prompts.ACKNOWLEDGE_BUILDING not in steady.system_instructions
    assert prompts.ACKNOWLEDGE_BUILDING in rising.system_instructions
    assert "acknowledge:rising_trend" in rising.reasons


def test_high_intensity_negative_always_acknowledges(policy: TonePolicy) -> None:
    for label in ("anger", "disgust", "fear", "sadness", "grief", "nervousness", "remorse"):
        assert policy.decide(signal(label, 0.6, -0.6)).acknowledge, label
        assert not policy.decide(signal(label, 0.2, -0.2)).acknowledge, label


@pytest.mark.parametrize(
    ("preferences", "expected_fragment"),
    [
        (Preferences(preferred_name="Sam"), "called Sam"),
        (Preferences(language="German"), "Always answer in German"),
        (Preferences(formality="formal"), prompts.FORMAL_RULE),
        (Preferences(formality="casual"), prompts.CASUAL_RULE),
        (Preferences(emoji="none"), prompts.NO_EMOJI_RULE),
        (Preferences(emoji="allowed"), prompts.EMOJI_OK_RULE),
        (Preferences(answer_length="short"), prompts.BREVITY_RULE),
        (Preferences(answer_length="detailed"), prompts.DETAIL_RULE),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_preferences_are_applied(
    policy: TonePolicy, preferences: Preferences, expected_fragment: str
) -> None:
    with_pref = policy.decide(NEUTRAL, preferences)
    without = policy.decide(NEUTRAL, Preferences())
    assert expected_fragment in with_pref.system_instructions
    assert expected_fragment not in without.system_instructions


def test_short_preference_lowers_max_tokens_in_every_non_crisis_tone(policy: TonePolicy) -> None:
    for emotion in (NEUTRAL, signal("joy", 0.8, 0.8), signal("anger", 0.9, -0.8)):
        default = policy.decide(emotion, Preferences())
        short = policy.decide(emotion, Preferences(answer_length="short"))
        detailed = policy.decide(emotion, Preferences(answer_length="detailed"))
        assert short.max_tokens < default.max_tokens < detailed.max_tokens


def test_preferred_name_can_appear_in_openers() -> None:
    policy = TonePolicy(seed=1)
    openers = {
        policy.decide(signal("anger", 0.9, -0.8), Preferences(preferred_name="Sam")).opener_hint
        for _ in range(200)
    }
    assert any(o and o.startswith("Sam, ") for o in openers)


def test_preferences_from_stored_mapping() -> None:
    class Stored:
        def __init__(self, value: str) -> None:
            self.value = value

    prefs = Preferences.from_mapping(
        {
            "preferred_name": Stored("Sam"),
            "answer_length": "short",
            "language": "German",
            "formality": "very",  # not a known value: ignored
            "emoji": "none",
            "unknown": "x",
        }
    )
    assert prefs == Preferences(
        preferred_name="Sam", answer_length="short", language="German", emoji="none"
    )


@pytest.mark.parametrize(
    "emotion",
    [signal("anger", 0.9, -0.8), signal("joy", 0.8, 0.8), signal("sadness", 0.9, -0.9),
     signal("fear", 0.9, -0.8), signal("neutral", 0.5, 0.0, crisis=True)],
    ids=["anger", "joy", "sadness", "fear", "crisis"],
)  # fmt: skip
def test_opener_never_repeats_over_20_successive_decisions(emotion: EmotionSignal) -> None:
    policy = TonePolicy(seed=3)
    history: list[str] = []
    for _ in range(20):
        decision = policy.decide(emotion, Preferences(), history)
        assert decision.opener_hint is not None
        assert normalize_opener(decision.opener_hint) not in {normalize_opener(h) for h in history}
        history.append(decision.opener_hint)
    assert len({normalize_opener(h) for h in history}) == 20


def test_opener_avoids_recent_ones_even_with_different_punctuation() -> None:
    policy = TonePolicy(seed=0)
    emotion = signal("anger", 0.9, -0.8)
    seen = [policy.decide(emotion).opener_hint for _ in range(30)]
    recent = [s.upper().replace(".", "!") for s in seen if s]  # type: ignore[union-attr]
    for _ in range(50):
        hint = policy.decide(emotion, recent_openers=recent).opener_hint
        assert hint is None or normalize_opener(hint) not in {normalize_opener(r) for r in recent}


def test_opener_is_none_rather_than_a_repeat_when_all_were_used() -> None:
    from morgan.empathy.openers import candidate_openers

    everything = candidate_openers("anger")
    decision = TonePolicy(seed=0).decide(signal("anger", 0.9, -0.8), recent_openers=everything)
    assert decision.opener_hint is None
    assert decision.acknowledge  # still asked to acknowledge, just without a suggested line


def test_decision_is_serialisable() -> None:
    import msgspec

    decision = TonePolicy(seed=0).decide(signal("anger", 0.9, -0.8))
    assert msgspec.json.decode(msgspec.json.encode(decision), type=ToneDecision) == decision


def test_unknown_label_falls_back_to_ekman_family(policy: TonePolicy) -> None:
    decision = policy.decide(EmotionSignal("frustration", "anger", 0.8, -0.7))
    assert decision.tone == "calm_practical" and decision.acknowledge
