"""Crisis signals: self-harm and harm-to-others cues, tuned for recall.

A missed crisis costs far more than a gentle check-in on a false alarm, so patterns are
broad and only well-known idioms ("this bug is killing me", "kill the process", "shoot me
an email") are carved out. Rules, not a model: they are auditable and need no warm-up.
"""

from __future__ import annotations

import re
from typing import Literal

import msgspec

CrisisKind = Literal["self_harm", "harm_to_others"]
Severity = Literal["low", "medium", "high"]
_SEVERITY_RANK = {"low": 0, "medium": 1, "high": 2}


class CrisisSignal(msgspec.Struct, frozen=True):
    kind: CrisisKind
    cue: str
    severity: Severity


# --- normalisation ---------------------------------------------------------------------

_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "`": "'", "\u02bc": "'"})
_CONTRACTIONS = (
    (r"\bim\b", "i'm"),
    (r"\bive\b", "i've"),
    (r"\bill\b(?= (?:just )?(?:kill|hurt|end|shoot|stab))", "i'll"),
    (r"\bdont\b", "don't"),
    (r"\bcant\b", "can't"),
    (r"\bwont\b", "won't"),
    (r"\bwanna\b", "want to"),
    (r"\bgonna\b", "going to"),
    (r"\bgotta\b", "got to"),
    (r"\bu\b", "you"),
    (r"\bur\b", "your"),
    (r"\bcuz\b", "because"),
)


def _normalise(text: str) -> str:
    text = text.translate(_APOSTROPHES).lower()
    text = re.sub(r"\s+", " ", text)
    for pattern, replacement in _CONTRACTIONS:
        text = re.sub(pattern, replacement, text)
    return text


# --- cue patterns ----------------------------------------------------------------------

_I = r"\b(?:i|i'm|i've|i'll|i'd|me|my|myself)\b"
_PERSON = (
    r"(?:him|her|them|you|u|y'all|everyone|everybody|someone|somebody|people|\[name\]|"
    r"my (?:wife|husband|boss|dad|father|mom|mum|mother|brother|sister|son|daughter|"
    r"kids?|children|family|ex|girlfriend|boyfriend|partner|neighbou?r|roommate|"
    r"coworkers?|colleagues?|teacher|classmates?)|"
    r"(?:the|that|this) (?:guy|girl|man|woman|kid|bastard|bitch|teacher|boss|neighbou?r)|"
    r"all of (?:them|you)|[a-z]+ and (?:him|her|them))"
)
_VIOLENCE = (
    r"(?:kill|murder|hurt|shoot|stab|strangle|choke|beat(?: up)?|attack|slaughter|poison|end)"
)
_INTENT = (
    r"(?:going to|want to|wanna|will|i'll|gonna|am gonna|plan(?:ning)? to|about to|"
    r"ready to|need to|have to|could|might|swear i'll|i swear i will)"
)

