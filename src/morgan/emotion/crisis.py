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
_RELATION = (
    r"(?:wife|husband|boss|manager|dad|father|stepdad|stepfather|mom|mum|mother|stepmom|"
    r"stepmother|brother|sister|son|daughter|kids?|children|child|baby|family|ex|girlfriend|"
    r"boyfriend|partner|neighbou?rs?|roommates?|flatmates?|coworkers?|colleagues?|teachers?|"
    r"classmates?|landlord|friends?|cousin|uncle|aunt|people|guys?|girls?|man|woman|bastard|"
    r"bitch|idiots?|assholes?|bully|bullies)"
)
_PERSON = (
    r"(?:him|her|them|you|u|y'all|everyone|everybody|someone|somebody|people|whoever|\[name\]|"
    rf"(?:my|his|her|their|the|that|this|those|these)(?: own| old| little| \w+'s)? {_RELATION}|"
    r"all of (?:them|you)|[a-z]+ and (?:him|her|them))"
)
_VIOLENCE = (
    r"(?:kill|murder|hurt|shoot|stab|strangle|choke|beat(?: up)?|attack|slaughter|poison|end)"
)
_INTENT = (
    r"(?:going to|want to|wanna|will|i'll|gonna|am gonna|plan(?:ning)? to|about to|"
    r"ready to|need to|have to|could|might|swear i'll|i swear i will)"
)
_GERUND = r"(?:killing|hurting|shooting|stabbing|murdering|strangling|choking|poisoning|attacking)"
_PLACE = r"(?:school|work|class|the office|my office|church|mosque|synagogue|temple|the mall)"
# A cue that must end its clause: "I can't go on like this." but not "... like this with X".
_END = r"(?=$|[.,!?;:)]| anymore| any more| any longer| and i| but i| i\b)"
_PILLS = (
    r"(?:pills|tablets|meds|medication|medicine|sleeping pills|painkillers|antidepressants|"
    r"paracetamol|tylenol|acetaminophen|ibuprofen|aspirin|insulin|opioids|oxy\w*)"
)
_HEIGHT = r"(?:bridge|roof|rooftop|building|balcony|cliff|window|tower|ledge|overpass|car park)"

