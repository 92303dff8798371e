"""The one text toolkit: sentences, words, stems and stop words, for every module.

Chunking, extractive answers, citation grounding, evidence selection, learning and empathy
all cut text into sentences and words; they must agree, or a fact found by one is lost by
another (a PDF line break inside "The default weight value is\\n50" once split the number
off its sentence in the extractive backend while chunking kept it whole). So there is one
splitter here, and one stemmer.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

# -- sentences ------------------------------------------------------------------------------

_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n")
# A line that starts a list item ends the sentence before it (a numbered item only after a
# line that ended a clause), but a plain line break (a PDF's wrapped line, "is\n50") never
# does.
_LIST_ITEM = re.compile(
    r"\n(?=[ \t]*[-*•▪◦][ \t]+\S)"
    r"|(?<=[.:;!?])[ \t]*\n(?=[ \t]*\d{1,3}[.)][ \t]+\S)"
)
_LINE_BREAK = re.compile(r"\n")
_SENTENCE_END = re.compile(r"(?:[.!?…]+|[。！？]+)[\"'”’»)\]]*(?=\s|$)|[。！？]+")
_WORD_BEFORE = re.compile(r"(\S+?)[.!?…]+[\"'”’»)\]]*$")
_INITIALISM = re.compile(r"^(?:\w\.)+\w$")
ABBREVIATIONS = frozenset(
    """
    mr mrs ms dr prof sr jr st mt vs etc e.g eg i.e ie cf al fig figs eq eqs no nos vol vols
    pp p ch chap sec approx dept est inc ltd co corp jan feb mar apr jun jul aug sep
    sept oct nov dec mon tue wed thu fri sat sun gen col lt sgt capt rev hon ave blvd rd
    ft z.b bzw ca usw vgl ggf evtl bspw nr str abb abs allg bzgl d.h u.a s.o s.u z.t
    resp viz ref refs
    """.split()  # noqa: SIM905 - a word list reads best as prose
)
"""Words after which a full stop does not end a sentence ("eg. Linux", "Dr. Silva")."""
_NEXT_NON_SPACE = re.compile(r"\s*(\S)")
_NEXT_WORD = re.compile(r"\s*(\w+)")
_MONTHS = frozenset(
    """
    januar jänner februar märz april mai juni juli august september oktober november dezember
    janvier février mars avril juin juillet août septembre octobre novembre décembre
    """.split()  # noqa: SIM905
)


def sentence_spans(text: str, *, lines: bool = False) -> list[tuple[int, int]]:
    """Sentence spans `(start, end)` of `text`, trimmed of surrounding whitespace.

    Blank lines and list items always end a sentence; with `lines=True` (model output,
    where a line is a unit) every line break does. A full stop does not end one after a
    known abbreviation, an initial ("Philip A. Nelson"), an ordinal ("31. Dezember"), or
    before a lower-case letter; decimals and URLs have no space after the dot and never
    split.
    """
    breaks = _LINE_BREAK if lines else _PARAGRAPH_BREAK
    cuts = sorted(
        {
            *((m.start(), m.end()) for m in breaks.finditer(text)),
            *(() if lines else ((m.start(), m.end()) for m in _LIST_ITEM.finditer(text))),
        }
    )
    spans: list[tuple[int, int]] = []
    block_start = 0
    for cut in [*cuts, None]:
        if cut is not None and cut[0] < block_start:
            continue  # a list item right after a blank line: already cut there
        block_end = cut[0] if cut is not None else len(text)
        start = block_start
        for match in _SENTENCE_END.finditer(text, block_start, block_end):
            if _ends_sentence(text, match, block_end):
                append_trimmed(spans, text, start, match.end())
                start = match.end()
        append_trimmed(spans, text, start, block_end)
        if cut is not None:
            block_start = cut[1]
    return spans


def split_sentences(text: str, *, lines: bool = False) -> list[str]:
    """The sentences of `text`, each with its whitespace (line breaks too) collapsed."""
    return [" ".join(text[start:end].split()) for start, end in sentence_spans(text, lines=lines)]


def _ends_sentence(text: str, match: re.Match[str], limit: int) -> bool:
    following = _NEXT_NON_SPACE.match(text, match.end(), limit)
    if following is None:
        return True
    next_char = following.group(1)
    if next_char.islower():
        return False
    if "." not in match.group(0) or match.group(0)[0] in "。！？":
        return True
    line_start = text.rfind("\n", 0, match.start()) + 1
    word = _WORD_BEFORE.search(text, max(line_start, match.start() - 40), match.end())
    if word is None:
        return True
    token = word.group(1).lstrip("([{\"'“‘").lower()
    if token in ABBREVIATIONS or _INITIALISM.match(token):
        return False
    if len(token) == 1 and token.isalpha():  # an initial
        return False
    if token.isdigit() and len(token) <= 2:
        # "1. First" opening a line is a list number, "31. Dezember" an ordinal date;
        # "on May 3. The hotel" ends a sentence.
        at_line_start = not text[line_start : word.start()].strip()
        next_word = _NEXT_WORD.match(text, match.end(), limit)
        return not (at_line_start or (next_word and next_word.group(1).lower() in _MONTHS))
    return True


def append_trimmed(spans: list[tuple[int, int]], text: str, start: int, end: int) -> None:
    """Append `(start, end)` shrunk to exclude surrounding whitespace, if anything is left."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if start < end:
        spans.append((start, end))


