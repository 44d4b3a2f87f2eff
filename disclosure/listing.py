"""The files of a published release, listed beside it (`releases/<id>.files`): a node serves
what the listing names and nothing else, so a file that reached a release folder by any other way
(a `.env` copied in, an editor's backup, a leftover of a tool) is not the site's and answers 404.

The listing is the release's paths in byte order, one per line in UTF-8. A node looks a path up
by binary search over a memory map of the file: a million files cost it no memory and a few
page reads, and releases never change once published, so a map stays valid for its release.
"""

from __future__ import annotations

import mmap
import os
from collections.abc import Iterable
from pathlib import Path

SUFFIX = ".files"


def path_for(release_folder: Path) -> Path:
    """Where a release's listing lives: beside its folder, so it is never served."""
    return release_folder.with_name(release_folder.name + SUFFIX)


def write(path: Path, paths: Iterable[str]) -> None:
    """The listing of `paths`, written whole (to a temporary name, then renamed)."""
    encoded = sorted({p.encode() for p in paths})
    if any(b"\n" in p or not p for p in encoded):
        raise ValueError("a release path is empty or holds a line break")
    temporary = path.with_name(path.name + ".tmp")
    with temporary.open("wb") as file:
        file.write(b"".join(p + b"\n" for p in encoded))
        file.flush()
        os.fsync(file.fileno())
    os.replace(temporary, path)


class Listing:
    """A release's listing, open for lookups."""

    def __init__(self, path: Path) -> None:
        with path.open("rb") as file:
            size = os.fstat(file.fileno()).st_size
            self._map = mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) if size else None

    def __contains__(self, relative: object) -> bool:
        if not isinstance(relative, str) or "\n" in relative or self._map is None:
            return False
        wanted = relative.encode()
        data = self._map
        low, high = 0, len(data)  # the answer's line starts in [low, high)
        while low < high:
            middle = (low + high) // 2
            start = data.rfind(b"\n", 0, middle) + 1  # the line that holds `middle`
            end = data.find(b"\n", start)
            line = data[start:end]
            if line == wanted:
                return True
            if line < wanted:
                low = end + 1
            else:
                high = start
        return False

    def close(self) -> None:
        if self._map is not None:
            self._map.close()


def open_listing(release_folder: Path) -> Listing | None:
    """The listing of a release, or None for a release published before listings were written
    (its node falls back to refusing dotfiles and paths out of the folder)."""
    try:
        return Listing(path_for(release_folder))
    except FileNotFoundError:
        return None
