"""Names of synthetic organisations that are told apart by their keys (`names.normalise`), as
real registered names are: a registry does not give two companies of one region one name.

The sample draws a name's words from its own random stream, so every other value of a sample
stays what its seed made it before names had to differ.
"""

from __future__ import annotations

import random

from disclosure import names

TRIES_PER_LENGTH = 20  # draws of n added words before trying n + 1


class Distinct:
    """Trade names made distinct: the first company of a trade word and industry keeps the
    word, the next ones add a word (鸿达 → 鸿达骏马), two when one is crowded, until their
    key is new."""

    def __init__(self, seed: int, words: list[str]) -> None:
        self.rng = random.Random(f"sample names {seed}")
        self.words = words
        self.keys: set[str] = set()

    def name(self, head: str, trade: str, tail: str) -> str:
        """`head + trade + tail`, with words added to `trade` until the name's key is new."""
        made, tries = trade, 0
        while (key := names.normalise(f"{head}{made}{tail}")) in self.keys:
            words = 1 + tries // TRIES_PER_LENGTH
            made = trade + "".join(self.rng.choice(self.words) for _ in range(words))
            tries += 1
        self.keys.add(key)
        return f"{head}{made}{tail}"
