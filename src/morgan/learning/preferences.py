"""Explicit preferences stated in chat ("keep it short", "call me Sam", "answer in German").

Only direct instructions to Morgan count. Instructions that are quoted ("the doc says
'keep it short'"), reported ("my boss told me to keep it short"), about the user's own
writing ("should I keep it short?", "I need to keep it short") or questions about how to say
something are ignored on purpose: a false positive changes every later answer, while a
missed one costs the user a single restatement.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

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

LANGUAGES: dict[str, str] = {
    name.lower(): name
    for name in """
        English German French Spanish Italian Portuguese Dutch Polish Swedish Norwegian
        Danish Finnish Czech Slovak Hungarian Romanian Greek Turkish Russian Ukrainian
        Arabic Hebrew Hindi Japanese Chinese Mandarin Cantonese Korean Vietnamese Thai
        Indonesian Malay Catalan Croatian Serbian Bulgarian Slovenian Estonian Latvian
        Lithuanian Irish Welsh Icelandic Persian Farsi Urdu Bengali Tamil Swahili Filipino
        Tagalog Esperanto Afrikaans Basque Galician
        """.split()  # noqa: SIM905
} | {
    "deutsch": "German",
    "français": "French",
    "francais": "French",
    "español": "Spanish",
    "espanol": "Spanish",
    "italiano": "Italian",
    "português": "Portuguese",
    "portugues": "Portuguese",
    "nederlands": "Dutch",
    "polski": "Polish",
    "svenska": "Swedish",
}

# Words that follow "call me" / "my name is" without being a name.
_NOT_A_NAME = frozenset(
    """
    a an the that this it later back tomorrow tonight today now anytime sometime soon asap
    when whenever if after before at on in by maybe again anything something whatever what
    not no crazy old paranoid lazy stupid silly out up once every about to for with from you
    your me him her them us yet right first directly instead please ever never just only
    here there how why who which whose where sure too so and or but also is was
    """.split()  # noqa: SIM905
)

_INTENSIFIER = r"(?:(?:so|too|that|more|much|very|really|a\s+bit|a\s+little|a\s+lot|way)\s+)*"
_ANSWERS = r"(?:answers?|repl(?:y|ies)|responses?|messages?|explanations?)"
_NAME = r"(?P<name>[^\W\d_][\w'.-]*(?:\s+(?-i:[A-Z])[\w'-]*)?)"
_NAME_END = (
    r"(?=\s*(?:$|[,.!?;:)]|(?:and|but|please|thanks|thank|btw|from|instead|for|now|okay|ok|"
    r"then|going|if|when|as)\b))"
)

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


def _rule(
    key: PreferenceKey,
    pattern: str,
    value: str | Callable[[re.Match[str]], str | None],
    confidence: float,
    on_negation: OnNegation = "invert",
    removes: bool = False,
) -> _Rule:
    return _Rule(key, re.compile(pattern, re.IGNORECASE), value, confidence, on_negation, removes)


def _name_value(match: re.Match[str]) -> str | None:
    name = match.group("name").strip(" .,'-")
    first = name.split()[0].lower() if name else ""
    if not name or first in _NOT_A_NAME or len(name) > 40:
        return None
    return name[0].upper() + name[1:] if name.islower() else name


def _language_value(match: re.Match[str]) -> str | None:
    return LANGUAGES.get(match.group("lang").lower())


def _known_language_marker(match: re.Match[str]) -> str | None:
    """For removals: "" when the word is a language (the value is dropped anyway)."""
    return "" if _language_value(match) else None


_RULES: tuple[_Rule, ...] = (
    # answer_length: short
    _rule(
        "answer_length",
        r"\b(?:keep(?:ing)?|make|making)\s+(?:it|things|this|them|your\s+"
        + _ANSWERS
        + r")\s+"
        + _INTENSIFIER
        + r"(?:short|brief|concise|snappy|to\s+the\s+point)\b",
        "short",
        0.85,
    ),
    _rule(
        "answer_length",
        r"\b(?:be|being)\s+" + _INTENSIFIER + r"(?:brief|concise|succinct|terse|short)\b",
        "short",
        0.85,
    ),
    _rule("answer_length", r"\b(?:shorter|briefer|more\s+concise)\s+" + _ANSWERS, "short", 0.85),
    _rule(
        "answer_length",
        r"\b(?:short|brief|concise)\s+" + _ANSWERS + r"\b(?!\s+(?:to|for|about|on)\b)",
        "short",
        0.75,
    ),
    _rule(
        "answer_length",
        r"\b(?:less|fewer)\s+(?:detail|details|words|text|rambling)\b",
        "short",
        0.75,
    ),
    _rule(
        "answer_length",
        r"\byour\s+"
        + _ANSWERS
        + r"\s+(?:are|were|is|was)\s+"
        + _INTENSIFIER
        + r"(?:too\s+)(?:long|verbose|wordy)\b",
        "short",
        0.75,
    ),
    _rule(
        "answer_length",
        r"\b(?:that|this|it)(?:'s|\s+is|\s+was)\s+"
        + _INTENSIFIER
        + r"(?:too\s+)(?:long|verbose|wordy)\b",
        "short",
        0.55,
    ),
    _rule(
        "answer_length",
        r"\bin\s+(?:one|a|1|two|2|a\s+few|few)\s+(?:sentences?|lines?)\b",
        "short",
        0.55,
    ),
    # answer_length: detailed
    _rule(
        "answer_length",
        r"\bmore\s+(?:details?|depth|detailed)\b"
        r"(?!\s+(?:about|on|of|regarding|for|in|from|to|than)\b)",
        "detailed",
        0.8,
    ),
    _rule(
        "answer_length",
        r"\b(?:be|being)\s+"
        + _INTENSIFIER
        + r"(?:detailed|thorough|comprehensive|elaborate|verbose|wordy)\b",
        "detailed",
        0.85,
    ),
    _rule(
        "answer_length",
        r"\b(?:go|going)\s+into\s+(?:more\s+)?detail\b"
        r"(?!\s+(?:about|on|of|regarding|for|in)\b)",
        "detailed",
        0.7,
    ),
    _rule(
        "answer_length",
        r"\b(?:longer|fuller|more\s+detailed|more\s+thorough)\s+" + _ANSWERS,
        "detailed",
        0.85,
    ),
    _rule(
        "answer_length",
        r"\b(?:detailed|thorough|in-depth|long)\s+(?:answers|replies|"
        r"responses|explanations)\b(?!\s+(?:to|for|about|on)\b)",
        "detailed",
        0.75,
    ),
    _rule(
        "answer_length",
        r"\byour\s+"
        + _ANSWERS
        + r"\s+(?:are|were|is|was)\s+"
        + _INTENSIFIER
        + r"(?:too\s+)(?:short|brief|terse)\b",
        "detailed",
        0.75,
    ),
    # preferred_name
    _rule(
        "preferred_name",
        r"\bcall(?:ing)?\s+me\s+" + _NAME + _NAME_END,
        _name_value,
        0.9,
        on_negation="remove",
    ),
    _rule(
        "preferred_name",
        r"\bmy\s+name(?:'s|\s+is)\s+" + _NAME + _NAME_END,
        _name_value,
        0.9,
        on_negation="skip",
    ),
    _rule(
        "preferred_name",
        r"\b(?:forget|don'?t\s+use|stop\s+using)\s+(?:about\s+)?"
        r"my\s+(?:name|nickname)\b",
        "",
        0.9,
        removes=True,
    ),
    _rule(
        "preferred_name",
        r"\b(?:stop\s+calling\s+me|don'?t\s+call\s+me)\s+"
        r"(?:that|this|by\s+(?:my|that)\s+name)\b",
        "",
        0.9,
        removes=True,
    ),
    # language
    _rule(
        "language",
        r"\b(?:answer|reply|respond|write|talk|speak|chat|answering|replying|"
        r"responding|writing|talking|speaking|chatting)(?:\s+to\s+me|\s+back)?(?:\s+only)?"
        r"\s+in\s+(?P<lang>[^\W\d_]+)\b",
        _language_value,
        0.9,
        on_negation="remove",
    ),
    _rule(
        "language",
        r"\b(?:use|using)\s+(?P<lang>[^\W\d_]+)(?=\s+(?:from\s+now\s+on|please|"
        r"for\s+(?:your\s+|the\s+)?" + _ANSWERS + r"|instead|only|always)\b|\s*[.!]?\s*$)",
        _language_value,
        0.8,
        on_negation="remove",
    ),
    _rule(
        "language",
        r"\b(?:switch|change|go)\s+(?:back\s+)?to\s+(?P<lang>[^\W\d_]+)\b",
        _language_value,
        0.8,
        on_negation="skip",
    ),
    _rule(
        "language",
        r"\bin\s+(?P<lang>[^\W\d_]+),?\s+(?:please|from\s+now\s+on)\b",
        _language_value,
        0.75,
        on_negation="skip",
    ),
    _rule(
        "language",
        r"\b(?:auf\s+deutsch|en\s+fran[cç]ais|en\s+espa[nñ]ol)\b",
        lambda m: LANGUAGES[m.group(0).split()[-1].lower()],
        0.75,
        on_negation="skip",
    ),
    _rule(
        "language",
        r"\bno\s+more\s+(?P<lang>[^\W\d_]+)\b",
        _known_language_marker,
        0.8,
        removes=True,
    ),
    # formality
    _rule(
        "formality",
        r"\b(?:be|being|sound|sounding|write|writing|speak|talk|keep\s+it|stay)"
        r"\s+" + _INTENSIFIER + r"(?:formal|professional|polite)\b",
        "formal",
        0.85,
    ),
    _rule("formality", r"\bless\s+(?:casual|informal|chatty|familiar)\b", "formal", 0.8),
    _rule(
        "formality",
        r"\b(?:use|prefer|want|keep|with)\s+(?:a\s+|an\s+)?(?:more\s+)?"
        r"(?:formal|professional)\s+(?:tone|language|style|register)\b",
        "formal",
        0.8,
    ),
    _rule(
        "formality",
        r"\b(?:be|being|sound|sounding|write|writing|speak|talk|keep\s+it|stay)"
        r"\s+" + _INTENSIFIER + r"(?:casual|informal|relaxed|chill|laid[- ]back)\b",
        "casual",
        0.85,
    ),
    _rule("formality", r"\bless\s+(?:formal|stiff|robotic|professional)\b", "casual", 0.8),
    _rule(
        "formality",
        r"\b(?:use|prefer|want|keep|with)\s+(?:a\s+|an\s+)?(?:more\s+)?"
        r"(?:casual|informal|relaxed)\s+(?:tone|language|style|register)\b",
        "casual",
        0.8,
    ),
    # emoji: negation is part of the phrase itself
    _rule(
        "emoji",
        r"\b(?:don'?t|do\s+not|never|stop|quit|no\s+more|without|avoid|skip)"
        r"\s+(?:ever\s+)?(?:using\s+|use\s+|adding\s+|add\s+|including\s+|include\s+|"
        r"putting\s+|put\s+|with\s+|sending\s+|send\s+)?(?:any\s+|all\s+(?:the|those|these)"
        r"\s+|those\s+|these\s+|the\s+|so\s+many\s+)?emoj(?:i|is|ies)\b",
        "none",
        0.9,
    ),
    _rule("emoji", r"\bno\s+emoj(?:i|is|ies)\b", "none", 0.85),
    _rule(
        "emoji",
        r"\b(?:hate|dislike|can'?t\s+stand)\s+(?:the\s+)?emoj(?:i|is|ies)\b",
        "none",
        0.75,
    ),
    _rule(
        "emoji",
        r"\b(?:you\s+can|feel\s+free\s+to|go\s+ahead\s+and|please|do)\s+use\s+"
        r"(?:some\s+|more\s+)?emoj(?:i|is|ies)\b",
        "allowed",
        0.85,
    ),
    _rule(
        "emoji",
        r"\bemoj(?:i|is|ies)\s+(?:are|is)\s+(?:fine|ok|okay|welcome|allowed|good)\b",
        "allowed",
        0.8,
    ),
)

_INVERSE = {"short": "detailed", "detailed": "short", "formal": "casual", "casual": "formal",
            "none": "allowed", "allowed": "none"}  # fmt: skip

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
