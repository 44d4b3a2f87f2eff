"""Chinese text analysis for the index: overlapping character bigrams.

whoosh pickles the analyzer into every index it builds, so this module's path and class names
are part of the index format: rename them and old indexes no longer open.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from whoosh.analysis import Token, Tokenizer

from disclosure.bigrams import grams, normalize, pieces, tokens

__all__ = ["BigramTokenizer", "analyzer", "grams", "normalize", "terms"]


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
        for offset, text in pieces(value, query=mode == "query"):
            token.text = text
            token.boost = 1.0
            token.stopped = False
            if keeporiginal:
                token.original = text
            if positions:
                token.pos = position
                position += 1
            if chars:
                token.startchar = start_char + offset
                token.endchar = token.startchar + len(text)
            yield token


def analyzer() -> BigramTokenizer:
    """The analyzer of every text field."""
    return BigramTokenizer()


def terms(text: str) -> list[str]:
    """The distinct query terms of `text`, in order."""
    return list(dict.fromkeys(tokens(text, query=True)))