# -- words ----------------------------------------------------------------------------------

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_TOKEN = re.compile("[a-zA-Z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u00ff][\\w'\u2019-]*")

STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "been",
        "but",
        "by",
        "can",
        "could",
        "did",
        "do",
        "does",
        "for",
        "from",
        "had",
        "has",
        "have",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "me",
        "my",
        "of",
        "on",
        "or",
        "our",
        "so",
        "than",
        "that",
        "the",
        "their",
        "them",
        "then",
        "there",
        "these",
        "they",
        "this",
        "to",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "who",
        "whom",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
        "about",
        "tell",
        "please",
        "any",
        "all",
        "also",
        "just",
        "more",
        "most",
        "some",
        "such",
        "not",
        "no",
        "yes",
        "should",
        "shall",
        "may",
        "might",
    ]
)
"""Question words that say nothing about the topic: dropped before matching sentences."""

CONVERSATION_STOPWORDS = frozenset(
    """
    a about above after again against all also am an and any are aren't as at be because
    been before being below between both but by can can't cannot could couldn't did didn't
    do does doesn't doing don't down during each either else ever few for from further get
    gets got had hadn't has hasn't have haven't having he her here hers herself him himself
    his how i i'd i'll i'm i've if in into is isn't it it's its itself just let let's like
    me might more most much must mustn't my myself need no nor not now of off on once only
    or other ought our ours ourselves out over own please really same shall she should
    shouldn't so some such than that that's the their theirs them themselves then there
    there's these they they'd they'll they're they've this those through to too under until
    up us very was wasn't way we we'd we'll we're we've were weren't what what's when where
    which while who whom why will with won't would wouldn't yes yet you you'd you'll you're
    you've your yours yourself yourselves hi hello hey thanks thank ok okay tell show give
    know want make something anything thing things one two use using used help explain
    """.split()  # noqa: SIM905
)
"""A wider list for chat messages (learning's topics and repeats), greetings included."""


def words(text: str) -> list[str]:
    """Runs of letters and digits, as written (`e.g.` -> `e`, `g`)."""
    return _WORD.findall(text)


def tokens(text: str) -> list[str]:
    """Lower-cased word tokens starting with a letter, apostrophes normalised (`don't`)."""
    return [t.replace("\u2019", "'").lower().strip("'-") for t in _TOKEN.findall(text)]


def stem(word: str) -> str:
    """A deliberately tiny suffix stripper: enough to match "reset"/"resetting"/"resets"."""
    if word.endswith("'s"):
        word = word[:-2]
    if word.endswith(("ss", "us", "is")):
        return word
    for suffix, keep in (("ing", 5), ("ied", 4), ("ies", 4), ("ed", 4), ("es", 4), ("s", 4)):
        if word.endswith(suffix) and len(word) - len(suffix) >= keep - 1 and len(word) > keep:
            word = word[: -len(suffix)]
            if suffix in ("ied", "ies"):
                word += "y"
            break
    if len(word) >= 4 and word[-1] == word[-2] and word[-1] not in "aeiousl":
        word = word[:-1]  # "resetting" -> "resett" -> "reset"
    if len(word) >= 5 and word.endswith("e") and not word.endswith(("ee", "ie", "ye")):
        word = word[:-1]  # "define" and "defined" -> "defin"
    return word


def content_terms(text: str) -> list[str]:
    """Stemmed, lower-cased words that carry meaning, in order (numbers kept)."""
    return [
        stem(w)
        for w in (m.lower() for m in _WORD.findall(text))
        if w not in STOPWORDS and (len(w) > 1 or w.isdigit())
    ]


def overlap(left: Iterable[str], right: Iterable[str]) -> float:
    """Share of `left`'s distinct items that are also in `right` (0 when `left` is empty)."""
    a = set(left)
    return len(a & set(right)) / len(a) if a else 0.0


__all__ = [
    "ABBREVIATIONS",
    "CONVERSATION_STOPWORDS",
    "STOPWORDS",
    "append_trimmed",
    "content_terms",
    "overlap",
    "sentence_spans",
    "split_sentences",
    "stem",
    "tokens",
    "words",
]