_SELF_HARM: tuple[tuple[str, Severity], ...] = (
    # direct statements
    (
        (
            r"\b(?:kill(?:ing|ed)?|hang(?:ing|ed)?|shoot(?:ing)?|hurt(?:ing)?|harm(?:ing)?|"
            r"cut(?:ting)?|"
            r"burn(?:ing|ed|t)?|starv(?:e|ing)|poison(?:ing)?|drown(?:ing)?|suffocat\w*) myself\b"
        ),
        "high",
    ),
    (r"\b(?:end(?:ing)?|take|taking|took) (?:my|my own) li(?:fe|ves)\b", "high"),
    (r"\bsuicid(?:e|al)\b", "high"),
    (r"\bkms\b", "high"),
    (r"\bunalive\b", "high"),
    (
        r"\bend(?:ing)? (?:it all|everything|things|it)\b(?! (?:with|between|for now|here|early)"
        r")",
        "high",
    ),
    (r"\b(?:slit|cut|slash|slashing|slitting) (?:my|open my) (?:wrists?|veins?|throat)\b", "high"),
    (
        r"\b(?:cutting|slashing|carving|scratching) (?:my|up my) (?:arms?|legs?|thighs?|wrists?|"
        r"skin)\b",
        "high",
    ),
    (
        r"\b(?:cut|scratch|scratched|burn|burned|burnt|hit|punched)\w* (?:my|myself)\b.{0,30}"
        r"\buntil (?:they|it|i) (?:bled|bleed|bruised)\b",
        "high",
    ),
    (
        r"(?:\bi(?:'m|'ve|'ll|'d| am| have| will| might| could| just)?|want to|going to|gonna|"
        r"about to|plan(?:ning)? to|ready to|decided to|thinking (?:about|of)|tried to)"
        r"(?: (?:just|really|probably|maybe|seriously|actually))? overdos(?:e|ed|ing)\b",
        "high",
    ),
    (
        (
            r"\b(?:swallow|swallowing|swallowed|down|downing|downed) (?:all|every|a bunch of|"
            r"a handful of|"
            r"the whole bottle of|a whole bottle of|the rest of|loads of|lots of|too many|enough)"
            rf"(?: of)?(?: the| my| these| those)? (?:{_PILLS}|pill|bottle)"
        ),
        "high",
    ),
    (
        (
            r"\b(?:take|took|taking) (?:all|every|a bunch of|a handful of|the rest of|too many|"
            r"enough)"
            rf"(?: of)?(?: the| my| these| those)? (?:{_PILLS}|pill)\b.{{0,20}}"
            r"\b(?:at once|i have|i've got|left|tonight|in the (?:bottle|house)|and (?:die|"
            r"sleep|end))"
        ),
        "high",
    ),
    (r"\b(?:whole|entire) bottle of\b", "high"),
    (
        rf"\b(?:bottle|box|pack|handful|stash) of {_PILLS}\b.{{0,40}}\b(?:take|swallow) them\b",
        "high",
    ),
    (
        rf"\b(?:sav|stockpil|hoard|collect|stash)(?:e|ed|ing|s)?(?: up)?(?: all)? (?:my |the "
        rf"|of my )?"
        rf"{_PILLS}\b(?! (?:schedule|list|reminders?|app|prescriptions?|info|box|organi[sz]er))",
        "high",
    ),
    (
        r"\b(?:stockpil|hoard)(?:e|ed|ing|s)? (?:them|it)\b",
        "high",
    ),
    (
        rf"\bjump(?:ing)? (?:off|from|in front of|out of) (?:a|the|my|this|that) (?:{_HEIGHT}|"
        rf"train|bus|truck)\b",
        "high",
    ),
    (
        rf"\b(?:{_HEIGHT})\b.{{0,30}}\b(?:i'm|i am|i will|i'll|to) (?:going to |gonna )?jump\b",
        "high",
    ),
    (
        r"\b(?:write|wrote|writing|left|leave|written) (?:a|my) (?:suicide|goodbye) (?:note|"
        r"letter)s?\b",
        "high",
    ),
    (r"\bnoose\b", "high"),
    (r"\brope\b.{0,40}\b(?:what it's for|for myself|to hang|to end)", "high"),
    (
        r"\b(?:have|got|holding|sitting with|my) (?:a |the |my )?(?:gun|pistol|rifle|revolver) "
        r"(?:is )?loaded\b",
        "high",
    ),
    (
        r"\b(?:drive|driving|crash|crashing|steer|steering)\w*(?: my (?:car|truck))? "
        r"(?:off (?:the|a) (?:road|bridge|cliff)|into (?:a |the )?(?:wall|tree|river|lake|"
        r"oncoming traffic|a truck))\b",
        "high",
    ),
    # method seeking
    (
        r"\b(?:painless|quickest|fastest|easiest|best|surest|quick|easy|simplest) (?:way|ways|"
        r"method|methods) "
        r"(?:to|of) (?:die|dying|kill myself|end (?:my life|it)|commit suicide)\b",
        "high",
    ),
    (
        r"\b(?:ways?|how) to (?:kill myself|end my life|end it all|die painlessly|commit suicide)"
        r"\b",
        "high",
    ),
    (
        rf"\bhow (?:many|much)(?: \w+){{0,3}} {_PILLS}?.{{0,40}}\b(?:to die|would kill|kill me|"
        r"lethal|fatal|overdose|not wake up|never wake up|to end it)",
        "high",
    ),
    (
        r"\b(?:lethal|fatal|deadly) (?:dose|amount)\b(?! (?:of \w+ )?for (?:a|my|the) (?:cat|"
        r"dog|pet|horse|rabbit))",
        "medium",
    ),
    (r"\bhow (?:high|tall|far)\b.{0,50}\b(?:to die|fatal|kill you|kill me|be fatal)\b", "high"),
    (
        r"\b(?:plan|planned|planning|decided|know|figured out|worked out|picked)(?: exactly)? "
        r"(?:how|when|where|the day|a date|the date) (?:i'm|i am|i'll|i will|to)?(?: going "
        r"to| gonna)? ?"
        r"(?:die|kill myself|end my life|(?:do|end) it(?=\s*[.!]?\s*$))",
        "high",
    ),
    (
        r"\b(?:picked|set|chosen|choose|pick) (?:a|the) (?:date|day) to (?:die|end (?:it|my "
        r"life))\b",
        "high",
    ),
    # passive ideation and hopelessness
    (r"\bself[- ]?harm(?:ing|ed)?\b", "medium"),
    (
        r"\bwants? to (?:die|be dead|disappear forever|stop existing|not exist|stop living)"
        r"\b",
        "medium",
    ),
    (r"\bwanted to (?:die|be dead|stop existing|not exist)\b", "medium"),
    (r"\b(?:ready|want) to die\b", "medium"),
    (r"\b(?:imagin|think|dream|fantasi[sz])\w* (?:about |of )?my (?:own )?funeral\b", "medium"),
    (r"\b(?:wish|wishing) (?:i|i'd) (?:was|were|had) (?:dead|never been born|died)\b", "medium"),
    (r"\bwish i (?:could )?(?:die|disappear forever|not wake up|never wake up)\b", "medium"),
    (
        r"\bwish (?:i|i'd) (?:had )?(?:never been born|wasn't born|was never born|weren't born)\b",
        "medium",
    ),
    (
        r"\b(?:want|wish|hope|rather|prefer|pray)\w*(?: \w+){0,4} (?:never|not|don't) (?:to "
        r")?wake up\b",
        "medium",
    ),
    (
        r"\b(?:fall asleep|sleep|go to sleep) (?:forever|and never wake up|and not wake up)"
        r"\b",
        "medium",
    ),
    (r"\bbetter (?:off )?(?:dead|without me)\b", "medium"),
    (
        r"\b(?:better|happier|easier) (?:off )?(?:with me gone|if i (?:just )?(?:was|were|wasn't|"
        r"weren't) "
        r"(?:gone|dead|here|around|alive|never born)|if i (?:just )?(?:died|disappeared|was "
        r"gone|were gone))",
        "medium",
    ),
    (r"\b(?:everyone|everybody|they|people|my family) would be better off" + _END, "medium"),
    (
        r"\brather (?:be dead|die) than (?:keep|go on|continue|live|feel|be alive|face|wake "
        r"up)\b",
        "medium",
    ),
    (
        (
            r"\b(?:don't|do not|dont) want to (?:be here|be alive|live|exist|wake up(?! to\b)"
            r"|go on|"
            r"keep going)(?: anymore| any more| any longer)?\b"
        ),
        "medium",
    ),
    (r"\b(?:i don't|i do not|i no longer) want to exist\b", "medium"),
    (
        r"\b(?:no|what's the|what is the|don't see the|don't see any|can't see the|can't see any) "
        r"(?:reason|point) (?:to|in|of) (?:live|living|go on|going on|be alive|being alive|life|"
        r"stay alive|staying alive|carry on|carrying on)\b",
        "medium",
    ),
    (r"\bnothing (?:left )?to live for\b", "medium"),
    (
        r"\b(?:life|living) (?:is|isn't|is not) (?:not )?worth (?:it|living)\b(?<!is worth "
        r"it)(?<!is worth living)",
        "medium",
    ),
    (r"\bnot worth living\b", "medium"),
    (
        r"\b(?:my )?life (?:has no|has lost all|has lost its|doesn't have any) (?:meaning|point|"
        r"purpose)\b"
        r"(?! without)",
        "medium",
    ),
    (
        r"\b(?:can't|cannot|don't think i can|can no longer) (?:go on|do this|keep going|"
        r"keep living|live like this|carry on|cope)(?: like this)?" + _END,
        "medium",
    ),
    (
        r"\b(?:can't|cannot) (?:take|stand|bear) (?:it|this|life|living) (?:anymore|any more|"
        r"any longer)\b",
        "medium",
    ),
    (
        r"\b(?:won't|will not|am not going to|i'm not going to) be (?:around|here|alive|a problem|"
        r"a burden)"
        r"(?: for anyone| for you| to anyone)? (?:much longer|for long|anymore|any more|tomorrow)"
        r"\b",
        "medium",
    ),
    (
        r"\b(?:i'm|i am|i feel like|i'm just|i am just) (?:just |such |nothing but |only )?a burden"
        r"(?: to (?:everyone|everybody|my family|my friends|them|you|the people i love))?" + _END,
        "medium",
    ),
    (
        r"\b(?:no one|nobody|noone) (?:would|will|is going to|gonna) (?:even )?(?:care|notice|"
        r"miss me|cry)"
        r"(?: \w+)? if i (?:died|was gone|were gone|disappeared|wasn't here|weren't here|was dead|"
        r"ended it|killed myself|left forever)\b",
        "medium",
    ),
    (
        r"\bno(?: other)? way out (?:but|except|other than|apart from) (?:dying|death|to die|"
        r"suicide)\b",
        "high",
    ),
    (
        r"\b(?:want|wish|need) (?:it all|everything|all of this|all this|my life|the suffering|it) "
        r"to (?:stop|end|be over)(?: forever| permanently| for good)?" + _END,
        "medium",
    ),
    (r"\b(?:it all|everything) to be over(?: forever| for good)?\b", "medium"),
    (r"\bpain to (?:end|stop) (?:forever|permanently|for good)\b", "medium"),
    (r"\btired of (?:being alive|living|life|existing)" + _END, "medium"),
    (r"\bdone with (?:life|living|being alive|my life)" + _END, "medium"),
    (r"\bthinking (?:about|of) (?:dying|death|ending|not being here|not being alive)\b", "medium"),
    (r"\bgoodbye (?:forever|cruel world|everyone)\b", "medium"),
    (r"\b(?:said|saying|say) goodbye\b.{0,60}\b(?:for good|forever|last time)\b", "medium"),
    (r"\bdisappear(?:ing)? (?:forever|for good|permanently)\b", "medium"),
    (r"\b(?:after|when|once) i'm (?:gone|dead)(?=$|[.,!?;])", "medium"),
    (r"\bi'll be gone(?= soon| forever| for good|$|[.!])", "medium"),
    (
        r"\bgiv(?:e|ing|en) away (?:all )?(?:of )?my (?:things|stuff|belongings|possessions)"
        r"\b.{0,40}\bwon't need\b",
        "medium",
    ),
    (
        r"\b(?:wish|wishing|hope|hoping|pray|praying) (?:that )?(?:a|the|some) \w+ (?:would "
        r"|will )?(?:hit|kill|crash into) me\b",
        "medium",
    ),
    (r"\b(?:want|wanting|urges?|normal) to (?:kill|hurt|harm) (?:yourself|oneself)\b", "medium"),
)

