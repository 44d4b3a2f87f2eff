"""Atomic releases: each publish builds a new folder under `releases/` and then switches the
`current` symlink with one rename, so readers see the old release or the new one, never a half.

Files that did not change are hard links to the previous release's files: byte-identical and with
the same modification time, so HTTP validators (ETag, Last-Modified) stay valid across releases.
Builders (the site; feeds and bulk data later) write through a `Release`; each may keep state for
the next publish in the release's manifest.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import fcntl
import gc
import hashlib
import os
import shutil
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import orjson
from isal import igzip, isal_zlib

from disclosure import listing, urls

RELEASES = "releases"
BUILDING = ".build-"  # prefix of a release folder still being built
DEFAULT_KEEP = 5


class ReleaseError(RuntimeError):
    """A release cannot be built or switched to."""


@contextlib.contextmanager
def without_cycle_collection() -> Iterator[None]:
    """The cyclic garbage collector paused: a publish's rows, pages and manifests hold no cycles
    and go when their last reference does, yet their hundreds of thousands of dicts would set the
    collector scanning the whole heap again and again."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def digest(data: bytes) -> str:
    """The content digest the manifest keeps per file."""
    return hashlib.sha256(data).hexdigest()


def write_file(
    folder: Path, previous: Path | None, path: str, data: bytes, old_digest: str | None = None
) -> tuple[str, bool]:
    """Write `data` at `path` under `folder`, as a hard link to the previous release's file when
    that has the same bytes; returns the digest and whether new bytes were written.

    `old_digest`, when the caller knows it, spares reading the previous file."""
    new_digest = digest(data)
    target = folder / path
    target.parent.mkdir(parents=True, exist_ok=True)
    if previous is not None and old_digest in (None, new_digest):
        source = previous / path
        try:
            same = old_digest == new_digest or source.read_bytes() == data
            if same:
                os.link(source, target)
                return new_digest, False
        except FileNotFoundError:
            pass
    target.write_bytes(data)
    return new_digest, True


def link_files(
    previous: Path, folder: Path, paths: Iterable[str], made: set[str] | None = None
) -> None:
    """Hard-link `paths` of the previous release's `previous` folder into `folder`.

    `made` names the folders under `folder` known to exist (and gains those this makes): a link
    pass over 100,000 files asks the disk once per folder, not once per file."""
    made = set() if made is None else made
    source, target = f"{previous}/", f"{folder}/"
    for path in paths:
        parent = path.rpartition("/")[0]
        if parent not in made:
            os.makedirs(target + parent, exist_ok=True)
            made.add(parent)
        os.link(source + path, target + path)


@dataclasses.dataclass(frozen=True)
class Previous:
    """The release `current` points at, and what its manifest remembers."""

    id: str
    folder: Path
    manifest: dict[str, Any]

    @property
    def files(self) -> dict[str, str]:
        """Path → digest of every file of the release."""
        files: dict[str, str] = self.manifest.get("files", {})
        return files

    def beside(self, suffix: str) -> Path:
        """A file a builder kept beside the release folder (see `Release.beside`)."""
        return self.folder.parent / f"{self.id}{suffix}"

    def state(self, builder: str) -> dict[str, Any] | None:
        """What builder `builder` kept for the next publish."""
        found: dict[str, Any] | None = self.manifest.get("state", {}).get(builder)
        return found


