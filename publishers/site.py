"""The static disclosure site: a release builder that renders every page a reader may open.

A full build renders every record page in batches (over a process pool when it has a database
URL); an incremental build renders only the records the change log and the calendar say changed
since the previous release, and carries every other record page over unchanged. List pages,
subject pages, sitemaps and the search index are derived from the summary rows every time, and
only those whose content changed are rendered again.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import datetime as dt
import multiprocessing
import multiprocessing.forkserver
import os
import threading
from collections.abc import Callable, Generator, Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlmodel import Session, col, select

from disclosure import lifecycle, models, urls
from disclosure.queries import change_log, publication
from publishers import pages, records, release, render, search, sitemaps

NAME = "site"
BATCH = 2_000  # records per batch of record pages
PAGE_BATCH = 100  # derived pages per batch sent to a worker (or rendered here)
LINK_BATCH = 20_000  # unchanged files per batch of links sent to a worker
T = TypeVar("T")


@dataclasses.dataclass(frozen=True)
class SiteOptions:
    """How to build the site."""

    on: dt.date
    base_url: str
    rules: lifecycle.Rules = dataclasses.field(default_factory=lifecycle.Rules)
    database_url: str | None = None  # lets worker processes connect; None: all in this process
    workers: int = 1
    sitemap_limit: int = sitemaps.LIMIT
    search: bool = True
    # record ids per search index bundle (the module, not the field above)
    search_range: int = dataclasses.field(default_factory=lambda: search.RANGE)
    full: bool = False  # render everything even when an incremental build is possible
    # what worker processes import before they start, besides this module: the modules of the
    # command's script, which each worker runs again (Python 3.11 preloads no "__main__")
    worker_imports: tuple[str, ...] = ()


@dataclasses.dataclass
class SiteReport:
    """What one build did."""

    incremental: bool = False
    records_rendered: int = 0  # record pages and tombstones rendered
    pages_rendered: int = 0  # every page rendered (records, lists, subjects, static)
    public: int = 0
    gone: int = 0
    search_pages: int = 0  # record pages Pagefind indexed (0: every bundle was kept)
    search_bundles: int = 0  # search index bundles Pagefind indexed
    search_bundles_kept: int = 0  # bundles carried over unchanged
    search_seconds: float = 0.0  # Pagefind's time, summed over the bundles it indexed
    search_peak_mb: float = 0.0  # Pagefind's peak resident memory (the largest bundle's)


def _previous_state(rel: release.Release, options: SiteOptions) -> dict[str, Any] | None:
    """The previous release's site state when an incremental build may start from it."""
    if options.full or rel.previous is None:
        return None
    state = rel.previous.state(NAME)
    if (
        state is None
        or state.get("base_url") != options.base_url
        or state.get("templates") != render.templates_digest()
        or dt.date.fromisoformat(state["on"]) > options.on
    ):
        return None
    return state


