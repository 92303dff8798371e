"""Crisis detection must catch every phrasing below and leave everyday idioms alone."""

from __future__ import annotations

import pytest

from morgan.emotion.crisis import CrisisSignal, detect_crisis, safety_protocol_instructions

SELF_HARM = [
    "I want to end it all",
    "i dont want to be here anymore",
    "thinking about killing myself",
    "I've been thinking about suicide a lot lately",
    "I just want to die",
    "honestly everyone would be better off without me",
    "I wish I was dead",
    "I wish I wasn't born... I wish I'd never been born",
    "i'm going to kill myself tonight",
    "I don't want to live anymore",
    "there's no point in living",
    "I can't go on like this",
    "I keep cutting myself when it gets bad",
    "I took a bunch of pills and want to sleep forever, I took all of my pills",
    "I'm planning to take my own life",
    "I have been feeling suicidal",
    "kms",
    "i want to unalive myself",
    "I'm going to jump off a bridge",
    "I wrote a suicide note",
    "I won't be around much longer",
    "I'm so tired of living",
    "I don\u2019t want to wake up tomorrow",
    "Life is not worth living",
    "I hurt myself again last night",
    "sometimes I think about ending my life",
    "I want to disappear forever and stop existing",
    "i cant do this anymore, i just want to die",
    "I'm better off dead",
    "Ive been self harming again",
]
HARM_TO_OTHERS = [
    "I'm going to hurt him",
    "I swear I'll kill her",
    "I want to kill my boss",
    "I'm gonna stab that guy",
    "I'm going to bring a gun to school",
    "I keep thinking about hurting my brother",
    "I will shoot them all, all of them",
    "I'm going to beat up my roommate",
    "I want to make them suffer",
    "I'm about to strangle my neighbor",
    "I want to murder someone",
    "ill kill him if he touches her again",
]
POSITIVES = [(t, "self_harm") for t in SELF_HARM] + [(t, "harm_to_others") for t in HARM_TO_OTHERS]

HARD_NEGATIVES = [
    "this bug is killing me",
    "I could kill for a coffee",
    "kill the process and restart it",
    "the suspense is killing me",
    "I'm dying to see it",
    "shoot me an email when you're free",
    "my feet are killing me after that hike",
    "you absolutely killed it on stage",
    "that joke killed me lol",
    "I'm dead \U0001f602",
    "kill -9 the server",
    "we need to kill two birds with one stone",
    "can you shoot him a message about the meeting?",
    "I'm going to beat him at chess tonight",
    "this killer feature is amazing",
    "I'd die for that pizza",
    "The character kills himself at the end of the novel, which felt rushed",
    "My cat knocked the plant over again",
    "I hurt my back lifting boxes",
    "She ended it with her boyfriend",
    "ending the meeting early today",
    "I'm going to end the call now",
    "the deadline is going to be the death of me",
    "I want to kill this tab, it's eating my RAM",
    "let's kill the lights and watch the movie",
    "this workout is going to destroy me",
    "I'm going to crush this exam",
    "He shot a great photo yesterday",
    "I'm so tired of this rain",
    "I can't wait to see you",
    "I'm going to attack this problem from another angle",
    "the git history is a murder scene",
    "my phone is dying, I'll call you later",
    "stop, you're killing me with these puns",
    "I'm going to nuke the node_modules folder",
    "I would murder a burger right now",
    "I'm done with this job, I want to quit",
    "that movie was to die for",
    "please end the process gracefully",
    "they killed the project last quarter",
    "I'm feeling blue today but it will pass",
    "this deadline is going to kill me",
]


@pytest.mark.parametrize(("text", "kind"), POSITIVES)
def test_every_positive_is_flagged_with_its_kind(text: str, kind: str) -> None:
    signal = detect_crisis(text)
    assert signal is not None, text
    assert signal.kind == kind
    assert signal.cue.strip()


def test_positive_set_is_large_and_recall_is_total() -> None:
    assert len(POSITIVES) >= 40
    recall = sum(detect_crisis(t) is not None for t, _ in POSITIVES) / len(POSITIVES)
    assert recall == 1.0


def test_hard_negatives_are_left_alone() -> None:
    assert len(HARD_NEGATIVES) >= 40
    flagged = [t for t in HARD_NEGATIVES if detect_crisis(t) is not None]
    false_positive_rate = len(flagged) / len(HARD_NEGATIVES)
    assert false_positive_rate <= 0.05, flagged


def test_explicit_intent_is_high_and_passive_ideation_is_medium() -> None:
    assert detect_crisis("I'm going to kill myself").severity == "high"  # type: ignore[union-attr]
    assert detect_crisis("I wish I was dead").severity == "medium"  # type: ignore[union-attr]


def test_negated_statement_is_still_surfaced_but_low() -> None:
    signal = detect_crisis("don't worry, I would never kill myself")
    assert signal is not None and signal.severity == "low"


@pytest.mark.parametrize("kind", ["self_harm", "harm_to_others"])
def test_safety_instructions_point_to_help_without_refusing(kind: str) -> None:
    text = safety_protocol_instructions(CrisisSignal(kind=kind, cue="x", severity="high"))  # type: ignore[arg-type]
    lowered = text.lower()
    assert "emergency" in lowered and "988" in text and "findahelpline" in lowered
    assert "do not refuse" in lowered
    assert "i cannot help" not in lowered and "i can't help" not in lowered
