"""Feeds made on request, from the database: a subject's feed (its new records, corrections,
exits and withdrawals, the ended ones as tombstones without details) and the feed of a search's
records. The same entries as the release's feeds (publishers/feeds.py)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlmodel import Session

from disclosure import lifecycle, models, privacy, subject_history, tombstones, urls
from disclosure.queries import plain_rows, publication, record_pages
from publishers import feeds

SIZE = 100  # entries of a feed made on request
SEARCH_FEED = "search"


def subject_feed_name(key: str) -> str:
    """The feed name of the subject with public key `key` (feeds/subjects/<key>.atom)."""
    return f"subjects/{key}"


def _order(entry: feeds.Entry) -> tuple[dt.datetime, str]:
    return (entry.updated, entry.id)


def _entries(
    session: Session, found: Sequence[models.Record], on: dt.date, links: urls.Urls
) -> tuple[list[feeds.Entry], list[feeds.Deleted]]:
    """The entries of the public records among `found` and, for each ended one, its exit entry
    and its tombstone."""
    corrected: dict[models.RecordKind, dict[int, dt.date]] = {}
    for kind in models.RecordKind:
        ids = [r.id for r in found if r.KIND is kind and r.id is not None]
        corrected[kind] = publication.last_corrections(session, kind, ids, on) if ids else {}
    entries: list[feeds.Entry] = []
    deleted: list[feeds.Deleted] = []
    for record in found:
        if lifecycle.is_public(record, on):
            public = privacy.project(record, on)
            entries.append(feeds.record_entry(public, corrected[record.KIND].get(public.id), links))
            continue
        tomb = tombstones.tombstone(record, on)
        if tomb is None:  # not yet published
            continue
        entries.append(feeds.exit_entry(tomb, links))
        ref = links.record(tomb.kind, tomb.id)
        deleted.append(feeds.Deleted(ref, feeds.midnight(tomb.ended_on)))
    entries.sort(key=_order, reverse=True)
    deleted.sort(key=lambda d: (d.when, d.ref), reverse=True)
    return entries[:SIZE], deleted[:SIZE]


def subject_feed(session: Session, key: str, on: dt.date, links: urls.Urls) -> feeds.Feed | None:
    """The feed of the subject with public key `key`, or None when there is no such subject."""
    row = record_pages.subject_by_key(session, key)
    if row is None:
        return None
    subject = privacy.subject(row)
    name = subject.name
    history = subject_history.subject_history(session, row.id)
    entries, deleted = _entries(session, history, on, links)
    public_key = subject.key
    return feeds.Feed(
        name=subject_feed_name(public_key),
        title=f"{name}：公示信息动态",
        subtitle=f"{name}的新增公示、更正、停止公示和移出名单",
        page=urls.subject_key_path(public_key),
        entries=tuple(entries),
        deleted=tuple(deleted),
    )


def search_feed(
    session: Session,
    hits: Sequence[tuple[models.RecordKind, int]],
    on: dt.date,
    links: urls.Urls,
    query: str,
    title: str,
) -> feeds.Feed:
    """The feed of a search's hits (kind and record id), public ones as entries, ended ones as
    tombstones; `query` is the feed's query string."""
    found: list[models.Record] = []
    for kind in models.RecordKind:
        ids = [record_id for hit_kind, record_id in hits if hit_kind is kind]
        if ids:
            found += plain_rows.records_by_ids(session, kind, ids).values()
    entries, deleted = _entries(session, found, on, links)
    return feeds.Feed(
        name=SEARCH_FEED,
        title=f"搜索“{title}”：最新公示",
        subtitle=f"与“{title}”相符的最新公示信息",
        page=f"search/index.html?{query}",
        entries=tuple(entries),
        deleted=tuple(deleted),
        query=query,
    )
