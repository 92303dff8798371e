"""Bytes to text for text formats (HTML, Markdown, plain text).

Order of trust, strongest first: a byte-order mark (it cannot lie by accident, a <meta> tag
can: one sample file is UTF-16 with a BOM but declares utf-8), then a declared charset
that actually decodes the bytes, then strict UTF-8, then charset-normalizer's guess.
"""

from __future__ import annotations

import codecs
import re
import unicodedata

import charset_normalizer

from morgan.rag.extract.models import ErrorCode, ExtractionError

_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)

_META_CHARSET = re.compile(
    rb"""<meta[^>]{0,512}?charset\s*=\s*["']?\s*([A-Za-z0-9._:-]{1,40})""", re.IGNORECASE
)
_MIME_CHARSET = re.compile(r"charset\s*=\s*[\"']?([A-Za-z0-9._:-]{1,40})", re.IGNORECASE)

# Guesses within this much "chaos" of the best one are treated as equally plausible; among
# them the most coherent wins, and Windows-1252 wins ties (the WHATWG default for legacy
# Western pages: cp1250 decodes ñ as ń and å as ĺ with the same chaos score).
_CHAOS_TOLERANCE = 0.01
_PREFERRED_ON_TIE = ("cp1252", "utf_8", "latin_1")

_MAX_CONTROL_RATIO = 0.01


def bom_encoding(data: bytes) -> str | None:
    for bom, name in _BOMS:
        if data.startswith(bom):
            return name
    return None


def charset_from_mime(declared_mime: str | None) -> str | None:
    if not declared_mime:
        return None
    match = _MIME_CHARSET.search(declared_mime)
    return match.group(1) if match else None


def meta_charset(data: bytes) -> str | None:
    """The charset an HTML page declares in its first 4 KiB (as the HTML prescan does)."""
    match = _META_CHARSET.search(data[:4096])
    return match.group(1).decode("ascii") if match else None


def decode_text(
    data: bytes, *, declared_charset: str | None = None, look_for_meta: bool = False
) -> tuple[str, str]:
    """Return `(text, encoding)`; raise `unsupported` if the bytes are not text at all."""
    bom = bom_encoding(data)
    if bom is not None:
        text = data[len(_bom_bytes(bom)) :].decode(bom, errors="replace")
        return _checked(text, bom), bom

    candidates = [declared_charset]
    if look_for_meta:
        candidates.append(meta_charset(data))
    for charset in candidates:
        decoded = _try_decode(data, charset)
        if decoded is not None:
            return _checked(decoded, _normal_name(charset)), _normal_name(charset)

    try:
        return _checked(data.decode("utf-8"), "utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass

    text, encoding = _guess(data)
    return _checked(text, encoding), encoding


def _bom_bytes(encoding: str) -> bytes:
    return next(bom for bom, name in _BOMS if name == encoding)


def _normal_name(charset: str | None) -> str:
    return codecs.lookup(charset).name if charset else "utf-8"


def _try_decode(data: bytes, charset: str | None) -> str | None:
    if not charset:
        return None
    try:
        codec = codecs.lookup(charset)
    except LookupError:
        return None
    # A page declaring a UTF-16 charset without a BOM is, per WHATWG, really UTF-8.
    if codec.name.startswith(("utf-16", "utf-32")):
        return None
    try:
        return data.decode(codec.name)
    except UnicodeDecodeError:
        return None


def _guess(data: bytes) -> tuple[str, str]:
    matches = list(charset_normalizer.from_bytes(data))
    if matches and all(match.encoding != "cp1252" for match in matches):
        matches += list(charset_normalizer.from_bytes(data, cp_isolation=["cp1252"]))
    if not matches:
        raise ExtractionError(
            ErrorCode.UNSUPPORTED, "binary content: not a PDF, DOCX, HTML or text file"
        )
    least_chaos = min(match.chaos for match in matches)
    plausible = [match for match in matches if match.chaos <= least_chaos + _CHAOS_TOLERANCE]

    def rank(match: charset_normalizer.CharsetMatch) -> tuple[float, int]:
        preference = (
            _PREFERRED_ON_TIE.index(match.encoding)
            if match.encoding in _PREFERRED_ON_TIE
            else len(_PREFERRED_ON_TIE)
        )
        return (-round(match.coherence, 3), preference)

    best = min(plausible, key=rank)
    return str(best), _normal_name(best.encoding)


def _checked(text: str, encoding: str) -> str:
    """Reject "text" that is mostly control characters: binary data that happened to decode."""
    if not text:
        return text
    sample = text[:65536]
    suspicious = sum(
        1
        for char in sample
        if char == "\ufffd" or (unicodedata.category(char) == "Cc" and char not in "\t\n\r\f")
    )
    if suspicious / len(sample) > _MAX_CONTROL_RATIO:
        raise ExtractionError(
            ErrorCode.UNSUPPORTED,
            f"binary content: not a PDF, DOCX, HTML or text file (decoded as {encoding})",
        )
    return text.replace("\r\n", "\n").replace("\r", "\n")
