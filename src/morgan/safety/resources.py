"""Where to get help now, per locale: the emergency number and a crisis line.

The locale is a setting (`MORGAN_SAFETY_LOCALE`, `[safety] locale`). Empty means the
international list, which names the numbers of the most common English-speaking regions and
findahelpline.com for everyone else. A region code Morgan has no entry for (e.g. `JP`) gets
"your local emergency number" plus findahelpline.com, which lists lines by country. Only
numbers that are well established nationally are listed here.
"""

from __future__ import annotations

import re

import msgspec

FIND_A_HELPLINE = "findahelpline.com"


class HelpResources(msgspec.Struct, frozen=True, kw_only=True):
    """The words the safety response uses to point to help, and what the check looks for.

    `emergency` and `crisis` are complete phrases ("call 911", "call or text 988 ...");
    `numbers` are every phone number and address the text may contain.
    """

    locale: str
    emergency: str
    crisis: str
    numbers: tuple[str, ...]

    @property
    def required_emergency(self) -> tuple[str, ...]:
        """At least one of these must appear: the emergency numbers (or the generic phrase)."""
        found = tuple(n for n in self.numbers if n in self.emergency)
        return found or ("local emergency number",)

    @property
    def required_crisis(self) -> tuple[str, ...]:
        """At least one of these must appear: a crisis line number or the helpline directory."""
        return tuple(n for n in self.numbers if n in self.crisis) or (FIND_A_HELPLINE,)


_INTERNATIONAL = HelpResources(
    locale="international",
    emergency=(
        "call your local emergency number: 911 in the US and Canada, 999 or 112 in the UK and "
        "Ireland, 112 in the EU, 000 in Australia"
    ),
    crisis=(
        "988 (call or text) in the US and Canada, Samaritans on 116 123 in the UK and Ireland, "
        f"Lifeline on 13 11 14 in Australia, or {FIND_A_HELPLINE} for other countries"
    ),
    numbers=("911", "999", "112", "000", "988", "116 123", "13 11 14", FIND_A_HELPLINE),
)


def _one(locale: str, emergency: str, crisis: str, numbers: tuple[str, ...]) -> HelpResources:
    return HelpResources(
        locale=locale, emergency=emergency, crisis=crisis, numbers=(*numbers, FIND_A_HELPLINE)
    )


_NORTH_AMERICA = ("call 911", "the 988 Lifeline (call or text 988)", ("911", "988"))
_UK_IE = ("call 999 or 112", "Samaritans on 116 123 (free)", ("999", "112", "116 123"))
_DIRECTORY = f"{FIND_A_HELPLINE} lists the lines for your country"
_BY_REGION: dict[str, HelpResources] = {
    "US": _one("US", *_NORTH_AMERICA),
    "CA": _one("CA", *_NORTH_AMERICA),
    "GB": _one("GB", *_UK_IE),
    "IE": _one("IE", *_UK_IE),
    "AU": _one("AU", "call 000", "Lifeline on 13 11 14", ("000", "13 11 14")),
    "NZ": _one("NZ", "call 111", "the Need to Talk line (call or text 1737)", ("111", "1737")),
    "DE": _one(
        "DE", "call 112", "TelefonSeelsorge on 0800 111 0 111 (free)", ("112", "0800 111 0 111")
    ),
    "FR": _one("FR", "call 112", "the national prevention line on 3114", ("112", "3114")),
    "NL": _one(
        "NL", "call 112", "113 Zelfmoordpreventie on 113 or 0800-0113", ("112", "113", "0800-0113")
    ),
}
# EU members without an entry above, plus EEA / Switzerland, which also answer on 112.
_EU = frozenset(
    {
        "AT",
        "BE",
        "BG",
        "HR",
        "CY",
        "CZ",
        "DK",
        "EE",
        "FI",
        "GR",
        "HU",
        "IT",
        "LV",
        "LT",
        "LU",
        "MT",
        "PL",
        "PT",
        "RO",
        "SK",
        "SI",
        "ES",
        "SE",
        "IS",
        "NO",
        "CH",
        "LI",
    }
)
_INTERNATIONAL_NAMES = frozenset({"", "INTERNATIONAL", "INTL", "DEFAULT"})
_LOCALE = re.compile(r"^(?:[a-z]{2,3}[_-])?([a-z]{2}|eu|uk)(?:\.[\w-]+)?$", re.IGNORECASE)


class UnknownLocale(ValueError):
    """The locale setting is not a region code, a language_REGION tag or `international`."""


def region_of(locale: str) -> str:
    """`en_GB.UTF-8`, `en-GB`, `gb`, `UK` -> `GB`; empty or `international` -> ``."""
    value = locale.strip()
    if value.upper() in _INTERNATIONAL_NAMES:
        return ""
    match = _LOCALE.match(value)
    if match is None:
        raise UnknownLocale(
            f"safety locale {locale!r} is not a region: use a code such as US, GB, DE, en_AU, "
            "or leave it empty for the international list"
        )
    region = match.group(1).upper()
    return "GB" if region == "UK" else region


def resources_for(locale: str) -> HelpResources:
    """The help resources for a locale setting; raises UnknownLocale on a malformed value."""
    region = region_of(locale)
    if not region:
        return _INTERNATIONAL
    if region in _BY_REGION:
        return _BY_REGION[region]
    if region == "EU" or region in _EU:
        return _one(region, "call 112", _DIRECTORY, ("112",))
    return HelpResources(
        locale=region,
        emergency="call your local emergency number",
        crisis=_DIRECTORY,
        numbers=(FIND_A_HELPLINE,),
    )
