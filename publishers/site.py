"""The static disclosure site: a release builder that renders every page a reader may open.

A full build renders every record page in batches (over a process pool when it has a database
URL); an incremental build renders only the records the change log and the calendar say changed
since the previous release, and carries every other record page over unchanged. List pages,
subject pages, sitemaps and the search index are derived from the summary rows every time, and
only those whose content changed are rendered again.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import multiprocessing.forkserver
from collections.abc import Callable, Generator, Iterator
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from disclosure import lifecycle, list_measures, measures, models, urls
from disclosure.queries import change_log, directory, publication
from publishers import (
    measures_pages,
    page_data,
    pages,
    records,
    release,
    render,
    search,
    site_runner,
    sitemaps,
)

NAME = "site"
BATCH = 2_000  # records per batch of record pages


@dataclasses.dataclass(frozen=True)
class SiteOptions:
    """How to build the site."""

    on: dt.date
    links: urls.Urls  # the site's addresses, at its base URL
    rules: lifecycle.Rules = dataclasses.field(default_factory=lifecycle.Rules)
    measure_list: measures.Catalogue = measures.BUILT_IN  # the configured 措施清单
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
        or state.get("base_url") != options.links.base
        or state.get("templates") != render.templates_digest()
        or dt.date.fromisoformat(state["on"]) > options.on
        # the data files start from the previous release's data lines
        or state.get("data") != page_data.VERSION
        or not rel.previous.beside(page_data.STORE_SUFFIX).is_file()
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


def _list_metas(session: Session) -> list[pages.ListMeta]:
    names = directory.department_names(session)
    return [
        pages.list_meta(named, names.get(named.authority_id or 0))
        for named in directory.named_lists(session)
    ]


def builder(engine: sa.Engine, options: SiteOptions, report: SiteReport) -> release.Builder:
    """The site's release builder."""
    if options.workers > 1 and options.database_url is not None:
        # the workers' server imports what they need while the builders before this one run
        site_runner.forkserver(options.worker_imports)
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
    lines = _lines(rel, previous, changed)
    target = records.Target(
        options.on,
        options.links,
        rel.folder,
        rel.previous.folder if rel.previous is not None else None,
        lines.path,
    )
    runner = site_runner.Runner(
        session,
        workers=options.workers,
        database_url=options.database_url,
        imports=options.worker_imports,
        lines=lines.path,
    )
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
        base_url=options.links.base,
        templates=render.templates_digest(),
        watermark=watermark,
        data=page_data.VERSION,
        rows=rows,
        tombstones=tombstones,
        subjects=subjects,
    )


def _lines(
    rel: release.Release,
    previous: dict[str, Any] | None,
    changed: dict[models.RecordKind, set[int]] | None,
) -> page_data.Lines:
    """The data lines of this release's records: the previous release's without the changed
    records' (which their batches write again), or none yet in a full build."""
    path = rel.beside(page_data.STORE_SUFFIX)
    if previous is None or changed is None or rel.previous is None:
        return page_data.Lines.create(path, None, ())
    touched = (records.key(kind, i) for kind, ids in changed.items() for i in ids)
    return page_data.Lines.create(path, rel.previous.beside(page_data.STORE_SUFFIX), touched)


def _carry_over(
    runner: site_runner.Runner,
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
    runner: site_runner.Runner,
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
    to_render: list[site_runner.Item] = []
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
        links=options.links,
        rules=options.rules,
        catalogue=rel.catalogue,
        measures=measures_pages.measure_rows(options.measure_list, options.on),
        standings=measures_pages.subject_measures(
            session, subjects, options.on, list_measures.catalogue(session, options.measure_list)
        ),
    ):
        keys[page.path] = page.key()
        entries.append((page.path, lastmods.get(page.path)))
        if old_keys.get(page.path) == keys[page.path]:
            unchanged.append(page.path)
            if page.data is not None:  # the same records with the same data: the same files
                unchanged.extend(page_data.path_for(page.path, f) for f in page_data.FORMATS)
        else:
            to_render.append((page.path, page.template, page.context, page.data))
    rendered = runner.pages(rel, to_render)
    runner.keep(rel, unchanged)
    report.pages_rendered += len(to_render)
    rel.state.setdefault(NAME, {})["keys"] = keys
    for path, text in sitemaps.render_sitemaps(
        options.links, entries, options.sitemap_limit
    ).items():
        rel.write(path, text)
    rel.write(urls.ROBOTS, sitemaps.render_robots(options.links))
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
    runner: site_runner.Runner,
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
