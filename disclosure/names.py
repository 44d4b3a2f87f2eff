"""Chinese organisation names as screening compares them: one key per name, and its tokens.

Two spellings of one company (全角 or 半角, 繁体 or 简体, with or without 有限公司, with or without
the region it is registered in) have the same key; the key is what `subject.name_key` stores.
"""

from __future__ import annotations

import re

from disclosure import bigrams

# The regions a name may lead with or hold in brackets, each with the short forms names use
# (湛江某某（赤坎）有限公司): the district's own, its city's and its province's.
REGIONS: dict[str, tuple[str, ...]] = {
    "广东省": ("广东",),
    "湛江市": ("湛江",),
    "赤坎区": ("赤坎",),
}
# Legal forms a name ends with, longest first so 股份有限公司 is not read as 有限公司.
SUFFIXES = ("股份有限公司", "有限责任公司", "有限公司", "公司")
# Brackets as they read after NFKC folding (（） become ()).
_BRACKETED = re.compile(r"[(〔【\[]([^()〔〕【】\[\]]*)[)〕】\]]")
_BRACKETS = re.compile(r"[()〔〕【】\[\]]")
_SPACE = re.compile(r"\s+")
_REGION_NAMES = frozenset([*REGIONS] + [short for shorts in REGIONS.values() for short in shorts])
# Leading regions, longest first: 湛江市 before 湛江.
_LEADING = tuple(sorted(_REGION_NAMES, key=len, reverse=True))


def _without_region_brackets(text: str) -> str:
    """Brackets holding a region go with their content; other brackets leave their content."""
    kept = _BRACKETED.sub(lambda m: "" if m.group(1) in _REGION_NAMES else m.group(1), text)
    return _BRACKETS.sub("", kept)


def normalise(name: str) -> str:
    """The key of an organisation's name: folded (full-width, traditional, case), without
    spaces, region brackets, leading regions or the legal form; a name that would be left
    empty keeps its folded text."""
    folded = _SPACE.sub("", bigrams.normalize(name))
    text = _without_region_brackets(folded)
    stripped = True
    while stripped:
        stripped = False
        for suffix in SUFFIXES:
            if text.endswith(suffix):
                if len(text) > len(suffix):
                    text = text[: -len(suffix)]
                    stripped = True
                break
    stripped = True
    while stripped:
        stripped = False
        for region in _LEADING:
            if text.startswith(region) and len(text) - len(region) >= 2:
                text = text[len(region) :]
                stripped = True
                break
    return text or folded


def tokens(name: str) -> list[str]:
    """The distinct tokens of a name's key: character bigrams of its ideographs, whole runs of
    Latin letters and digits, in order."""
    found: list[str] = []
    for match in bigrams.RUNS.finditer(normalise(name)):
        run = match.group()
        if bigrams.is_cjk(run):
            found.extend(gram for _offset, gram in bigrams.grams(run, query=False))
        else:
            found.append(run)
    return list(dict.fromkeys(found))


def distance(a: str, b: str) -> int:
    """The Levenshtein distance of two strings: insertions, deletions and substitutions."""
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, left in enumerate(a, 1):
        current = [i]
        for j, right in enumerate(b, 1):
            current.append(
                min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (left != right))
            )
        previous = current
    return previous[-1]


def similarity(a: str, b: str) -> float:
    """How alike two keys are, in [0, 1]: one minus their edit distance over the longer one's
    length, each edit past the first counting double, so a one-character typo stays close
    while two names that share only part of themselves fall apart."""
    if a == b:
        return 1.0
    longest = max(len(a), len(b))
    edits = distance(a, b)
    weighted = edits if edits <= 1 else 2 * edits - 1
    return max(0.0, 1.0 - weighted / longest)