def _batches(
    session: Session, changed: dict[models.RecordKind, set[int]] | None, on: dt.date, workers: int
) -> Iterator[records.Batch]:
    if changed is not None:
        # a few changed records still go to every worker
        size = min(BATCH, max(1, -(-sum(map(len, changed.values())) // workers)))
    for kind, model in models.RECORD_MODELS.items():
        if changed is not None:
            ids = sorted(changed[kind])
            for start in range(0, len(ids), size):
                yield records.Batch(kind, ids=tuple(ids[start : start + size]))
            continue
        span = publication.shown_id_range(session, model, on)
        if span is None:
            continue
        for start in range(span[0], span[1] + 1, BATCH):
            yield records.Batch(kind, id_from=start, id_to=min(start + BATCH - 1, span[1]))


def _render_many(
    folder: Path, previous: Path | None, items: list[tuple[str, str, dict[str, Any]]]
) -> tuple[dict[str, str], int, int]:
    """Render and write derived pages (in a worker process or here)."""
    files, written, kept = {}, 0, 0
    for path, template, context in items:
        text = render.render_page(template, **context)
        files[path], fresh = release.write_file(folder, previous, path, text.encode())
        written, kept = written + fresh, kept + (not fresh)
    return files, written, kept


def _pooled(options: SiteOptions) -> bool:
    return options.workers > 1 and options.database_url is not None


def _forkserver(options: SiteOptions) -> multiprocessing.context.BaseContext:
    """Where the workers come from: a server process that imported this module once, and forks
    each worker from itself. A spawned worker would import everything again (a second each, as
    much as an incremental publish gives it to do); a plain fork would copy this process's
    threads and connections."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["__main__", __name__, *options.worker_imports])
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


class _Runner:
    """Runs batches here or over a process pool, merging what they return."""

    def __init__(self, options: SiteOptions, session: Session) -> None:
        self.session = session
        self.url = options.database_url
        self.workers = 1
        self.pool: concurrent.futures.ProcessPoolExecutor | None = None
        self.linking: list[concurrent.futures.Future[None]] = []
        if _pooled(options):
            self.pool = concurrent.futures.ProcessPoolExecutor(
                options.workers, mp_context=_forkserver(options), initializer=_end_with_parent
            )
            self.workers = options.workers

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

    def pages(
        self, rel: release.Release, items: list[tuple[str, str, dict[str, Any]]]
    ) -> Callable[[], None]:
        """Start rendering derived pages; returns what renders those no worker has started,
        here, then waits for the others and takes them all in."""
        previous = rel.previous.folder if rel.previous is not None else None
        chunks = self._chunks(items, PAGE_BATCH)
        futures = [self.submit(_render_many, rel.folder, previous, chunk) for chunk in chunks]

        def finish() -> None:
            done = []
            # a page sent to a worker is pickled there and back, for half the time it takes to
            # render: rather than wait, this process renders the pages the workers have not
            # taken yet, the last first
            for chunk, future in zip(reversed(chunks), reversed(futures), strict=True):
                if future.cancel():
                    done.append(_render_many(rel.folder, previous, chunk))
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


def _list_metas(session: Session) -> list[pages.ListMeta]:
    names = dict(
        session.execute(sa.select(col(models.Department.id), col(models.Department.name))).all()
    )
    order = {models.ListKind.RED: 0, models.ListKind.BLACK: 1, models.ListKind.WATCH: 2}
    found = sorted(session.exec(select(models.List)).all(), key=lambda n: (order[n.kind], n.code))
    return [pages.list_meta(named, names.get(named.authority_id)) for named in found]


def builder(engine: sa.Engine, options: SiteOptions, report: SiteReport) -> release.Builder:
    """The site's release builder."""
    if _pooled(options):
        # the workers' server imports what they need while the builders before this one run
        _forkserver(options)
        multiprocessing.forkserver.ensure_running()

    def build(rel: release.Release) -> Generator[None, None, None]:
        with Session(engine) as session:
            yield from _build(session, rel, options, report)

    return build


def _build(
    session: Session, rel: release.Release, options: SiteOptions, report: SiteReport
) -> Generator[None, None, None]:
    """Build the site; yields once its workers have the records to render and the unchanged
    pages to link, for the builders after it to run meanwhile."""
    previous = _previous_state(rel, options)
    watermark = change_log.last_event_id(session)
    changed = None
    if previous is not None:
        changed = change_log.changed_records(
            session,
            after_event=previous["watermark"],
            up_to_event=watermark,
            since=dt.date.fromisoformat(previous["on"]),
            on=options.on,
        )
    report.incremental = changed is not None
    target = records.Target(
        options.on,
        options.base_url,
        rel.folder,
        rel.previous.folder if rel.previous is not None else None,
    )
    runner = _Runner(options, session)
    try:
        rendering = runner.records(
            list(_batches(session, changed, options.on, runner.workers)), target
        )
        carried: tuple[dict[str, Any], dict[str, Any]] | None = None
        if previous is not None and changed is not None:
            carried = _carry_over(runner, rel, previous, changed)
        yield
        done = rendering()
        rel.files.update(done.files)
        rel.written += done.written
        rel.kept += done.kept
        report.records_rendered = report.pages_rendered = done.written + done.kept
        with release.without_cycle_collection():
            if previous is not None and carried is not None:
                rows, tombstones, subjects = _merged(previous, carried, done)
            else:
                rows = dict(sorted(done.rows.items()))
                tombstones = dict(sorted(done.tombstones.items()))
                subjects = done.subjects
            _derived(
                rel,
                runner,
                session,
                options,
                report,
                rows,
                tombstones,
                subjects,
                previous,
            )
        runner.linked()
    finally:
        runner.close()
    report.public, report.gone = len(rows), len(tombstones)
    # beside the page keys and the search bundles, which `_derived` and `_search` put there
    rel.state.setdefault(NAME, {}).update(
        on=options.on.isoformat(),
        base_url=options.base_url,
        templates=render.templates_digest(),
        watermark=watermark,
        rows=rows,
        tombstones=tombstones,
        subjects=subjects,
    )


def _carry_over(
    runner: _Runner,
    rel: release.Release,
    previous: dict[str, Any],
    changed: dict[models.RecordKind, set[int]],
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The previous rows and tombstones of the records that did not change, their pages carried
    over (the links under way while the changed records render)."""
    touched = {records.key(kind, i) for kind, ids in changed.items() for i in ids}
    with release.without_cycle_collection():
        rows = {k: row for k, row in previous["rows"].items() if k not in touched}
        tombstones = {k: row for k, row in previous["tombstones"].items() if k not in touched}
    runner.keep(rel, [row["path"] for row in (*rows.values(), *tombstones.values())])
    return rows, tombstones


def _merged(
    previous: dict[str, Any], carried: tuple[dict[str, Any], dict[str, Any]], done: records.Rendered
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """The carried-over rows with the changed records' added, and the subjects they name."""
    rows, tombstones = carried
    rows.update(done.rows)
    tombstones.update(done.tombstones)
    live = {row["subject"] for row in rows.values()}
    subjects = {k: v for k, v in previous["subjects"].items() if k in live}
    subjects.update(done.subjects)
    return dict(sorted(rows.items())), dict(sorted(tombstones.items())), subjects


def _derived(
    rel: release.Release,
    runner: _Runner,
    session: Session,
    options: SiteOptions,
    report: SiteReport,
    rows: dict[str, Any],
    tombstones: dict[str, Any],
    subjects: dict[str, Any],
    previous: dict[str, Any] | None,
) -> None:
    """Every page but the records', the sitemaps, robots.txt, gone.txt, assets and search."""
    if options.search:
        runner.linked()  # Pagefind reads the record pages carried over
    # the search index first: Pagefind runs on the pool while this process lays out the pages
    indexing = _search(rel, runner, options, report, rows, previous)
    old_keys: dict[str, str] = previous["keys"] if previous is not None else {}
    keys: dict[str, str] = {}
    to_render: list[tuple[str, str, dict[str, Any]]] = []
    unchanged: list[str] = []
    entries: list[sitemaps.Entry] = []
    lastmods: dict[str, str] = {}
    for row in rows.values():
        entries.append((row["path"], row["lastmod"]))
        subject_path = row["subject_path"]
        lastmods[subject_path] = max(lastmods.get(subject_path, ""), row["lastmod"])
    for page in pages.site_pages(
        list(rows.values()),
        list(tombstones.values()),
        subjects,
        _list_metas(session),
        on=options.on,
        base_url=options.base_url,
        rules=options.rules,
        catalogue=rel.catalogue,
    ):
        keys[page.path] = page.key()
        entries.append((page.path, lastmods.get(page.path)))
        if old_keys.get(page.path) == keys[page.path]:
            unchanged.append(page.path)
        else:
            to_render.append((page.path, page.template, page.context))
    rendered = runner.pages(rel, to_render)
    runner.keep(rel, unchanged)
    report.pages_rendered += len(to_render)
    rel.state.setdefault(NAME, {})["keys"] = keys
    for path, text in sitemaps.render_sitemaps(
        options.base_url, entries, options.sitemap_limit
    ).items():
        rel.write(path, text)
    rel.write(urls.ROBOTS, sitemaps.render_robots(options.base_url))
    gone = sorted(row["path"] for row in tombstones.values())
    rel.write(urls.GONE, "".join(f"{path}\n" for path in gone))
    for asset in sorted(render.ASSETS.rglob("*")):
        if asset.is_file() and not asset.name.startswith("."):
            rel.write(f"assets/{asset.relative_to(render.ASSETS)}", asset.read_bytes())
    if options.search:
        rel.write(search.FOLDING, search.folding_table())
    rendered()
    if indexing is not None:
        indexing()


def _search(
    rel: release.Release,
    runner: _Runner,
    options: SiteOptions,
    report: SiteReport,
    rows: dict[str, Any],
    previous: dict[str, Any] | None,
) -> Callable[[], None] | None:
    """Start indexing the search bundles whose public record pages changed, keeping the others;
    returns what waits for the indexing and takes the new bundles in."""
    if not options.search:
        return None
    size = options.search_range
    bundles = search.plan(rows.values(), rel.files, size)
    old = previous.get("search") if previous is not None else None
    old_keys: dict[str, str] = old["bundles"] if old and old["size"] == size else {}
    old_files: dict[str, list[str]] = {}
    for path in rel.previous.files if rel.previous is not None and old_keys else ():
        if path.startswith(urls.SEARCH_BUNDLE):
            name = path[len(urls.SEARCH_BUNDLE) :].partition("/")[0]
            old_files.setdefault(name, []).append(path)
    indexing = []
    for name, bundle in bundles.items():
        if old_keys.get(name) == bundle.key and old_files.get(name):
            # Pagefind's output is not byte-stable (filter files reorder): an unchanged
            # bundle is kept, so an idle publish changes nothing
            rel.keep_all(old_files[name])
            report.search_bundles_kept += 1
        else:
            future = runner.submit(search.write_search_index, rel.folder, name, bundle.paths)
            indexing.append((name, future))
    rel.write(urls.SEARCH_BUNDLES, search.render_bundle_list(bundles.values()))
    rel.state.setdefault(NAME, {})["search"] = {
        "size": size,
        "bundles": {name: bundle.key for name, bundle in bundles.items()},
    }

    def finish() -> None:
        for name, future in indexing:
            indexed = future.result()
            rel.adopt(urls.search_bundle_path(name))
            report.search_pages += indexed.pages
            report.search_bundles += 1
            report.search_seconds += indexed.seconds
            report.search_peak_mb = max(report.search_peak_mb, indexed.peak_mb)

    return finish
