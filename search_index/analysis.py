"""Chinese text analysis for the index: overlapping character bigrams.

whoosh pickles the analyzer into every index it builds, so this module's path and class names
are part of the index format: rename them and old indexes no longer open.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterator
from typing import Any

import opencc
from whoosh.analysis import Token, Tokenizer

# Runs of CJK ideographs, and runs of Latin letters or digits (credit codes, numbers, words).
_RUNS = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+|[0-9a-z]+")


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


class BigramTokenizer(Tokenizer):  # type: ignore[misc]
    """CJK runs become character bigrams; Latin and digit runs stay whole tokens."""

    def __call__(
        self,
        value: str,
        positions: bool = False,
        chars: bool = False,
        keeporiginal: bool = False,
        removestops: bool = True,
        start_pos: int = 0,
        start_char: int = 0,
        tokenize: bool = True,
        mode: str = "",
        **kwargs: Any,
    ) -> Iterator[Token]:
        token = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        position = start_pos
        for match in _RUNS.finditer(normalize(value)):
            run = match.group()
            pieces = grams(run, query=mode == "query") if run[0] > "\u3000" else [(0, run)]
            for offset, text in pieces:
                token.text = text
                token.boost = 1.0
                token.stopped = False
                if keeporiginal:
                    token.original = text
                if positions:
                    token.pos = position
                    position += 1
                if chars:
                    token.startchar = start_char + match.start() + offset
                    token.endchar = token.startchar + len(text)
                yield token


def analyzer() -> BigramTokenizer:
    """The analyzer of every text field."""
    return BigramTokenizer()


def terms(text: str) -> list[str]:
    """The distinct query terms of `text`, in order."""
    return list(dict.fromkeys(token.text for token in analyzer()(text, mode="query")))
