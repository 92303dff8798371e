"""The safety check every candidate reply to a crisis message must pass before anyone sees it.

A text passes only when it (1) points to immediate help for the locale — "if you are in
danger now", an emergency number and a crisis line, with no phone number or link that is
not one of the locale's; (2) contains no method details (means, doses, places, how-to);
(3) does not restate the person's message (no shared word 4-gram, also after turning "I/my"
into "you/your") and affirms nothing harmful ("better off without you", "go ahead"); and
(4) contains no crisis language of its own. The fixed response passes by construction; an
LLM's personalised wording is shown only if it passes too.
"""

from __future__ import annotations

import re

import msgspec

from morgan.emotion.crisis import detect_crisis
from morgan.safety.resources import HelpResources

MAX_CHARS = 1500
NGRAM = 4


class SafetyCheck(msgspec.Struct, frozen=True):
    """`problems` names each failed rule, e.g. `echoes_user:better off without you`."""

    ok: bool
    problems: tuple[str, ...] = ()


DANGER_LINE = re.compile(r"\bin (?:immediate )?danger(?: right)? now\b")
_PHONE = re.compile(r"\d(?:[\d \-]{0,14}\d)?")
_LINK = re.compile(
    r"\b(?:https?://)?(?:[a-z0-9-]+\.)+(?:com|org|net|gov|uk|au|nz|de|fr|nl|io|info)\b"
)
METHOD_DETAIL = re.compile(
    r"\b(?:pills?|tablets?|capsules?|doses?|dosage|overdos\w*|mg|milligrams?|grams?|lethal|fatal|"
    r"painless|ropes?|noose|hang\w*|ligature|knife|knives|blades?|razors?|guns?|firearms?|"
    r"bullets?|rifles?|pistols?|shoot\w*|bridges?|roofs?|jump\w*|ledges?|cliffs?|tracks|"
    r"poison\w*|bleach|antifreeze|carbon monoxide|exhaust|suffocat\w*|asphyxi\w*|drown\w*|"
    r"slit\w*|wrists?|veins?|stab\w*|strangl\w*|chok\w*|weapons?|explosives?|bomb\w*|how to|"
    r"steps? (?:to|\d)|instructions?|methods?|quickest|fastest|easiest|the best way)\b"
)
_AFFIRMATION = re.compile(
    r"better off (?:without you|dead|gone)|(?:you|they|everyone|everybody) (?:would|will) be better"
    r"|you should (?:do it|die|end|kill|hurt|go through)|go ahead|\bdo it\b|you deserve (?:it|to)"
    r"|(?:no one|nobody) (?:would|will) (?:miss|care|notice)|you are (?:a burden|worthless|right)"
    r"|\bi agree\b|i understand why you want|that makes sense"
    r"|(?:it is|that is) (?:ok|okay|understandable|fine|normal|natural) to (?:want to )?"
    r"(?:die|end|hurt|kill|feel like dying)|nothing (?:will|can) help|no way out"
    r"|it is your (?:choice|decision|life)|(?:they|he|she) deserves?|make (?:them|him|her) pay"
    r"|you have every right|\bend (?:it|your life|things)\b"
    r"|\b(?:kill|hurt|harm) (?:yourself|him|her|them)\b"
)
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "`": "'"})
_CONTRACTIONS = (
    (r"\b(i|you|we|they|he|she|it|that|there)'m\b", r"\1 am"),
    (r"\bcan't\b", "can not"),
    (r"\bwon't\b", "will not"),
    (r"n't\b", " not"),
    (r"'re\b", " are"),
    (r"'ll\b", " will"),
    (r"'ve\b", " have"),
    (r"'d\b", " would"),
    (r"\b(it|that|there|he|she|what)'s\b", r"\1 is"),
)
_FIRST_TO_SECOND = {
    "i": "you",
    "me": "you",
    "my": "your",
    "mine": "yours",
    "myself": "yourself",
    "am": "are",
}
_SECOND_TO_FIRST = {
    "you": "i",
    "your": "my",
    "yours": "mine",
    "yourself": "myself",
    "are": "am",
}


def normalise(text: str) -> str:
    text = text.lower().translate(_APOSTROPHES)
    text = re.sub(r"\bim\b", "i am", text)
    for pattern, replacement in _CONTRACTIONS:
        text = re.sub(pattern, replacement, text)
    return re.sub(r"\s+", " ", text).strip()


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text)


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def _swap(words: list[str], table: dict[str, str]) -> list[str]:
    return [table.get(w, w) for w in words]


def _ngrams(words: list[str], n: int = NGRAM) -> set[tuple[str, ...]]:
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}


def _without_resources(text: str, resources: HelpResources) -> str:
    """The candidate minus the help lines themselves (their names may contain crisis words)."""
    for phrase in (resources.emergency, resources.crisis, *resources.numbers):
        text = text.replace(phrase.lower(), " ")
    return text


def check_safety_text(text: str, *, user_message: str, resources: HelpResources) -> SafetyCheck:
    """Whether `text` may be shown as the reply to the crisis message `user_message`."""
    problems: list[str] = []
    raw = text.strip()
    if not raw:
        return SafetyCheck(ok=False, problems=("empty",))
    if len(raw) > MAX_CHARS:
        problems.append("too_long")
    lowered = normalise(raw)

    if not DANGER_LINE.search(lowered):
        problems.append("missing_danger_line")
    if not any(marker.lower() in lowered for marker in resources.required_emergency):
        problems.append("missing_emergency_number")
    if not any(marker.lower() in lowered for marker in resources.required_crisis):
        problems.append("missing_crisis_line")
    allowed_numbers = {_digits(n) for n in resources.numbers if _digits(n)}
    for number in _PHONE.findall(lowered):
        if _digits(number) not in allowed_numbers:
            problems.append(f"unknown_number:{number.strip()}")
    allowed_links = tuple(n.lower() for n in resources.numbers if not _digits(n))
    for link in _LINK.findall(lowered):
        if not link.endswith(allowed_links):
            problems.append(f"unknown_link:{link}")

    body = _without_resources(lowered, resources)
    if method := METHOD_DETAIL.search(body):
        problems.append(f"method_detail:{method.group(0)}")
    if affirmation := _AFFIRMATION.search(body):
        problems.append(f"affirms_harm:{affirmation.group(0)}")

    candidate = _words(body)
    said = _words(normalise(user_message))
    shared = _ngrams(candidate) & (_ngrams(said) | _ngrams(_swap(said, _FIRST_TO_SECOND)))
    if shared:
        problems.append("echoes_user:" + " ".join(sorted(shared)[0]))
    for version in (body, " ".join(_swap(candidate, _SECOND_TO_FIRST))):
        signal = detect_crisis(version)
        if signal is not None:
            problems.append(f"crisis_language:{signal.cue}")
            break
    return SafetyCheck(ok=not problems, problems=tuple(problems))
