"""Preference extraction against a golden file: every sentence, every update, exactly.

`golden_preferences.jsonl` holds one input message per line with the updates
`extract_preferences` returned when the file was written (before the rules became a data
table), so any change to the rules, the language names or the cues shows up as a diff.
The corpus crosses each rule's phrases with negations, removals, reported speech, how-to
questions, politeness and persistence cues, and adds every language name, native names,
words that are not languages, the unit-test sentences and the crisis evaluation messages.

Regenerate only for an intended change, and review the diff:
`python tests/unit/learning/test_golden_preferences.py --write`.
"""

from __future__ import annotations

import ast
import itertools
import json
import sys
from pathlib import Path
from typing import Any

import msgspec
import pytest

from morgan.learning import extract_preferences

HERE = Path(__file__).resolve().parent
GOLDEN = HERE / "golden_preferences.jsonl"
ROOT = HERE.parents[2]

PHRASES = [
    # answer_length
    "keep it short",
    "keep your answers brief",
    "make it snappy",
    "keep things to the point",
    "keep it a bit more concise",
    "be brief",
    "be really concise",
    "be succinct",
    "be terse",
    "shorter answers",
    "more concise replies",
    "short answers",
    "brief replies to me",
    "concise responses for the quiz",
    "less detail",
    "fewer words",
    "less rambling",
    "your answers are too long",
    "your replies were way too verbose",
    "that's too long",
    "this was much too wordy",
    "in one sentence",
    "in a few lines",
    "in 2 sentences",
    "more detail",
    "more depth",
    "more details about the invoice",
    "more detailed",
    "be detailed",
    "be more thorough",
    "be comprehensive",
    "be elaborate",
    "be verbose",
    "go into detail",
    "go into more detail",
    "go into detail on section 3",
    "longer answers",
    "fuller replies",
    "more detailed responses",
    "more thorough explanations",
    "detailed answers",
    "in-depth explanations",
    "long replies",
    "thorough answers to this",
    "your answers are too short",
    "your responses are a bit too terse",
    # preferred_name
    "call me Sam",
    "call me sam",
    "call me Dr. Smith",
    "call me Mary Jane",
    "call me later",
    "call me crazy",
    "call me a taxi",
    "call me O'Neil",
    "calling me Bob",
    "my name is Sam",
    "my name's Alex",
    "my name is on the lease",
    "my name is jean-luc",
    "forget my name",
    "don't use my nickname",
    "stop using my name",
    "stop calling me that",
    "don't call me by my name",
    "call me 2morrow",
    "call me Élodie",
    # language
    "answer in German",
    "reply in french",
    "respond to me in Spanish",
    "write back in Italian",
    "talk only in Dutch",
    "speak in Klingon",
    "chat in Python",
    "answering in Polish",
    "use English",
    "use Swedish from now on",
    "use Norwegian for your answers",
    "use Danish",
    "use python",
    "switch to Finnish",
    "change back to English",
    "go to Czech",
    "switch to dark mode",
    "in Greek, please",
    "in Turkish from now on",
    "in detail, please",
    "auf Deutsch",
    "en français",
    "en francais",
    "en español",
    "en espanol",
    "no more German",
    "no more emails",
    "no more Farsi",
    # formality
    "be formal",
    "be more professional",
    "sound polite",
    "keep it formal",
    "stay professional",
    "less casual",
    "less chatty",
    "use a formal tone",
    "prefer a more professional style",
    "be casual",
    "be more relaxed",
    "sound chill",
    "keep it laid-back",
    "stay laid back",
    "less formal",
    "less robotic",
    "use a casual tone",
    "want an informal register",
    # emoji
    "don't use emojis",
    "do not use any emoji",
    "never add emojis",
    "stop using emojis",
    "quit sending all those emojis",
    "without emoji",
    "avoid the emojis",
    "skip emojis",
    "no emojis",
    "no emoji",
    "hate emojis",
    "can't stand the emoji",
    "you can use emojis",
    "feel free to use some emoji",
    "please use more emojis",
    "emojis are fine",
    "emoji is okay",
    "emojis are welcome",
    # forget everything
    "forget my preferences",
    "reset all of my preferences",
    "clear the settings about me",
    "forget everything you know about me",
    "forget everything I told you about my preferences",
]
PREFIXES = [
    "",
    "please ",
    "Please ",
    "don't ",
    "do not ",
    "never ",
    "stop ",
    "forget ",
    "forget about ",
    "no need to ",
    "you can stop ",
    "no longer ",
    "can you ",
    "could you please ",
    "how do I ",
    "should I ",
    "I need to ",
    "I want to ",
    "my boss told me to ",
    "the doc says ",
    "According to the manual, ",
    "I said ",
    "he said: ",
    "Thanks! ",
    "ok, ",
    "The guide says to be detailed, but ",
]
SUFFIXES = [
    "",
    ".",
    "!",
    "?",
    " please",
    " from now on",
    " always.",
    ", thanks",
    " instead.",
    " by default",
    ", and call me Sam.",
]


