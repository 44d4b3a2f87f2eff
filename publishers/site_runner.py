"""The site's work shared out: record pages in batches, derived pages with their data files in
chunks, and links of unchanged files, run here or over a pool of worker processes forked from a
server that imported the site once.
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import multiprocessing.forkserver
import os
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

from sqlmodel import Session

from publishers import page_data, records, release, render

PAGE_BATCH = 100  # derived pages per batch sent to a worker (or rendered here)
LINK_BATCH = 20_000  # unchanged files per batch of links sent to a worker
T = TypeVar("T")
# a derived page to render: its path, template, context and data files (None: it has none)
Item = tuple[str, str, dict[str, Any], page_data.Spec | None]


def render_many(
    folder: Path, previous: Path | None, lines: Path | None, items: list[Item]
) -> tuple[dict[str, str], int, int]:
    """Render and write derived pages and their data files (in a worker process or here), the
    data from the `page_data.Lines` store at `lines`."""
    files, written, kept = {}, 0, 0
    store = page_data.Lines(lines) if lines is not None else None
    try:
        for path, template, context, spec in items:
            made = {path: render.render_page(template, **context).encode()}
            if spec is not None:
                if store is None:
                    raise ValueError(f"{path} has data files but the publish keeps no data lines")
                made.update(page_data.render(spec, store))
            for made_path, data in made.items():
                files[made_path], fresh = release.write_file(folder, previous, made_path, data)
                written, kept = written + fresh, kept + (not fresh)
    finally:
        if store is not None:
            store.close()
    return files, written, kept


def forkserver(imports: Iterable[str]) -> multiprocessing.context.BaseContext:
    """Where the workers come from: a server process that imported the site once (and
    `imports`), and forks each worker from itself. A spawned worker would import everything
    again (a second each, as much as an incremental publish gives it to do); a plain fork would
    copy this process's threads and connections."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["__main__", "publishers.site", __name__, *imports])
    return context


def _end_with_parent() -> None:
    """Set a worker to end when the publishing process does, killed say: its task queue would
    keep it waiting, and with it the server it forked from and whoever reads their output."""
    parent = multiprocessing.parent_process()
    assert parent is not None
    threading.Thread(target=_exit_after, args=(parent,), daemon=True).start()


def _exit_after(parent: multiprocessing.process.BaseProcess) -> None:
    parent.join()
    os._exit(1)


class Runner:
    """Runs batches here or over a process pool (`workers` > 1 with a `database_url` for them
    to connect to), merging what they return."""

    def __init__(
        self,
        session: Session,
        *,
        workers: int = 1,
        database_url: str | None = None,
        imports: Iterable[str] = (),
        lines: Path | None = None,
    ) -> None:
        self.session = session
        self.url = database_url
        self.lines = lines
        self.workers = 1
        self.pool: concurrent.futures.ProcessPoolExecutor | None = None
        self.linking: list[concurrent.futures.Future[None]] = []
        if workers > 1 and database_url is not None:
            self.pool = concurrent.futures.ProcessPoolExecutor(
                workers, mp_context=forkserver(imports), initializer=_end_with_parent
            )
            self.workers = workers

    def records(
        self, batches: Iterable[records.Batch], target: records.Target
    ) -> Callable[[], records.Rendered]:
        """Start rendering record pages; returns what waits for them and merges them."""
        if self.pool is None or self.url is None:
            futures = [self.submit(records.render_batch, self.session, b, target) for b in batches]
        else:
            futures = [self.pool.submit(records.run_batch, self.url, b, target) for b in batches]

        def finish() -> records.Rendered:
            done = records.Rendered()
            for future in futures:
                done.merge(future.result())
            return done

        return finish

    def submit(self, fn: Callable[..., T], *args: Any) -> concurrent.futures.Future[T]:
        """Run `fn(*args)` on the pool, or here at once when there is none."""
        if self.pool is not None:
            return self.pool.submit(fn, *args)
        done: concurrent.futures.Future[T] = concurrent.futures.Future()
        done.set_result(fn(*args))
        return done

    def _chunks(self, items: list[T], most: int) -> list[list[T]]:
        # at least a few chunks per worker, so that none waits long for the last
        size = max(1, min(most, -(-len(items) // (self.workers * 4))))
        return [items[i : i + size] for i in range(0, len(items), size)]

    def pages(self, rel: release.Release, items: list[Item]) -> Callable[[], None]:
        """Start rendering derived pages with their data files; returns what renders those no
        worker has started, here, then waits for the others and takes them all in."""
        previous = rel.previous.folder if rel.previous is not None else None
        chunks = self._chunks(items, PAGE_BATCH)
        futures = [
            self.submit(render_many, rel.folder, previous, self.lines, chunk) for chunk in chunks
        ]

        def finish() -> None:
            done = []
            # a page sent to a worker is pickled there and back, for half the time it takes to
            # render: rather than wait, this process renders the pages the workers have not
            # taken yet, the last first
            for chunk, future in zip(reversed(chunks), reversed(futures), strict=True):
                if future.cancel():
                    done.append(render_many(rel.folder, previous, self.lines, chunk))
            done.extend(f.result() for f in futures if not f.cancelled())
            for files, written, kept in done:
                rel.files.update(files)
                rel.written += written
                rel.kept += kept

        return finish

    def keep(self, rel: release.Release, paths: Iterable[str]) -> None:
        """Start carrying `paths` over unchanged from the previous release (see `linked`)."""
        kept = rel.carry(paths)
        if rel.previous is None or not kept:
            return
        if self.pool is None:
            release.link_files(rel.previous.folder, rel.folder, kept, rel.made)
            return
        # on the workers: the links are the kernel's work, that a thread here would get only
        # between this process's switch intervals while it lays out the pages
        for chunk in self._chunks(kept, LINK_BATCH):
            self.linking.append(
                self.pool.submit(release.link_files, rel.previous.folder, rel.folder, chunk)
            )

    def linked(self) -> None:
        """Wait for every link `keep` started."""
        for future in self.linking:
            future.result()

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(cancel_futures=True)