_HARM_OTHERS: tuple[tuple[str, Severity], ...] = (
    (rf"\b{_INTENT} (?:really |just |fucking |literally )?{_VIOLENCE} {_PERSON}\b", "high"),
    (rf"\b(?:i'm|i am) (?:going to|gonna|about to) (?:really )?{_VIOLENCE} {_PERSON}\b", "high"),
    (
        (
            r"\bi (?:want|wanted|fantasi[sz]e about|keep fantasi[sz]ing about|think about|keep "
            r"thinking about|"
            r"feel like|felt like|dream about|keep imagining|can't stop thinking about) "
            rf"{_GERUND} {_PERSON}\b"
        ),
        "high",
    ),
    (
        r"\b(?:he|she|they|you|[a-z]+)'?s? (?:going to|gonna) (?:pay|regret it|be sorry)\b"
        rf".*\b{_VIOLENCE}",
        "medium",
    ),
    (
        (
            r"\b(?:bring|take|bringing|taking|carry|carrying) (?:a|my|his|her|the|my \w+'s) "
            rf"(?:gun|knife|rifle|weapon|pistol|bomb) to {_PLACE}\b"
        ),
        "high",
    ),
    (
        r"\b(?:shoot|shooting|blow|blowing|burn|burning) up (?:the|my|a|our) (?:school|office|"
        r"place|church|mall|class)\b",
        "high",
    ),
    (
        rf"\b(?:{_INTENT}|plan to|plan(?:ning)? to|going to) (?:attack|shoot up|bomb|blow up|"
        rf"burn down) "
        r"(?:my|the|our|his|her|their) (?:old )?(?:office|school|work|workplace|church|mosque|"
        r"synagogue|"
        r"temple|mall|class|company|house|home)\b"
        r"(?! (?:project|assignment|problem|essay|homework|task|exam|paper|backlog|list))",
        "high",
    ),
    (rf"\b(?:make|making|see|watch) {_PERSON} (?:bleed|suffer|die)\b", "high"),
    (
        r"\b(?:bought|buy|buying|got) a (?:gun|rifle|knife|pistol) (?:to|for) (?:kill|hurt|"
        r"use on|deal with|shoot)\b",
        "high",
    ),
    (rf"\bthinking (?:about|of) {_GERUND} {_PERSON}\b", "high"),
    (rf"\bwant {_PERSON}(?: all)? dead\b", "high"),
    (rf"\b(?:run|running) {_PERSON} (?:over|down)\b", "high"),
    (
        rf"\b(?:drive|driving|run|ram|ramming|crash|plow|plough)\w*(?: my| the)? (?:car|truck|"
        rf"van)? ?into "
        rf"(?:the crowd|a crowd|people|{_PERSON})\b",
        "high",
    ),
    (
        r"\b(?:burn|burning|set fire to) (?:his|her|their|your|my \w+'s) (?:house|home|place|"
        r"car|flat)\b",
        "high",
    ),
    (
        rf"\b{_INTENT} (?:break|snap|smash) (?:his|her|their|your) (?:neck|skull|face|legs?)"
        rf"\b",
        "high",
    ),
)

