"""Whitespace and typography clean-up shared by all extractors.

Retrieval compares words, so presentation artefacts (ligature glyphs, hyphenation at line
ends, runs of spaces from justified text) are removed; line and paragraph breaks stay,
because chunking uses them as boundaries.
"""

from __future__ import annotations

import re

_LIGATURES = str.maketrans(
    {
        "\ufb00": "ff",
        "\ufb01": "fi",
        "\ufb02": "fl",
        "\ufb03": "ffi",
        "\ufb04": "ffl",
        "\ufb05": "st",
        "\ufb06": "st",
        "\u00a0": " ",
        "\u2002": " ",
        "\u2003": " ",
        "\u2009": " ",
        "\u200b": "",
        "\u00ad": "",  # soft hyphen
        "\x00": "",
    }
)

# "dan- \ngerous" -> "dangerous": a hyphen at a line end followed by a lower-case letter.
_HYPHENATED = re.compile(r"(\w)-[ \t]*\n[ \t]*(?=[a-zäöüßàâçéèêëîïôûùüÿñæœ])")
_SPACES = re.compile(r"[ \t\f\v]+")
# C0/C1 controls other than tab and newline: undecodable glyphs from symbol fonts.
_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f]")
_TRAILING = re.compile(r"[ \t]+\n")
_LEADING = re.compile(r"\n[ \t]+")
_BLANK_LINES = re.compile(r"\n{3,}")


def tidy(text: str, *, join_hyphenation: bool = False) -> str:
    text = _CONTROLS.sub(" ", text.translate(_LIGATURES))
    if join_hyphenation:
        text = _HYPHENATED.sub(r"\1", text)
    text = _SPACES.sub(" ", text)
    text = _TRAILING.sub("\n", text)
    text = _LEADING.sub("\n", text)
    text = _BLANK_LINES.sub("\n\n", text)
    return text.strip()


def tidy_preformatted(text: str) -> str:
    """For code blocks: keep indentation, drop only trailing spaces and blank-line runs."""
    text = _CONTROLS.sub(" ", text.translate(_LIGATURES))
    text = _TRAILING.sub("\n", text)
    text = _BLANK_LINES.sub("\n\n", text)
    return text.strip("\n")
