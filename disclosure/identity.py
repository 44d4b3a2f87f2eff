"""A natural person's numbers in text: identity numbers in any spelling a clerk types, and
mobile numbers, found and masked (`privacy.scrub` is the public door)."""

from __future__ import annotations

import datetime as dt
import re

from stdnum.cn import ric

# Digits as people type them: half-width or full-width.
_HALF = str.maketrans({c: c - 0xFEE0 for c in range(0xFF10, 0xFF1A)} | {0xFF38: "X", 0xFF58: "X"})
_D = "[0-9\uff10-\uff19]"
# Between two digits: spaces, a hyphen or a dot, as in 440802 19850317 1237 or 440802-1985-….
# Atomic: a separator is read one way only, so a near miss costs no backtracking.
_SEP = "(?>[ \u3000]{0,2}[-\uff0d.\uff0e\u00b7]?[ \u3000]{0,2})"
# 17 digits and a check character, split or not; letters may touch it (ID…, sfz…, No.…), digits
# may not (it would be part of a longer number: a bank card, an account).
_ID18 = re.compile(
    rf"(?<![0-9\uff10-\uff19]){_D}(?:{_SEP}{_D}){{16}}{_SEP}[0-9\uff10-\uff19XxＸｘ](?!{_D})"
)
# An old 15-digit number, written in one piece and standing alone.
_ID15 = re.compile(rf"(?<![0-9A-Za-z\uff10-\uff19]){_D}{{15}}(?![0-9A-Za-z\uff10-\uff19])")
# A mainland mobile number, with or without +86, in one piece or 3-4-4.
_MOBILE = re.compile(
    rf"(?<![0-9\uff10-\uff19+])(?:\+?86[ -]?)?1[3-9]{_D}[ -]?{_D}{{4}}[ -]?{_D}{{4}}(?!{_D})"
)
_SEPARATOR = re.compile(r"[^0-9Xx]")
_LETTER_OR_DIGIT = re.compile(r"[0-9A-Za-z]")
# What every such number holds: 11 digits with at most separators between them. Looked for first,
# since most texts have none and the search takes a third of the time of the full scrub.
_DIGIT_RUN = re.compile(rf"{_D}(?:[ \u3000\-\uff0d.\uff0e\u00b7]{{0,5}}{_D}){{10}}")


def mask_id_number(number: str) -> str:
    """An identity number with only its first 6 and last 4 characters kept."""
    number = number.strip()
    if len(number) <= 10:
        return "*" * len(number)
    return number[:6] + "*" * (len(number) - 10) + number[-4:]


def _born(year: str, month: str, day: str) -> bool:
    try:
        born = dt.date(int(year), int(month), int(day))
    except ValueError:
        return False
    return 1900 <= born.year <= 2099


def _id18(match: re.Match[str]) -> str:
    """The masked form of an 18-character candidate, or the text as it was.

    Written in one piece and standing alone, a birth date where an identity number has one is
    enough (a mistyped number still tells a birth date). Split, or glued to letters, it is only
    taken for a number when its check digit is right: such spellings are also how other codes
    are written."""
    text = match[0]
    number = _SEPARATOR.sub("", text.translate(_HALF)).upper()
    before = match.string[match.start() - 1 : match.start()]
    after = match.string[match.end() : match.end() + 1]
    alone = (
        len(text) == 18
        and not _LETTER_OR_DIGIT.match(before + " ")
        and not (_LETTER_OR_DIGIT.match(after + " "))
    )
    if alone:
        return mask_id_number(number) if _born(number[6:10], number[10:12], number[12:14]) else text
    return mask_id_number(number) if ric.is_valid(number) else text


def _id15(match: re.Match[str]) -> str:
    number = match[0].translate(_HALF)
    return (
        mask_id_number(number)
        if _born("19" + number[6:8], number[8:10], number[10:12])
        else match[0]
    )


def _mobile(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match[0].translate(_HALF))[-11:]
    return digits[:3] + "****" + digits[-4:]


def scrub(text: str | None, *, person: bool = False) -> str | None:
    """Free text with every identity number in it masked, in any spelling; with `person` (the
    text is about a natural person), mobile numbers too."""
    if not text or _DIGIT_RUN.search(text) is None:
        return text
    text = _ID15.sub(_id15, _ID18.sub(_id18, text))
    return _MOBILE.sub(_mobile, text) if person else text