_SELF_HARM: tuple[tuple[str, Severity], ...] = (
    (
        (
            r"\b(?:kill(?:ing|ed)?|hang(?:ing)?|shoot(?:ing)?|hurt(?:ing)?|harm(?:ing)?|cut(?:ting)?|"
            r"burn(?:ing)?|starv(?:e|ing)|poison(?:ing)?|drown(?:ing)?) myself\b"
        ),
        "high",
    ),
    (r"\b(?:end(?:ing)?|take|taking|took) (?:my|my own) li(?:fe|ves)\b", "high"),
    (r"\bsuicid(?:e|al)\b", "high"),
    (r"\bkms\b", "high"),
    (r"\bunalive\b", "high"),
    (r"\bend (?:it all|everything|things|it)\b(?! (?:with|between|for now))", "high"),
    (r"\b(?:slit|cut|slash) (?:my|open my) (?:wrists?|arms?|veins?)\b", "high"),
    (r"\boverdos(?:e|ing)\b", "high"),
    (
        (
            r"\b(?:swallow|take|took|taking) (?:all )?(?:the |my )?(?:whole bottle|all (?:of )?(?:my|the) pills|"
            r"a bunch of pills|every pill)\b"
        ),
        "high",
    ),
    (
        r"\bjump(?:ing)? (?:off|from|in front of) (?:a|the) (?:bridge|roof|building|train|cliff|balcony)\b",
        "high",
    ),
    (r"\b(?:write|wrote|writing|left|leave) (?:a|my) (?:suicide|goodbye) note\b", "high"),
    (r"\bself[- ]?harm(?:ing)?\b", "medium"),
    (r"\bwant(?:ed)? to (?:die|be dead|disappear forever|stop existing|not exist)\b", "medium"),
    (r"\b(?:wish|wishing) (?:i|i'd) (?:was|were|had) (?:dead|never been born|died)\b", "medium"),
    (r"\bwish i (?:could )?(?:die|disappear forever|not wake up|never wake up)\b", "medium"),
    (
        r"\bwish (?:i|i'd) (?:had )?(?:never been born|wasn't born|was never born|weren't born)\b",
        "medium",
    ),
    (r"\bbetter off (?:dead|without me)\b", "medium"),
    (
        (
            r"\b(?:don't|do not|dont) want to (?:be here|be alive|live|exist|wake up|go on|keep going)"
            r"(?: anymore| any more| any longer)?\b"
        ),
        "medium",
    ),
    (
        r"\bno (?:reason|point) (?:to|in|of) (?:live|living|go on|going on|be alive|being alive|stay|staying)\b",
        "medium",
    ),
    (
        r"\b(?:life|living) (?:is|isn't|is not) (?:not )?worth (?:it|living)\b(?<!is worth it)(?<!is worth living)",
        "medium",
    ),
    (r"\bnot worth living\b", "medium"),
    (
        (
            r"\bcan't (?:go on|do this anymore|keep going|take it anymore|take this anymore) "
            r"(?:anymore|any more|like this)?"
        ),
        "medium",
    ),
    (r"\b(?:can't|cannot) (?:go on|keep living|live like this)\b", "medium"),
    (
        r"\b(?:won't|will not) be (?:around|here) (?:much longer|for long|anymore|tomorrow)\b",
        "medium",
    ),
    (r"\beveryone would be better off\b", "medium"),
    (r"\btired of (?:living|being alive|life|existing)\b", "medium"),
    (r"\bthinking (?:about|of) (?:dying|death|ending|not being here)\b", "medium"),
    (r"\bgoodbye (?:forever|cruel world|everyone)\b", "medium"),
    (r"\bdisappear (?:forever|for good)\b", "low"),
)

_HARM_OTHERS: tuple[tuple[str, Severity], ...] = (
    (rf"\b{_INTENT} (?:really |just |fucking |literally )?{_VIOLENCE} {_PERSON}\b", "high"),
    (rf"\b(?:i'm|i am) (?:going to|gonna|about to) (?:really )?{_VIOLENCE} {_PERSON}\b", "high"),
    (
        (
            rf"\bi (?:want|wanted|fantasi[sz]e about|think about|keep thinking about) "
            rf"(?:killing|hurting|shooting|stabbing|murdering|strangling) {_PERSON}\b"
        ),
        "high",
    ),
    (
        rf"\b(?:he|she|they|you|[a-z]+)'?s? (?:going to|gonna) (?:pay|regret it|be sorry)\b.*\b{_VIOLENCE}",
        "medium",
    ),
    (
        (
            r"\b(?:bring|take|bringing|taking) (?:a|my|his|the) (?:gun|knife|rifle|weapon) to "
            r"(?:school|work|class|the office|church)\b"
        ),
        "high",
    ),
    (r"\bshoot up (?:the|my|a) (?:school|office|place|church|mall|class)\b", "high"),
    (r"\b(?:make|making) (?:him|her|them) (?:bleed|suffer)\b", "high"),
    (
        r"\b(?:bought|buy|buying|got) a (?:gun|rifle|knife) (?:to|for) (?:kill|hurt|use on|deal with)\b",
        "high",
    ),
    (rf"\bthinking (?:about|of) (?:killing|hurting|shooting|stabbing) {_PERSON}\b", "high"),
)

# Idioms that share words with the cues above; a cue inside one of these spans is ignored.
_IDIOMS = (
    (
        r"\bshoot (?:him|her|them|me|you|us) (?:a|an|the) (?:email|e-mail|message|text|note|line|dm|pm|"
        r"invite|link|reply|quick)\b"
    ),
    r"\b(?:beat|beating|beats) (?:him|her|them|you|my \w+) (?:at|in|to)\b",
    r"\bkill (?:it|this|that) on\b",
    r"\bend (?:it|things) (?:with|between)\b",
    (
        r"\bkill(?:ing)? (?:the|a|this|that|my|your|all) (?:process|processes|job|task|server|app|tab|"
        r"bug|lights|engine|mood|vibe|time|switch|container|pod|session|thread|program)\b"
    ),
    r"\bhurt (?:him|her|them|you)(?:r)? feelings\b",
    r"\bhurt(?:s)? (?:his|her|their|your) feelings\b",
)