@dataclasses.dataclass
class Release:
    """A release being built."""

    id: str
    folder: Path
    previous: Previous | None
    files: dict[str, str] = dataclasses.field(default_factory=dict)
    state: dict[str, Any] = dataclasses.field(default_factory=dict)
    written: int = 0  # files with new bytes
    kept: int = 0  # files linked unchanged from the previous release
    # Links to other outputs for the open-data page: dicts of title, path, description.
    catalogue: list[dict[str, str]] = dataclasses.field(default_factory=list)
    # folders of the release known to exist (see `link_files`)
    made: set[str] = dataclasses.field(default_factory=set, repr=False)

    def beside(self, suffix: str) -> Path:
        """Where a builder keeps a file of its own for the next publish, beside the release
        folder (never served): `<id><suffix>`, which goes when the release goes."""
        return self.folder.parent / f"{self.id}{suffix}"

    def old_digest(self, path: str) -> str | None:
        return self.previous.files.get(path) if self.previous is not None else None

    def write(self, path: str, data: bytes | str) -> bool:
        """Write one file of the release; returns whether new bytes were written."""
        raw = data.encode() if isinstance(data, str) else data
        previous = self.previous.folder if self.previous is not None else None
        self.files[path], fresh = write_file(
            self.folder, previous, path, raw, self.old_digest(path) or ""
        )
        self.record(fresh)
        return fresh

    def record(self, fresh: bool) -> None:
        """Count a file written (fresh) or kept by someone else on this release's behalf."""
        if fresh:
            self.written += 1
        else:
            self.kept += 1

    def keep(self, path: str) -> None:
        """Carry `path` over unchanged from the previous release."""
        self.keep_all((path,))

    def keep_all(self, paths: Iterable[str]) -> None:
        """Carry `paths` over unchanged from the previous release, as hard links."""
        kept = self.carry(paths)
        if kept:
            assert self.previous is not None
            link_files(self.previous.folder, self.folder, kept, self.made)

    def carry(self, paths: Iterable[str]) -> list[str]:
        """Take `paths` in as carried over unchanged from the previous release, for the caller
        to link with `link_files` (in a worker process, say) before the builder returns;
        returns them."""
        old = self.previous.files if self.previous is not None else {}
        carried = list(paths)
        for path in carried:
            if path not in old:
                raise ReleaseError(f"{path} is not in the previous release: it must be rendered")
            self.files[path] = old[path]
        self.kept += len(carried)
        return carried

    def settle(self, path: str, new_digest: str) -> bool:
        """Take in one file a builder streamed to `path` itself (too big to hold in memory),
        linking the previous release's file when it has the same digest; returns whether new
        bytes were written."""
        self.files[path] = new_digest
        fresh = not (self.previous is not None and self.old_digest(path) == new_digest)
        if not fresh:
            assert self.previous is not None
            target = self.folder / path
            target.unlink()
            os.link(self.previous.folder / path, target)
        self.record(fresh)
        return fresh

    def adopt(self, under: str) -> None:
        """Take in files a tool wrote under `under` itself, linking those that did not change."""
        base = self.folder / under
        for file in sorted(base.rglob("*")):
            if not file.is_file():
                continue
            path = str(file.relative_to(self.folder))
            data = file.read_bytes()
            new_digest = digest(data)
            self.files[path] = new_digest
            if self.previous is not None and self.old_digest(path) == new_digest:
                file.unlink()
                os.link(self.previous.folder / path, file)
                self.kept += 1
            else:
                self.written += 1


# A builder writes its part of a release. One that returns an iterator (a generator function)
# runs to its first `yield` in its turn, lets the builders after it run (its workers busy
# meanwhile), and finishes after them.
Builder = Callable[[Release], Generator[None, None, None] | None]


def release_folder(out: Path, release_id: str) -> Path:
    return out / RELEASES / release_id


def manifest_path(out: Path, release_id: str) -> Path:
    """Where a release's manifest lives: beside its folder, so it is never served."""
    return out / RELEASES / f"{release_id}.manifest.json.gz"


def current_id(out: Path) -> str | None:
    """The id of the release `current` points at, if any."""
    link = out / urls.CURRENT
    return link.resolve().name if link.is_symlink() else None


def current(out: Path) -> Previous | None:
    """The release `current` points at, if any."""
    link = out / urls.CURRENT
    if not link.is_symlink():
        return None
    folder = link.resolve()
    path = manifest_path(out, folder.name)
    manifest = {}
    if path.exists():
        with without_cycle_collection():
            manifest = orjson.loads(isal_zlib.decompress(path.read_bytes(), 31))  # gzip
    return Previous(folder.name, folder, manifest)


def new_id(out: Path, now: dt.datetime) -> str:
    """A release id that sorts by time and is not taken yet."""
    base = now.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    candidate, n = base, 1
    while (out / RELEASES / candidate).exists():
        n += 1
        candidate = f"{base}-{n}"
    return candidate


