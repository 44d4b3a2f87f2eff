"""The feeds' release builder: which feeds there are, what each holds, and their tombstones.

Each feed holds the newest N publications it follows. The manifest remembers which records each
feed showed, so that when one of them is no longer public the next release's Atom feed carries an
RFC 6721 tombstone for it; the exits feed announces every end of publicity by itself, from the
database, for RSS readers too, and the withdrawals and repairs feeds those of their reasons.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Iterable
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from disclosure import models, privacy, tombstones, urls
from disclosure.queries import directory, plain_rows, publication, record_pages
from publishers import feeds, records, release

NAME = "feeds"
DEFAULT_SIZE = 100


@dataclasses.dataclass(frozen=True)
class FeedOptions:
    """How to build the feeds."""

    on: dt.date
    links: urls.Urls  # the site's addresses, at its base URL
    size: int = DEFAULT_SIZE  # entries per feed


@dataclasses.dataclass
class FeedReport:
    """What one build did."""

    feeds: int = 0
    entries: int = 0
    deleted: int = 0


Select = Callable[[Session], list[models.Record]]


@dataclasses.dataclass(frozen=True)
class _Spec:
    name: str
    title: str
    subtitle: str
    page: str
    select: Select


def _newest(
    options: FeedOptions, kinds: Iterable[models.RecordKind], where: record_pages.RecordFilter
) -> Select:
    def select_records(session: Session) -> list[models.Record]:
        found: list[models.Record] = []
        for kind in kinds:
            model = models.RECORD_MODELS[kind]
            found += publication.latest_published(
                session, model, on=options.on, where=where, first=options.size
            )
        order = {kind: n for n, kind in enumerate(models.RecordKind)}
        found.sort(key=lambda r: (r.published_on, -order[r.KIND], r.id or 0), reverse=True)
        return found[: options.size]

    return select_records


def _entries(
    session: Session, found: list[models.Record], options: FeedOptions
) -> list[feeds.Entry]:
    corrected: dict[models.RecordKind, dict[int, dt.date]] = {}
    for kind in models.RecordKind:
        ids = [r.id for r in found if r.KIND is kind and r.id is not None]
        corrected[kind] = publication.last_corrections(session, kind, ids, options.on)
    entries = []
    for record in found:
        public = privacy.project(record, options.on)
        day = corrected[record.KIND].get(public.id)
        entries.append(feeds.record_entry(public, day, options.links))
    return entries


def _specs(session: Session, options: FeedOptions) -> list[_Spec]:
    every = tuple(models.RecordKind)
    specs = [
        _Spec(
            "all",
            "信用信息双公示：最新公示",
            "行政许可、行政处罚和红黑名单的最新公示信息",
            urls.HOME,
            _newest(options, every, record_pages.RecordFilter()),
        )
    ]
    for kind in models.RecordKind:
        name = kind.zh
        page = urls.LISTS if kind is models.RecordKind.LIST_ENTRY else urls.kind_path(kind)
        specs.append(
            _Spec(
                feeds.KIND_FEEDS[kind],
                f"{name}：最新公示",
                f"最新公示的{name}信息",
                page,
                _newest(options, (kind,), record_pages.RecordFilter()),
            )
        )
    for unit in directory.departments(session):
        specs.append(
            _Spec(
                f"departments/{unit.credit_code}",
                f"{unit.name}：最新公示",
                f"{unit.name}报送的最新公示信息",
                urls.department_path(unit.credit_code),
                _newest(options, every, record_pages.RecordFilter(source_unit=unit.credit_code)),
            )
        )
    for list_kind in models.ListKind:
        label = list_kind.zh
        specs.append(
            _Spec(
                f"list-kinds/{list_kind.value}",
                f"{label}：最新列入",
                f"最新列入{label}的信用主体",
                urls.LISTS,
                _newest(
                    options,
                    (models.RecordKind.LIST_ENTRY,),
                    record_pages.RecordFilter(list_kind=list_kind),
                ),
            )
        )
    for entry_list in directory.named_lists(session):
        specs.append(
            _Spec(
                f"lists/{entry_list.code}",
                f"{entry_list.name}：最新列入",
                f"最新列入{entry_list.name}的信用主体",
                urls.list_path(entry_list.code),
                _newest(
                    options,
                    (models.RecordKind.LIST_ENTRY,),
                    record_pages.RecordFilter(list_code=entry_list.code),
                ),
            )
        )
    return specs


# The feeds of ends: each announces the newest ends of publicity of its reasons (None: all).
WITHDRAWALS = frozenset({models.EndReason.WITHDRAWN, models.EndReason.OBJECTION_UPHELD})
REPAIRS = frozenset({models.EndReason.REPAIRED})
ENDS = (
    (
        "exits",
        "停止公示与移出名单公告",
        "撤回、信用修复、异议成立、公示期满和移出名单的公告（不含被停止公示的信息内容）",
        None,
    ),
    (
        "withdrawals",
        "依法撤回与异议成立公告",
        "依法撤回和异议成立的停止公示公告及其说明理由（不含被停止公示的信息内容）",
        WITHDRAWALS,
    ),
    (
        "repairs",
        "信用修复公告",
        "信用修复后停止公示和移出名单的公告（不含被停止公示的信息内容）",
        REPAIRS,
    ),
)


def _exits(
    session: Session, options: FeedOptions, reasons: frozenset[models.EndReason] | None
) -> list[feeds.Entry]:
    """The newest ends of publicity (for one of `reasons`, when given), newest first."""
    tombs: list[tombstones.Tombstone] = []
    for model in models.RECORD_MODELS.values():
        for record in publication.latest_ended(
            session, model, on=options.on, first=options.size, reasons=reasons
        ):
            tomb = tombstones.tombstone(record, options.on)
            if tomb is not None:
                tombs.append(tomb)
    order = {kind: n for n, kind in enumerate(models.RecordKind)}
    unique = {(t.kind, t.id): t for t in tombs}.values()
    newest = sorted(unique, key=lambda t: (t.ended_on, -order[t.kind], t.id), reverse=True)
    return [feeds.exit_entry(t, options.links) for t in newest[: options.size]]


def _ended(session: Session, keys: set[str], on: dt.date) -> dict[str, tombstones.Tombstone]:
    """Tombstones of the records among `keys` (kind/id) that are no longer public on `on`."""
    by_kind: dict[models.RecordKind, list[int]] = {}
    for record_key in sorted(keys):
        kind, record_id = record_key.split("/")
        by_kind.setdefault(models.RecordKind(kind), []).append(int(record_id))
    found: dict[str, tombstones.Tombstone] = {}
    for kind, ids in by_kind.items():
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            for record in plain_rows.records_by_id(session, models.RECORD_MODELS[kind], chunk):
                tomb = tombstones.tombstone(record, on)
                if tomb is not None and record.id is not None:
                    found[records.key(kind, record.id)] = tomb
    return found


def _tombstones(
    previous: dict[str, Any],
    entries: tuple[feeds.Entry, ...],
    ended: dict[str, tombstones.Tombstone],
    options: FeedOptions,
) -> tuple[feeds.Deleted, ...]:
    """The feed's tombstones: those it carried, and one for each record it showed that ended."""
    shown = {e.id for e in entries}
    kept = {ref: dt.datetime.fromisoformat(when) for ref, when in previous.get("deleted", [])}
    for record_key, ref in previous.get("ids", {}).items():
        tomb = ended.get(record_key)
        if tomb is not None and ref not in shown:
            kept.setdefault(ref, feeds.midnight(tomb.ended_on))
    gone = [feeds.Deleted(ref, when) for ref, when in kept.items() if ref not in shown]
    gone.sort(key=lambda d: (d.when, d.ref), reverse=True)
    return tuple(gone[: options.size])