_NEGATED_PREFIX = re.compile(
    r"(?:\bnot|\bnever|n't|\bno longer)(?: be| really| ever| actually| going to| want to| gonna)?\s*$"
)
_COMPILED_SELF = tuple((re.compile(p), s) for p, s in _SELF_HARM)
_COMPILED_OTHERS = tuple((re.compile(p), s) for p, s in _HARM_OTHERS)
_COMPILED_IDIOMS = tuple(re.compile(p) for p in _IDIOMS)


def _in_idiom(text: str, start: int, end: int) -> bool:
    for idiom in _COMPILED_IDIOMS:
        for match in idiom.finditer(text):
            if match.start() <= start < match.end() or start <= match.start() < end:
                return True
    return False


def _scan(
    text: str, patterns: tuple[tuple[re.Pattern[str], Severity], ...], kind: CrisisKind
) -> CrisisSignal | None:
    best: CrisisSignal | None = None
    for pattern, severity in patterns:
        for match in pattern.finditer(text):
            if _in_idiom(text, match.start(), match.end()):
                continue
            level: Severity = severity
            prefix = text[max(0, match.start() - 24) : match.start()]
            if _NEGATED_PREFIX.search(prefix) and not match.group(0).startswith(
                ("don't", "do not")
            ):
                level = "low"  # "I would never kill myself": still surfaced, gently
            signal = CrisisSignal(kind=kind, cue=match.group(0), severity=level)
            if best is None or _SEVERITY_RANK[level] > _SEVERITY_RANK[best.severity]:
                best = signal
    return best


def detect_crisis(text: str) -> CrisisSignal | None:
    """The strongest crisis cue in `text`, or None. Self-harm wins ties with harm-to-others."""
    normalised = _normalise(text)
    found = [
        s
        for s in (
            _scan(normalised, _COMPILED_SELF, "self_harm"),
            _scan(normalised, _COMPILED_OTHERS, "harm_to_others"),
        )
        if s is not None
    ]
    if not found:
        return None
    return max(found, key=lambda s: _SEVERITY_RANK[s.severity])


_CRISIS_LINES = (
    "If they are in immediate danger, they should call their local emergency number now "
    "(for example 911 in the US and Canada, 112 in the EU, 999 in the UK, 000 in Australia). "
    "They can also reach a crisis line any time: 988 (call or text) in the US, Samaritans at "
    "116 123 in the UK and Ireland, or the directory at findahelpline.com for other countries."
)


def safety_protocol_instructions(signal: CrisisSignal) -> str:
    """System-prompt text for the safety protocol; warm and direct, never a cold refusal."""
    if signal.kind == "self_harm":
        focus = (
            "The user's last message may mean they are thinking about suicide or hurting "
            "themselves. Respond as a calm, caring person would. Acknowledge what they said in "
            "plain words and thank them for telling you. Ask directly and gently whether they "
            "are safe right now and whether they are thinking about ending their life. "
            "Do not lecture, do not minimise, and do not change the subject to their documents."
        )
    else:
        focus = (
            "The user's last message may mean they are thinking about hurting someone else. "
            "Stay calm and non-judgemental. Acknowledge the anger or pain behind it, and ask "
            "directly whether anyone is in danger right now. Encourage them to step away from "
            "the situation and from any means of harm. Never help plan or carry out harm."
        )
    urgency = (
        "Treat this as urgent: put safety first in your reply."
        if signal.severity == "high"
        else "Check in gently before anything else."
    )
    return (
        f"SAFETY PROTOCOL. {focus} {urgency} "
        f"Tell them they do not have to handle this alone, and encourage them to reach out "
        f"to someone they trust and to professional help. {_CRISIS_LINES} "
        "Keep the reply short, warm and human; no bullet lists, no disclaimers about being "
        "an AI, and do not refuse to talk with them. Stay with them in the conversation."
    )