@contextlib.contextmanager
def _locked(out: Path) -> Iterator[None]:
    """One publisher at a time per output folder."""
    out.mkdir(parents=True, exist_ok=True)
    with open(out / ".publish.lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as error:
            raise ReleaseError(f"another publish into {out} is running") from error
        yield


def _remove_unfinished(out: Path) -> None:
    """Folders of publishes that failed or were killed: never live, safe to delete."""
    for stale in (out / RELEASES).glob(BUILDING + "*"):
        if stale.is_dir():
            shutil.rmtree(stale)
        else:
            stale.unlink()
    # the files beside a release (manifest, listing, builders' own) are named <id>.<suffix>
    for orphan in (out / RELEASES).glob("*.*"):
        if orphan.is_file() and not (out / RELEASES / orphan.name.partition(".")[0]).is_dir():
            orphan.unlink()


def _remove_beside(out: Path, release_id: str) -> None:
    for path in (out / RELEASES).glob(f"{release_id}.*"):
        if path.is_file():
            path.unlink()


def switch(out: Path, release_id: str) -> None:
    """Point `current` at a release with one rename (a symlink swap that readers never miss)."""
    temporary = out / f".{urls.CURRENT}-{release_id}"
    with contextlib.suppress(FileNotFoundError):
        temporary.unlink()
    temporary.symlink_to(Path(RELEASES) / release_id, target_is_directory=True)
    os.replace(temporary, out / urls.CURRENT)


def releases(out: Path) -> list[str]:
    """Finished releases, oldest first."""
    folder = out / RELEASES
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def prune(out: Path, keep: int) -> list[str]:
    """Delete all but the newest `keep` releases (never the live one); returns those deleted."""
    live = current_id(out)
    finished = releases(out)
    doomed = [r for r in finished[: max(0, len(finished) - keep)] if r != live]
    for release_id in doomed:
        shutil.rmtree(release_folder(out, release_id))
        _remove_beside(out, release_id)
    return doomed


def publish(
    out: Path,
    builders: Sequence[tuple[str, Builder]],
    *,
    now: dt.datetime,
    keep: int = DEFAULT_KEEP,
    manifest: dict[str, Any] | None = None,
) -> Release:
    """Build a release with `builders` (name, builder) in order, then make it current.

    Until the final rename nothing a reader sees changes: a failure or a kill leaves `current`
    on the previous release, and the next publish deletes the unfinished folder."""
    with _locked(out):
        (out / RELEASES).mkdir(parents=True, exist_ok=True)
        _remove_unfinished(out)
        release_id = new_id(out, now)
        building = out / RELEASES / f"{BUILDING}{release_id}"
        building.mkdir()
        release = Release(release_id, building, current(out))
        waiting: list[Generator[None, None, None]] = []
        try:
            for name, build in builders:
                release.state.setdefault(name, {})
                started = build(release)
                if started is not None:
                    next(started, None)
                    waiting.append(started)
            for started in waiting:
                for _ in started:
                    pass
            document = {
                **(manifest or {}),
                "id": release_id,
                "files": release.files,
                "state": release.state,
            }
            # ISA-L's level 1: the manifest of 100,000 records (60 MB of JSON) is written on
            # every publish and read once, in a fifth of the time zlib takes
            manifest_path(out, release_id).write_bytes(
                igzip.compress(
                    orjson.dumps(document, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS),
                    compresslevel=1,
                    mtime=0,
                )
            )
            final = release_folder(out, release_id)
            listing.write(listing.path_for(final), release.files)  # what the node may serve
            os.rename(building, final)
            release.folder = final
        except BaseException as error:
            for started in waiting:
                started.close()  # it stops its workers before its folder goes
            shutil.rmtree(building, ignore_errors=True)
            _remove_beside(out, release_id)
            if isinstance(error, OSError):  # disk full, file too large, permissions
                raise ReleaseError(
                    f"release {release_id} not published, `{urls.CURRENT}` still points at the "
                    f"previous one: {error.strerror or error}"
                ) from error
            raise
        switch(out, release_id)
        prune(out, keep)
        return release
