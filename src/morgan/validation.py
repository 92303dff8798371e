"""One set of input rules for every edge: JSON bodies, query strings, form fields, filenames.

PostgreSQL refuses NUL bytes, lone surrogates and over-long VARCHARs that SQLite stores
without complaint, so the rules live here and run before storage sees a value: both
databases then behave the same, and bad input gets a 400 that names the field instead of a
500 from the driver. The msgspec structs at the API edge call these from `__post_init__`.
"""

from __future__ import annotations

import re

MAX_OFFSET = 1_000_000_000
"""Largest list offset: far beyond any real list, far inside BIGINT on both databases."""

MAX_FILENAME = 512
"""`documents.filename` and `ingestion_jobs.filename` are VARCHAR(512)."""
MAX_SOURCE = 1024
"""`documents.source` is VARCHAR(1024)."""
MAX_TITLE = 300
"""`conversations.title` is VARCHAR(300)."""
MAX_MESSAGE = 32_000
MAX_COMMENT = 4000
MAX_FEEDBACK_ID = 128
"""`feedback.feedback_key` is VARCHAR(128)."""
MAX_MODEL_NAME = 200
MAX_TRANSCRIPT_MESSAGES = 500
"""Messages in one OpenAI request: the unknown ones are imported as rows, so they are capped."""
MAX_ANALYZE_TEXT = 8000

# Tab, LF and CR are text; every other C0 control and DEL is not. Lone surrogates cannot be
# encoded as UTF-8, which PostgreSQL requires.
_BAD_MULTILINE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
_BAD_SINGLE_LINE = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff]")


class InvalidInput(ValueError):
    """A value broke an edge rule; the message names the field and the rule."""


def check_text(
    field: str, value: str, *, max_length: int, multiline: bool = True, required: bool = False
) -> str:
    """`value` unchanged when it obeys the rules, else `InvalidInput` saying which one."""
    if len(value) > max_length:
        raise InvalidInput(f"{field} is longer than {max_length} characters ({len(value)})")
    if required and not value.strip():
        raise InvalidInput(f"{field} must not be empty")
    bad = (_BAD_MULTILINE if multiline else _BAD_SINGLE_LINE).search(value)
    if bad is not None:
        char = bad.group()
        what = "a NUL byte" if char == "\x00" else f"the control character U+{ord(char):04X}"
        if "\ud800" <= char <= "\udfff":
            what = f"an unpaired surrogate U+{ord(char):04X}"
        raise InvalidInput(f"{field} contains {what} at position {bad.start()}")
    return value


def check_optional(
    field: str, value: str | None, *, max_length: int, multiline: bool = False
) -> None:
    if value is not None:
        check_text(field, value, max_length=max_length, multiline=multiline)


def check_filename(filename: str) -> str:
    return check_text("filename", filename, max_length=MAX_FILENAME, multiline=False, required=True)


def check_source(source: str) -> str:
    return check_text("source", source, max_length=MAX_SOURCE, multiline=False, required=True)
