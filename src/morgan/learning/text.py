"""Cheap text features for learning: content words, a light stemmer, set similarity.

No model is needed: these only have to recognise "the same question, reworded" and pull
topic keywords, and they run on every message.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

STOPWORDS = frozenset(
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

_TOKEN = re.compile("[a-zA-Z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u00ff][\\w'\u2019-]*")


def tokens(text: str) -> list[str]:
    """Lower-cased word tokens, apostrophes normalised."""
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
    return word


def content_terms(text: str) -> set[str]:
    """Stemmed words that carry meaning; stopwords and very short words dropped."""
    return {stem(t) for t in tokens(text) if t not in STOPWORDS and len(t) > 2}


def jaccard(left: Iterable[str], right: Iterable[str]) -> float:
    a, b = set(left), set(right)
    if not a and not b:
        return 0.0
    return len(a & b) / len(a | b)


def keywords(text: str, limit: int = 5) -> list[str]:
    """Topic keywords of a message: its longest distinct content words, in order of use.

    Unstemmed so they read well when shown back to the user.
    """
    seen: dict[str, None] = {}
    for token in tokens(text):
        if token in STOPWORDS or len(token) < 4 or token.isdigit() or token in seen:
            continue
        seen[token] = None
    order = list(seen)
    ranked = set(sorted(order, key=lambda t: (-len(t), order.index(t)))[:limit])
    return [t for t in order if t in ranked]