def _test_sentences() -> list[str]:
    """String literals of the preference unit tests."""
    tree = ast.parse((HERE / "test_learning_preferences.py").read_text(encoding="utf-8"))
    return [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    ]


def _eval_messages() -> list[str]:
    out: list[str] = []
    for name in ("crisis.jsonl", "crisis_holdout.jsonl"):
        path = ROOT / "data" / "eval" / name
        if path.is_file():
            out += [json.loads(line)["text"] for line in path.read_text().splitlines() if line]
    return out


def _language_sentences() -> list[str]:
    from morgan.learning.preferences import language_names

    words = [
        *sorted(language_names()),
        "klingon",
        "python",
        "latin",
        "hawaiian",
        "mongolian",
        "zulu",
        "nepali",
        "punjabi",
        "english.",
        "inglés",
        "deutch",
        "germany",
        "france",
        "detail",
        "private",
        "bed",
        "Hochdeutsch",
        "Brazilian",
        "american",
        "British",
        "Scots",
        "Yiddish",
        "Maori",
    ]
    templates = [
        "answer in {}",
        "please use {} from now on",
        "switch to {}",
        "in {}, please",
        "no more {}",
        "don't reply in {}",
    ]
    return [t.format(w) for w in words for t in templates]


def corpus() -> list[str]:
    # Every prefix and every suffix with every phrase; a fixed sample of the full product.
    product = list(itertools.product(PREFIXES, PHRASES, SUFFIXES))
    crossed = [f"{p}{phrase}{s}" for p, phrase, s in product if not p or not s]
    crossed += [f"{p}{phrase}{s}" for p, phrase, s in product[::17]]
    combined = [
        "Call me Sam. Keep it short, answer in German and don't use emojis.",
        "Keep it short. Actually, no: more detail please.",
        "don\u2019t call me Sam, call me Samuel",
        "I\u2019d like longer answers. Reply in French.\nNo emojis!",
        "Dr. Who says: keep it short; but I want detail. be more detailed",
        "Mr. Smith told me \u201ckeep it short\u201d. Answer in Spanish please.",
        "  ",
        "?",
        "...",
        "Be brief; be detailed.",
        "Be detailed; be brief.",
    ]
    seen: dict[str, None] = {}
    for text in [
        *combined,
        *_test_sentences(),
        *_eval_messages(),
        *_language_sentences(),
        *crossed,
    ]:
        seen.setdefault(text, None)
    return list(seen)


def _updates(text: str) -> list[dict[str, Any]]:
    return [msgspec.to_builtins(u) for u in extract_preferences(text)]


def _golden() -> list[dict[str, Any]]:
    return [json.loads(line) for line in GOLDEN.read_text(encoding="utf-8").splitlines()]


def test_golden_file_covers_every_rule_outcome() -> None:
    rows = _golden()
    assert len(rows) > 5000, len(rows)
    found = {(u["key"], u["value"], u["action"]) for row in rows for u in row["updates"]}
    assert {
        ("answer_length", "short", "set"),
        ("answer_length", "detailed", "set"),
        ("preferred_name", None, "remove"),
        ("language", "German", "set"),
        ("language", None, "remove"),
        ("formality", "casual", "set"),
        ("emoji", "allowed", "set"),
        ("emoji", "none", "set"),
    } <= found
    assert sum(1 for row in rows if not row["updates"]) > 1000  # and plenty of non-statements


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("answer in dansk", "Danish"),
        ("Réponds en français, please", "French"),
        ("reply in suomi from now on", "Finnish"),
        ("switch to Türkçe", "Turkish"),
        ("answer in русский", "Russian"),
        ("answer in Klingon", None),
        ("answer in Germany", None),
    ],
)
def test_native_language_names_come_from_langcodes(text: str, value: str | None) -> None:
    """Native names are langcodes' autonyms of the table's languages, nothing more."""
    found = [u.value for u in extract_preferences(text) if u.key == "language"]
    assert found == ([value] if value else [])


@pytest.mark.parametrize("chunk", range(8))
def test_extraction_matches_the_golden_file(chunk: int) -> None:
    rows = _golden()[chunk::8]
    mismatches = [
        (row["text"], row["updates"], got)
        for row in rows
        if (got := _updates(row["text"])) != row["updates"]
    ]
    assert mismatches[:5] == [], f"{len(mismatches)} of {len(rows)} sentences changed"


if __name__ == "__main__" and sys.argv[1:] == ["--write"]:
    with GOLDEN.open("w", encoding="utf-8") as out:
        for text in corpus():
            row = {"text": text, "updates": _updates(text)}
            out.write(json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n")
    print(f"wrote {GOLDEN}")