# Idioms that share words with the cues above; a cue inside one of these spans is ignored.
_IDIOMS = (
    (
        r"\bshoot (?:him|her|them|me|you|us) (?:a|an|the) (?:email|e-mail|message|text|note|"
        r"line|dm|pm|"
        r"invite|link|reply|quick)\b"
    ),
    r"\b(?:beat|beating|beats) (?:him|her|them|you|my \w+) (?:at|in|to)\b",
    r"\bkill (?:it|this|that) on\b",
    r"\bend (?:it|things) (?:with|between)\b",
    (
        r"\bkill(?:ing)? (?:the|a|this|that|my|your|all) (?:process|processes|job|task|server|"
        r"app|tab|"
        r"bug|lights|engine|mood|vibe|time|switch|container|pod|session|thread|program)\b"
    ),
    r"\bhurt(?:s|ing)? (?:him|her|them|you)(?:r)? feelings\b",
    r"\bhurt(?:s|ing)? (?:his|her|their|your|my|\w+'s?) (?:\w+'?s?'? )?feelings\b",
    r"\bdie (?:my|your|her|his|their) hair\b",
    r"\bin the end,? it\b",
    r"\b(?:escape|escaped|escaping|tighten\w*|slip\w*) (?:the|a) noose\b",
    r"\bbeat(?:s|ing)? (?:them|him|her|you|us|\w+) \d+",
    (
        r"\b(?:kill|shoot|destroy|beat|murder|stab)\w* (?:\w+ ){1,3}(?:in|at) (?:a |the )?(?:game|"
        r"games|"
        r"match|chess|mario kart|fortnite|minecraft|call of duty|cod|halo|overwatch|valorant|"
        r"league|"
        r"poker|tennis|smash|paintball|laser tag)\b"
    ),
    r"\b(?:die|dying|died) (?:laughing|of (?:laughter|embarrassment|boredom|shame|cringe))\b",
    (
        r"\bsuicide (?:prevention|rates?|statistics|awareness|squad|bomb\w*|doors?|research|"
        r"studies|"
        r"clause|risk assessments?)\b"
    ),
    (
        r"\b(?:he|she|they|character|protagonist|hero|heroine|narrator|villain|author|poet|writer|"
        r"king|queen|soldier|who|romeo|juliet) (?:commits|committed|committing|attempts|attempted) "
        r"suicide\b"
    ),
)

# A negation right before a cue ("I would never kill myself", "I'm not thinking about ending
# my life"). Modal negations that argue with the thought ("I shouldn't", "I can't stop") are
# not negations of it, so they are left out on purpose.
_NEGATED_PREFIX = re.compile(
    r"(?:\bnot|\bnever|\bno longer|\b(?:do|does|did|would|wo|am|is|are|was|were|have|has)n't)"
    r"(?: be| really| ever| actually| going to| want to| gonna| thinking about| thinking of|"
    r" planning to| planning on| trying to| considering| going to be)?\s*$"
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
