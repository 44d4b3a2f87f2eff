"""The rule of Chinese text search, shared by the API's index and the site's: text normalized,
then each run of ideographs cut into character bigrams (Latin and digit runs stay whole)."""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterator

import opencc

# Runs of CJK ideographs, and runs of Latin letters or digits (credit codes, numbers, words).
RUNS = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+|[0-9a-z]+")


@functools.cache
def _converter() -> opencc.OpenCC:
    return opencc.OpenCC("t2s")


def normalize(text: str) -> str:
    """Text as it is indexed and queried: full-width to half-width, traditional to simplified,
    lower case; character for character, so offsets into the original stay valid."""
    folded = unicodedata.normalize("NFKC", text)
    if len(folded) != len(text):  # a character that folds into several: fold one by one
        folded = "".join(c if len(n := unicodedata.normalize("NFKC", c)) != 1 else n for c in text)
    simplified = str(_converter().convert(folded))
    if len(simplified) != len(folded):
        simplified = "".join(c if len(s := _converter().convert(c)) != 1 else s for c in folded)
    return simplified.lower()


def is_cjk(run: str) -> bool:
    """Whether a run of `RUNS` is of ideographs (else Latin letters or digits)."""
    return run[0] > "\u3000"


def grams(run: str, *, query: bool) -> Iterator[tuple[int, str]]:
    """(offset, bigram) pairs of a CJK run. Indexing overlaps them (赤坎区 → 赤坎 坎区); a query
    steps by two, plus the last pair, so a concatenated query (赤坎食品) needs no 坎食."""
    if len(run) < 3:
        yield 0, run
        return
    step = 2 if query else 1
    last = len(run) - 2
    for offset in range(0, last + 1, step):
        yield offset, run[offset : offset + 2]
    if query and last % 2:
        yield last, run[last:]


def pieces(text: str, *, query: bool) -> Iterator[tuple[int, str]]:
    """(offset into `text`, token) of every token of `text`: bigrams of its CJK runs (see
    `grams`), its Latin and digit runs whole; the one rule of what a search matches."""
    for match in RUNS.finditer(normalize(text)):
        run = match.group()
        if is_cjk(run):
            for offset, gram in grams(run, query=query):
                yield match.start() + offset, gram
        else:
            yield match.start(), run


def tokens(text: str, *, query: bool = False) -> list[str]:
    """The tokens of `text` in order: as indexed, or (`query`) as a query asks for them."""
    return [token for _offset, token in pieces(text, query=query)]
