"""The search index: Pagefind over the public records, so search works with no server at all.

One index for the whole site: Pagefind's search skips a query word that an index lacks, so an
index split into partitions merged in the browser would answer 鸿达食品 in every partition without
鸿达 with all its pages that say 食品. The index is built on a worker while the rest of the site
is rendered, from one search document per public record (the text a reader searches, its
filters), fed to Pagefind's indexing service as custom records: no page is parsed again.

Pagefind's own Python wrapper waits a tenth of a second before reading each answer of the
service (ten records a second), so this module speaks the service's protocol itself: requests
and answers are base64 JSON, each ended by a comma, answers tagged with their request's id.
"""

from __future__ import annotations

import base64
import dataclasses
import resource
import subprocess
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

import orjson
from pagefind_bin_extended import get_executable  # type: ignore[import-untyped]

from disclosure import urls
from publishers import release

LANGUAGE = "zh-cn"  # the site's language, as Pagefind names its files

Document = dict[str, Any]  # url, content, meta, filters: one custom record of Pagefind


class SearchIndexError(RuntimeError):
    """Pagefind failed to index the site."""


@dataclasses.dataclass(frozen=True)
class Indexed:
    """What indexing wrote and cost."""

    pages: int
    seconds: float
    peak_mb: float  # peak resident memory of Pagefind
    files: dict[str, str] = dataclasses.field(default_factory=dict)  # path → digest
    written: int = 0
    kept: int = 0


def document(
    path: str, title: str, words: Sequence[str | None], filters: dict[str, str | None]
) -> Document:
    """The search document of the page at `path`: its title, the words it is found by, and its
    filter values (those that are None are left out)."""
    return {
        "url": "/" + path,
        "content": " ".join(word for word in words if word),
        "meta": {"title": title},
        "filters": {name: [value] for name, value in filters.items() if value},
    }


class _Service:
    """A running `pagefind_extended --service`: requests in, answers read on a thread."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [str(get_executable()), "--service"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        self.answers: dict[int, dict[str, Any]] = {}
        self.arrived = threading.Condition()
        self.ended = False
        self.sent = 0
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        stdout: IO[bytes] | None = self.process.stdout
        assert stdout is not None
        parts: list[bytes] = []  # of an answer not ended yet (the bundle's is 100 MB and more)
        while chunk := stdout.read1(1 << 20):  # type: ignore[attr-defined]
            if b"," not in chunk:
                parts.append(chunk)
                continue
            first, *complete, rest = chunk.split(b",")
            complete.insert(0, b"".join([*parts, first]))
            parts = [rest] if rest else []
            with self.arrived:
                for message in complete:
                    answer = orjson.loads(base64.b64decode(message))
                    self.answers[answer.get("message_id") or 0] = answer["payload"]
                self.arrived.notify_all()
        with self.arrived:
            self.ended = True
            self.arrived.notify_all()

    def send(self, payload: dict[str, Any]) -> int:
        """Send one request; returns its id."""
        self.sent += 1
        message = orjson.dumps({"message_id": self.sent, "payload": payload})
        stdin = self.process.stdin
        assert stdin is not None
        stdin.write(base64.b64encode(message) + b",")
        return self.sent

    def wait(self, up_to: int) -> dict[str, Any]:
        """The answer to request `up_to`, once every request up to it is answered."""
        assert self.process.stdin is not None
        self.process.stdin.flush()
        with self.arrived:
            while len(self.answers) < up_to and not self.ended:
                self.arrived.wait()
        errors = [a for a in self.answers.values() if a.get("type") == "Error"]
        if errors or up_to not in self.answers:
            found = errors[0].get("message") if errors else "the service ended"
            raise SearchIndexError(f"pagefind failed: {found}")
        return self.answers[up_to]

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        self.process.wait()
        self.reader.join()
        if self.process.stdout is not None:
            self.process.stdout.close()


def write_search_index(
    folder: Path, previous: Path | None, old: dict[str, str], documents: Sequence[Document]
) -> Indexed:
    """Index `documents` with Pagefind, whose extended binary segments Chinese, and write the
    bundle under search/pagefind/ of the release at `folder`; files whose digest is in `old`
    (the previous release's) are linked from `previous` instead."""
    start = time.perf_counter()
    if not documents:  # Pagefind refuses to write an empty index: a site with no record has none
        return Indexed(0, 0.0, 0.0)
    service = _Service()
    try:
        index = service.wait(service.send({"type": "NewIndex", "config": None}))["index_id"]
        for doc in documents:
            service.send({"type": "AddRecord", "index_id": index, "language": LANGUAGE, **doc})
        service.wait(service.sent)
        bundle = service.wait(service.send({"type": "GetFiles", "index_id": index}))["files"]
    finally:
        service.close()
    files: dict[str, str] = {}
    written = 0
    for file in bundle:
        path = urls.SEARCH_BUNDLE + file["path"]
        data = base64.b64decode(file["content"])
        files[path], fresh = release.write_file(folder, previous, path, data, old.get(path, ""))
        written += fresh
    # the largest child this process has waited for; Linux gives ru_maxrss in KiB
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    seconds = time.perf_counter() - start
    return Indexed(len(documents), seconds, peak, files, written, len(files) - written)
