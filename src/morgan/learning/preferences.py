"""Explicit preferences stated in chat ("keep it short", "call me Sam", "answer in German").

Only direct instructions to Morgan count. Instructions that are quoted ("the doc says
'keep it short'"), reported ("my boss told me to keep it short"), about the user's own
writing ("should I keep it short?", "I need to keep it short") or questions about how to say
something are ignored on purpose: a false positive changes every later answer, while a
missed one costs the user a single restatement.

The phrases themselves are data, `preference_rules.toml` (one record per rule); this module
is the interpreter: sentences, quotes, reported speech, negation and persistence cues.
tests/unit/learning/golden_preferences.jsonl pins the result for thousands of messages.
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from importlib import resources
from typing import Any, Literal

import msgspec

PreferenceKey = Literal["answer_length", "preferred_name", "language", "formality", "emoji"]
PREFERENCE_KEYS: tuple[PreferenceKey, ...] = (
    "answer_length",
    "preferred_name",
    "language",
    "formality",
    "emoji",
)
# Values per key: answer_length short|detailed; formality formal|casual; emoji none|allowed;
# language is an English language name ("German"); preferred_name is free text.

DEFAULT_MIN_CONFIDENCE = 0.6
CURLY_APOSTROPHE = "\u2019"  # phones type "don\u2019t"; folded to "'" before matching


class PreferenceUpdate(msgspec.Struct, frozen=True):
    """One statement found in a message. `action="remove"` clears the key (value is None)."""

    key: PreferenceKey
    value: str | None
    confidence: float
    source_text: str
    action: Literal["set", "remove"] = "set"


class Preference(msgspec.Struct, frozen=True):
    """A stored preference; the newest confident statement wins."""

    key: PreferenceKey
    value: str
    confidence: float
    source_text: str
    updated_at: datetime


def apply_preference_updates(
    current: Mapping[str, Preference],
    updates: Iterable[PreferenceUpdate],
    at: datetime,
    min_confidence: float = DEFAULT_MIN_CONFIDENCE,
) -> dict[str, Preference]:
    """The preferences after `updates`, in order; updates below `min_confidence` are ignored.

    Pure, so the chat pipeline can apply "keep it short" to the very answer it was said in
    while the stored copy is updated in the background. A statement older than the stored
    preference for its key is ignored.
    """
    result = dict(current)
    for update in updates:
        if update.confidence < min_confidence:
            continue
        existing = result.get(update.key)
        if existing is not None and existing.updated_at > at:
            continue  # a late retry of an older message must not undo a newer statement
        if update.action == "remove":
            result.pop(update.key, None)
        elif update.value is not None:
            result[update.key] = Preference(
                key=update.key,
                value=update.value,
                confidence=update.confidence,
                source_text=update.source_text,
                updated_at=at,
            )
    return result


# --- extraction ----------------------------------------------------------------------------

RULES_FILE = "preference_rules.toml"
"""The rule table, packaged next to this module (its header documents the format)."""

OnNegation = Literal["invert", "remove", "skip"]


@dataclass(frozen=True, slots=True)
class _Rule:
    key: PreferenceKey
    pattern: re.Pattern[str]
    value: str | Callable[[re.Match[str]], str | None]
    confidence: float
    # "don't/never/stop" right before the phrase; "forget/no need to" always removes.
    on_negation: OnNegation = "invert"
    removes: bool = False


def _load_table() -> dict[str, Any]:
    text = resources.files("morgan.learning").joinpath(RULES_FILE).read_text(encoding="utf-8")
    return tomllib.loads(text)


_TABLE = _load_table()
_FRAGMENT = re.compile(r"\{([A-Z_]+)\}")  # never a regex quantifier: those hold digits
_NOT_A_NAME = frozenset(_TABLE["not_a_name"].split())
_INVERSE: dict[str, str] = dict(_TABLE["inverse"])


@cache
def language_names() -> dict[str, str]:
    """Lower-cased language word -> the English name stored ("deutsch" -> "German").

    The English names are the table's; the native names are langcodes' autonyms, also
    without accents when that leaves plain ASCII ("français", "francais"). Loaded on the
    first language phrase, not at import (the name data takes a few tenths of a second).
    """
    import langcodes

    names: dict[str, str] = {name.lower(): name for name in _TABLE["languages"]}
    for name in _TABLE["languages"]:
        autonym = langcodes.find(name).autonym().lower()
        folded = "".join(
            c for c in unicodedata.normalize("NFKD", autonym) if not unicodedata.combining(c)
        )
        for word in (autonym, folded) if folded.isascii() else (autonym,):
            if " " not in word:
                names.setdefault(word, name)
    return names


def _name_value(match: re.Match[str]) -> str | None:
    name = match.group("name").strip(" .,'-")
    first = name.split()[0].lower() if name else ""
    if not name or first in _NOT_A_NAME or len(name) > 40:
        return None
    return name[0].upper() + name[1:] if name.islower() else name


def _language(word: str) -> str | None:
    return language_names().get(word.lower())


def _language_value(match: re.Match[str]) -> str | None:
    return _language(match.group("lang"))


def _known_language_marker(match: re.Match[str]) -> str | None:
    """For removals: "" when the word is a language (the value is dropped anyway)."""
    return "" if _language_value(match) else None


def _last_word_language(match: re.Match[str]) -> str | None:
    return _language(match.group(0).split()[-1])


_EXTRACTORS: dict[str, Callable[[re.Match[str]], str | None]] = {
    "name": _name_value,
    "language": _language_value,
    "language_marker": _known_language_marker,
    "last_word_language": _last_word_language,
}


def _compile_rule(row: dict[str, Any], fragments: dict[str, str]) -> _Rule:
    pattern = _FRAGMENT.sub(lambda m: fragments[m.group(1)], "".join(row["pattern"]))
    value: str | Callable[[re.Match[str]], str | None] = row["value"]
    if isinstance(value, str) and value.startswith("="):
        value = _EXTRACTORS[value[1:]]
    return _Rule(
        key=row["key"],
        pattern=re.compile(pattern, re.IGNORECASE),
        value=value,
        confidence=float(row["confidence"]),
        on_negation=row.get("on_negation", "invert"),
        removes=bool(row.get("removes", False)),
    )


_RULES: tuple[_Rule, ...] = tuple(_compile_rule(row, _TABLE["fragments"]) for row in _TABLE["rule"])
_ANSWERS = _TABLE["fragments"]["ANSWERS"]

_REMOVE_ALL = re.compile(
    r"\b(?:forget|reset|clear|delete|wipe|remove)\s+(?:all\s+)?(?:of\s+)?(?:my|the|your)\s+"
    r"(?:preferences|settings\s+about\s+me)\b|\bforget\s+everything\s+(?:you\s+(?:know|learned|"
    r"learnt)\s+about\s+me|i\s+(?:told|said)\s+(?:you\s+)?about\s+(?:me|my\s+preferences))",
    re.IGNORECASE,
)

_SENTENCE = re.compile(
    r"(?<!\bDr\.)(?<!\bMr\.)(?<!\bMs\.)(?<!\bMrs\.)(?<!\bProf\.)(?<=[.!?;])\s+|\n+"
)
_QUOTED = re.compile(
    r"\"[^\"\n]*\"|“[^”\n]*”|„[^“”\n]*[“”]|«[^»\n]*»|`[^`\n]*`|(?<!\w)'[^'\n]+'(?!\w)"
    r"|\u2018[^'\n]*'"
)
# Self-reference is judged within the clause; reported speech reaches across commas and
# colons ("According to the manual, answer in German") up to a real change of thought.
_CLAUSE_BREAK = re.compile(r"[,:;()]|\b(?:but|and|so|because|though)\b", re.IGNORECASE)
_THOUGHT_BREAK = re.compile(r";|\b(?:but|though|however|anyway)\b", re.IGNORECASE)
_REMOVE_PREFIX = re.compile(
    r"(?:\bforget(?:\s+about)?|\bno\s+need\s+to|\b(?:don'?t|do\s+not|no\s+longer)\s+"
    r"(?:have|need)\s+to|\bno\s+longer|\bcan\s+stop|\bnot\s+necessary\s+to)\s*$",
    re.IGNORECASE,
)
_NEGATE_PREFIX = re.compile(
    r"(?:\bdon'?t|\bdo\s+not|\bnever|\bstop|\bquit)\s+(?:ever\s+)?$", re.IGNORECASE
)
_REPORTED = re.compile(
    r"(?:\b(?P<subject>[\w']+)\s+(?:\w+ly\s+|already\s+|just\s+|always\s+|also\s+)?)?"
    r"\b(?:says?|said|tells?|told|writes?|wrote|asks?|asked|recommends?|recommended|suggests?|"
    r"suggested|wants?|wanted|instructs?|instructed|reads?|advises?|advised)\b"
    r"|\baccording\s+to\b|\bquote\b"
    r"|\bthe\s+(?:doc|docs|document|guide|manual|article|book|email|paper|instructions|"
    r"template|readme|style\s+guide|brief|teacher|professor|boss|client)\b",
    re.IGNORECASE,
)
_SELF_REFERENCE = re.compile(
    r"\b(?:how\s+(?:do|can|should|would|could)\s+(?:i|you|we)|how\s+to|should\s+i|do\s+i|"
    r"can\s+i|i\s+(?:want|need|have|had|tried|try|forgot|wanted|needed|like|love|hope|plan)"
    r"\s+to|i(?:'ll|\s+will|\s+should|\s+must|\s+shall)|we\s+(?:should|need|must|will)|"
    r"let'?s|tips?\s+(?:on|for)|remember\s+to|trying\s+to|ways?\s+to|say|translate|"
    r"what(?:'s|\s+is|\s+does))\b",
    re.IGNORECASE,
)
_POLITE_QUESTION = re.compile(
    r"^\s*(?:(?:can|could|would|will)\s+you|please|pls|why\s+don'?t\s+you|how\s+about|"
    r"mind)\b",
    re.IGNORECASE,
)
_PERSISTENT = re.compile(
    r"\b(?:from\s+now\s+on|always|going\s+forward|in\s+(?:the\s+)?future|by\s+default|every\s+"
    r"time|all\s+the\s+time|for\s+all\s+(?:your\s+)?" + _ANSWERS + r")\b",
    re.IGNORECASE,
)
_SELF_SPEAKERS = frozenset({"i", "i've", "i'd"})


def extract_preferences(message_text: str) -> list[PreferenceUpdate]:
    """Preferences stated in a message, at most one per key (a later statement wins)."""
    found: dict[PreferenceKey, tuple[int, int, PreferenceUpdate]] = {}
    original = message_text.strip()
    # Folding is one character for one, so both splits line up sentence by sentence.
    folded = original.replace(CURLY_APOSTROPHE, "'")
    for index, (raw_source, raw_sentence) in enumerate(
        zip(_SENTENCE.split(original), _SENTENCE.split(folded), strict=True)
    ):
        source = raw_source.strip()
        if not source:
            continue
        sentence = _QUOTED.sub(" … ", raw_sentence.strip())
        is_question = source.rstrip().endswith("?")
        if is_question and not _POLITE_QUESTION.search(sentence):
            continue
        if _REMOVE_ALL.search(sentence) and not (
            _is_self_reference(sentence) or _is_reported(sentence)
        ):
            for key in PREFERENCE_KEYS:
                _keep(found, key, (index, -1), PreferenceUpdate(key, None, 0.9, source, "remove"))
            continue
        for rule in _RULES:
            for match in rule.pattern.finditer(sentence):
                update = _update_for(rule, match, sentence, source, is_question)
                if update is not None:
                    _keep(found, rule.key, (index, match.start()), update)
    ordered = sorted(found.values(), key=lambda item: (item[0], item[1]))
    return [update for _, _, update in ordered]


def _keep(
    found: dict[PreferenceKey, tuple[int, int, PreferenceUpdate]],
    key: PreferenceKey,
    position: tuple[int, int],
    update: PreferenceUpdate,
) -> None:
    """Later sentences win; within a sentence the most confident reading wins."""
    previous = found.get(key)
    if previous is not None:
        same_sentence = previous[0] == position[0]
        if same_sentence and previous[2].confidence > update.confidence:
            return
        if not same_sentence and previous[0] > position[0]:
            return
    found[key] = (position[0], position[1], update)


def _update_for(
    rule: _Rule, match: re.Match[str], sentence: str, source: str, is_question: bool
) -> PreferenceUpdate | None:
    before = sentence[: match.start()]
    if _is_self_reference(_CLAUSE_BREAK.split(before)[-1]) or _is_reported(
        _THOUGHT_BREAK.split(before)[-1]
    ):
        return None

    value = rule.value(match) if callable(rule.value) else rule.value
    if value is None:
        return None
    action: Literal["set", "remove"] = "remove" if rule.removes else "set"
    if _REMOVE_PREFIX.search(before):
        action = "remove"
    elif _NEGATE_PREFIX.search(before):
        if rule.on_negation == "skip":
            return None
        if rule.on_negation == "remove":
            action = "remove"
        else:
            value = _INVERSE.get(value)
            if value is None:
                return None

    confidence = rule.confidence
    if _PERSISTENT.search(sentence):
        confidence += 0.1
    if is_question:
        confidence -= 0.05
    return PreferenceUpdate(
        key=rule.key,
        value=None if action == "remove" else value,
        confidence=round(min(confidence, 0.98), 3),
        source_text=source,
        action=action,
    )


def _is_self_reference(clause: str) -> bool:
    """The words before a phrase make it about the user's own work or a how-to question."""
    return _SELF_REFERENCE.search(clause) is not None


def _is_reported(text: str) -> bool:
    """The words before a phrase attribute it to someone other than the user."""
    for cue in _REPORTED.finditer(text):
        subject = (cue.group("subject") or "").lower()
        if subject not in _SELF_SPEAKERS:
            return True
    return False
