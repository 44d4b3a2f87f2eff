"""The search index: Pagefind over the record pages, so search works with no server at all.

One index for the whole site: Pagefind's search skips a query word that an index lacks, so an
index split into partitions merged in the browser would answer 鸿达食品 in every partition without
鸿达 with all its pages that say 食品. The index is built on a worker while the rest of the site
is rendered, from the public record pages only.
"""

from __future__ import annotations

import dataclasses
import resource
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from disclosure import urls


class SearchIndexError(RuntimeError):
    """Pagefind failed to index the site."""


STAGING = ".search-pages"  # the pages to index, inside the release being built


@dataclasses.dataclass(frozen=True)
class Indexed:
    """What indexing cost."""

    pages: int
    seconds: float
    peak_mb: float  # peak resident memory of Pagefind


def write_search_index(folder: Path, paths: Sequence[str]) -> Indexed:
    """Index the public record pages `paths` (already written under `folder`) with Pagefind,
    whose extended binary segments Chinese; the bundle goes to search/pagefind/.

    Pagefind indexes folders, so the pages are hard-linked into a staging folder first: it then
    reads the public pages only, never a tombstone. The field labels (`dt`), on every page
    alike, are left out: they find nothing and cost a quarter of Pagefind's memory."""
    start = time.perf_counter()
    if not paths:  # Pagefind refuses to write an empty index: a site with no record has none
        return Indexed(0, 0.0, 0.0)
    staging = folder / STAGING
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
            str(folder / urls.SEARCH_BUNDLE),
            "--exclude-selectors",
            "dt",
            "--silent",
        ]
        completed = subprocess.run(command, capture_output=True, text=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    if completed.returncode != 0:
        raise SearchIndexError(f"pagefind failed: {completed.stderr.strip()[-2000:]}")
    # the largest child this process has waited for; Linux gives ru_maxrss in KiB
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return Indexed(len(paths), time.perf_counter() - start, peak)
