"""The fixed safety response, the locale setting and when the response takes over a turn."""

from __future__ import annotations

from pathlib import Path

import pytest

from morgan.emotion.crisis import CrisisSignal, detect_crisis
from morgan.safety import (
    FIXED_MODEL,
    FixedSafetyResponder,
    UnknownLocale,
    build_safety_responder,
    compose_safety_response,
    region_of,
    resources_for,
    takes_over,
)
from morgan.services import build_safety
from morgan.settings import SettingsError, load_settings


@pytest.mark.parametrize(
    ("locale", "region"),
    [
        ("", ""),
        ("international", ""),
        ("US", "US"),
        ("en_GB.UTF-8", "GB"),
        ("en-au", "AU"),
        ("uk", "GB"),
        ("de_DE", "DE"),
        ("EU", "EU"),
        ("jp", "JP"),
    ],
)
def test_locale_tags_name_a_region(locale: str, region: str) -> None:
    assert region_of(locale) == region


@pytest.mark.parametrize("bad", ["United Kingdom", "en_", "12", "us-east-1"])
def test_a_malformed_locale_is_a_clear_error(bad: str) -> None:
    with pytest.raises(UnknownLocale, match="not a region"):
        resources_for(bad)


def test_a_malformed_locale_setting_fails_start_up_naming_the_variable(tmp_path: Path) -> None:
    settings = load_settings({"MORGAN_HOME": str(tmp_path), "MORGAN_SAFETY_LOCALE": "Narnia land"})
    with pytest.raises(SettingsError, match="MORGAN_SAFETY_LOCALE"):
        build_safety(settings)


def test_the_locale_comes_from_env_and_toml(tmp_path: Path) -> None:
    (tmp_path / "morgan.toml").write_text('[safety]\nlocale = "AU"\n')
    assert build_safety(load_settings({"MORGAN_HOME": str(tmp_path)})).resources.locale == "AU"
    env = {"MORGAN_HOME": str(tmp_path), "MORGAN_SAFETY_LOCALE": "en_GB"}
    assert build_safety(load_settings(env)).resources.locale == "GB"


@pytest.mark.parametrize(
    ("locale", "emergency", "line"),
    [
        ("", "911", "988"),
        ("", "999", "116 123"),
        ("", "000", "13 11 14"),
        ("", "112", "findahelpline.com"),
        ("US", "call 911", "988"),
        ("CA", "call 911", "988"),
        ("GB", "999", "Samaritans on 116 123"),
        ("IE", "112", "116 123"),
        ("AU", "call 000", "Lifeline on 13 11 14"),
        ("IT", "call 112", "findahelpline.com"),
        ("JP", "local emergency number", "findahelpline.com"),
    ],
)
def test_each_locale_names_its_emergency_number_and_crisis_line(
    locale: str, emergency: str, line: str
) -> None:
    text = compose_safety_response("self_harm", resources_for(locale))
    assert emergency in text and line in text
    assert "If you are in danger now" in text


def test_self_harm_and_harm_to_others_are_worded_differently() -> None:
    own = compose_safety_response("self_harm", resources_for("US"))
    others = compose_safety_response("harm_to_others", resources_for("US"))
    assert own != others
    assert "Are you safe right now?" in own
    assert "If you or anyone else is in danger now, call 911." in others
    assert "distance" in others and "distance" not in own
    for text in (own, others):  # invites them to keep talking, refuses nothing
        assert "I'm here" in text
        assert "can't help" not in text and "cannot help" not in text


async def test_the_fixed_responder_never_uses_the_message() -> None:
    responder = FixedSafetyResponder(resources_for("GB"))
    message = "Sometimes I think everyone would be better off without me."
    signal = detect_crisis(message)
    assert signal is not None
    reply = await responder.respond(message, signal)
    assert reply.text == compose_safety_response("self_harm", resources_for("GB"))
    assert "better off" not in reply.text
    assert reply.check.ok and reply.model == FIXED_MODEL and not reply.personalised
    assert reply.record()["safety"]["kind"] == "self_harm"
    assert "text" not in reply.record()["safety"]


def test_personalisation_needs_the_setting_and_an_llm() -> None:
    assert build_safety_responder("", personalise=True).name == "fixed"
    assert build_safety_responder("US").name == "fixed"


@pytest.mark.parametrize(
    ("severity", "expected"), [("low", False), ("medium", True), ("high", True)]
)
def test_medium_and_high_take_over_and_negated_mentions_do_not(
    severity: str, expected: bool
) -> None:
    signal = CrisisSignal(kind="self_harm", cue="x", severity=severity)  # type: ignore[arg-type]
    assert takes_over(signal) is expected
    assert takes_over(None) is False
    negated = detect_crisis("Don't worry, I'm not suicidal, just stressed about exams.")
    assert negated is not None and not takes_over(negated)
