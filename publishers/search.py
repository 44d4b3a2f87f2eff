"""The search index: Pagefind over the record pages, so search works with no server at all.

The index is split into bundles, one per record kind and fixed range of record ids, so a publish
re-indexes only the bundles whose pages changed; a record never moves to another bundle as new
records arrive. Pagefind's search skips a query word that an index lacks, so the search page
(assets/search.js) searches each word alone in every bundle first and leaves out the bundles
lacking a word that another bundle has: otherwise 鸿达食品 would find, in each bundle without
鸿达, every page that says 食品. Bundles are built on workers while the rest of the site is
rendered, from the public record pages only.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import resource
import shutil
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson

from disclosure import bigrams, models, urls

# What a record page gives Pagefind to search by, besides what it shows: the bigrams of its texts
# (as the API's index has them), each spelled as a word Pagefind never cuts up: "_" and four
# letters a–p per character, the hex digits of its code point (鸿达 → _jodpkbcf). Pagefind's own
# segmentation of Chinese finds 鸿达 in none of the words it makes of 鸿达食品有限公司; and all
# spelt bigrams being alike long, Pagefind's prefix matching is an exact match. A query is
# spelt the same way by assets/search.js (`words`): a test holds the two equal.
TERM_MARK = "qz"
_LETTERS = "abcdefghijklmnop"


def spelt(gram: str) -> str:
    """A bigram (or a lone character) as the word the index holds for it."""
    return TERM_MARK + "".join(
        _LETTERS[(ord(c) >> shift) & 15] for c in gram for shift in (12, 8, 4, 0)
    )


FOLDING = "assets/search-folding.json"  # what the search page folds before it cuts a query
_IDEOGRAPHS = ((0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF))


@functools.cache
def folding_table() -> bytes:
    """The ideographs `bigrams.normalize` changes (traditional to simplified, compatibility
    forms), for the search page to fold a query as the pages were: {"pairs": "從从…"}."""
    pairs = []
    for first, last in _IDEOGRAPHS:
        for code in range(first, last + 1):
            folded = bigrams.normalize(chr(code))
            if folded != chr(code) and len(folded) == 1:
                pairs.append(chr(code) + folded)
    return orjson.dumps({"pairs": "".join(pairs)})


def _texts(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for each in value.values():
            yield from _texts(each)
    elif isinstance(value, list):
        for each in value:
            yield from _texts(each)


def page_terms(public: Any) -> str:
    """The spelt bigrams of every text of a record's public JSON, each once, for its page."""
    found: dict[str, None] = {}
    for text in _texts(public):
        for match in bigrams.RUNS.finditer(bigrams.normalize(text)):
            run = match.group()
            if bigrams.is_cjk(run):
                found.update((spelt(gram), None) for _, gram in bigrams.grams(run, query=False))
    return " ".join(found)


class SearchIndexError(RuntimeError):
    """Pagefind failed to index the site."""


# Record ids per bundle. 100,000 sample records make 11 bundles (1,000,000 about 100); a full
# bundle (10,000 public pages) re-indexes in 7-11 s with 550 MB. Twice the range halves what a
# browser loads at 1,000,000 records but doubles that, and makes a word found on most pages
# (有限公司) twice as slow to search: Pagefind's cost per matching page grows with the bundle.
RANGE = 10_000
STAGING = ".search-pages-"  # the pages to index, inside the release being built
# Pagefind's own search interfaces, which the site does not use (assets/search.js does)
UNUSED = (
    "pagefind-ui.js",
    "pagefind-ui.css",
    "pagefind-modular-ui.js",
    "pagefind-modular-ui.css",
    "pagefind-component-ui.js",
    "pagefind-component-ui.css",
    "pagefind-highlight.js",
)


@dataclasses.dataclass(frozen=True)
class Bundle:
    """The public record pages of one kind and id range, indexed together."""

    name: str
    paths: tuple[str, ...]
    key: str  # digest of its pages' paths and contents: it is re-indexed when this changes


@dataclasses.dataclass(frozen=True)
class Indexed:
    """What indexing one bundle cost."""

    pages: int
    seconds: float
    peak_mb: float  # peak resident memory of Pagefind


def plan(
    rows: Iterable[Mapping[str, Any]], digests: Mapping[str, str], size: int = RANGE
) -> dict[str, Bundle]:
    """The bundles of the public record pages `rows` (summary rows with kind, id and path), given
    each page's content digest; by kind, then first id."""
    groups: dict[tuple[str, int], list[str]] = {}
    for row in rows:
        kind = models.RecordKind(row["kind"])
        start = row["id"] - row["id"] % size
        groups.setdefault((urls.KIND_FOLDERS[kind], start), []).append(row["path"])
    bundles = {}
    for (folder, start), paths in sorted(groups.items()):
        key = hashlib.sha256()
        for path in paths:
            key.update(f"{path}\0{digests[path]}\n".encode())
        name = f"{folder}-{start}"
        bundles[name] = Bundle(name, tuple(paths), key.hexdigest())
    return bundles


def render_bundle_list(bundles: Iterable[Bundle]) -> bytes:
    """The list of bundles the search page reads: folder names under search/pagefind/, with a
    tag that changes with a bundle's pages (so browsers may cache what did not change)."""
    return orjson.dumps({"bundles": [{"name": b.name, "tag": b.key[:16]} for b in bundles]})


def write_search_index(folder: Path, name: str, paths: Sequence[str]) -> Indexed:
    """Index the public record pages `paths` (already written under `folder`) with Pagefind,
    whose extended binary segments Chinese, into bundle `name` under search/pagefind/.

    Pagefind indexes folders, so the pages are hard-linked into a staging folder first: it then
    reads these pages only, never a tombstone. The field labels (`dt`), on every page alike, are
    left out: they find nothing and cost a quarter of Pagefind's memory."""
    start = time.perf_counter()
    output = folder / urls.search_bundle_path(name)
    staging = folder / f"{STAGING}{name}"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        for path in paths:
            target = staging / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.hardlink_to(folder / path)
        command = [
            sys.executable,
            "-m",
            "pagefind",
            "--site",
            str(staging),
            "--output-path",
            str(output),
            "--exclude-selectors",
            "dt",
            "--silent",
        ]
        completed = subprocess.run(command, capture_output=True, text=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    if completed.returncode != 0:
        raise SearchIndexError(f"pagefind failed on {name}: {completed.stderr.strip()[-2000:]}")
    for unused in UNUSED:
        (output / unused).unlink(missing_ok=True)
    # the largest child this process has waited for; Linux gives ru_maxrss in KiB
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return Indexed(len(paths), time.perf_counter() - start, peak)
