"""The search index: Pagefind over the record pages, so search works with no server at all."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from disclosure import urls


class SearchIndexError(RuntimeError):
    """Pagefind failed to index the site."""


def write_search_index(folder: Path) -> None:
    """Index the record pages of the release in `folder` with Pagefind (its extended binary
    segments Chinese); the bundle goes to search/pagefind/. Tombstones carry no
    `data-pagefind-body`, so Pagefind leaves them out."""
    command = [
        sys.executable,
        "-m",
        "pagefind",
        "--site",
        str(folder),
        "--glob",
        "records/**/*.html",
        "--output-subdir",
        urls.SEARCH_BUNDLE.rstrip("/"),
        "--silent",
    ]
    completed = subprocess.run(command, capture_output=True, text=True)
    if completed.returncode != 0:
        raise SearchIndexError(f"pagefind failed: {completed.stderr.strip()[-2000:]}")