def builder(engine: sa.Engine, options: FeedOptions, report: FeedReport) -> release.Builder:
    """The feeds' release builder."""

    def build(rel: release.Release) -> None:
        with Session(engine) as session:
            _build(session, rel, options, report)

    return build


def _build(
    session: Session, rel: release.Release, options: FeedOptions, report: FeedReport
) -> None:
    old: dict[str, Any] = {}
    if rel.previous is not None:
        old = (rel.previous.state(NAME) or {}).get("feeds", {})
    built: list[feeds.Feed] = []
    shown: dict[str, dict[str, str]] = {}
    for spec in _specs(session, options):
        entries = _entries(session, spec.select(session), options)
        shown[spec.name] = {e.key: e.id for e in entries}
        built.append(feeds.Feed(spec.name, spec.title, spec.subtitle, spec.page, tuple(entries)))
    candidates = {
        key
        for name, state in old.items()
        for key in state.get("ids", {})
        if key not in shown.get(name, {})
    }
    ended = _ended(session, candidates, options.on)
    state: dict[str, Any] = {}
    for feed in built:
        previous = old.get(feed.name, {})
        deleted = _tombstones(previous, feed.entries, ended, options)
        feed = dataclasses.replace(feed, deleted=deleted)
        if not feed.entries and not feed.deleted and feed.name.startswith("departments/"):
            continue  # an authority that supplies no records has no feed
        _write(rel, feed, options, report)
        state[feed.name] = {
            "ids": shown[feed.name],
            "deleted": [[d.ref, d.when.isoformat()] for d in deleted],
        }
    for name, title, subtitle, reasons in ENDS:
        ends = feeds.Feed(
            name, title, subtitle, urls.HOME, tuple(_exits(session, options, reasons))
        )
        _write(rel, ends, options, report)
    rel.state[NAME] = {"feeds": state}
    rel.catalogue += _catalogue()


def _write(
    rel: release.Release, feed: feeds.Feed, options: FeedOptions, report: FeedReport
) -> None:
    for fmt in feeds.MEDIA_TYPES:
        text = feeds.render_feed(feed, fmt, options.links, records.SITE_NAME)
        rel.write(urls.feed_path(feed.name, fmt), text)
    report.feeds += 1
    report.entries += len(feed.entries)
    report.deleted += len(feed.deleted)


def _catalogue() -> list[dict[str, str]]:
    """Links the open-data page shows to the main feeds."""
    items = [
        ("all", "全部公示信息订阅", "最新公示的行政许可、行政处罚和名单条目"),
        ("exits", "停止公示与移出名单公告订阅", "撤回、修复、期满和移出的公告"),
        ("withdrawals", "依法撤回与异议成立公告订阅", "撤回和异议成立的公告及其说明理由"),
        ("repairs", "信用修复公告订阅", "信用修复后停止公示的公告"),
    ]
    items += [
        (feeds.KIND_FEEDS[kind], f"{name}订阅", f"最新公示的{name}")
        for kind, name in ((kind, kind.zh) for kind in models.RecordKind)
    ]
    catalogue = []
    for name, title, description in items:
        for fmt, label in (("rss", "RSS"), ("atom", "Atom")):
            catalogue.append(
                {
                    "title": f"{title}（{label}）",
                    "path": urls.feed_path(name, fmt),
                    "description": description,
                }
            )
    return catalogue
