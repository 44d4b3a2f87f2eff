"""RSS 2.0 and Atom feeds rendered with feedgen: pure functions from entries to bytes.

feedgen stamps feeds and entries with the time of rendering and prepends entries; both are
overridden here so that an unchanged feed renders to the same bytes, newest entry first.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import zoneinfo
from typing import Any

from feedgen.ext.base import BaseEntryExtension, BaseExtension
from feedgen.feed import FeedGenerator
from lxml import etree

from disclosure import models, privacy, tombstones, urls
from publishers import records, render

TOMBSTONES = "http://purl.org/atompub/tombstones/1.0"  # RFC 6721
SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
# What an empty feed says it was updated: a fixed instant, never the time of rendering.
EMPTY_UPDATED = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
MEDIA_TYPES = {"rss": "application/rss+xml", "atom": "application/atom+xml"}
KIND_FEEDS = {kind: urls.KIND_FOLDERS[kind] for kind in models.RecordKind}


@dataclasses.dataclass(frozen=True)
class Category:
    """A category of an entry: a term in a vocabulary (scheme), with its label."""

    scheme: str
    term: str
    label: str


@dataclasses.dataclass(frozen=True)
class Entry:
    """One entry of a feed, as plain values."""

    id: str  # permanent: the record's URL (or, for an end of publicity, that URL + #ended)
    key: str  # the record's key, kind/id
    title: str
    link: str
    published: dt.datetime
    updated: dt.datetime
    summary: str
    categories: tuple[Category, ...] = ()
    permalink: bool = True


@dataclasses.dataclass(frozen=True)
class Deleted:
    """An RFC 6721 tombstone: the entry `ref` was removed at `when`."""

    ref: str
    when: dt.datetime


@dataclasses.dataclass(frozen=True)
class Feed:
    """A feed: what it is about, its entries newest first and its tombstones."""

    name: str  # feeds/<name>.xml and feeds/<name>.atom
    title: str
    subtitle: str
    page: str  # the site page it follows (path)
    entries: tuple[Entry, ...]
    deleted: tuple[Deleted, ...] = ()
    query: str = ""  # the query string of a feed made on request (feeds/search.atom?q=…)

    def updated(self) -> dt.datetime:
        """The newest date the feed carries (never the time of rendering)."""
        dates = [e.updated for e in self.entries] + [d.when for d in self.deleted]
        return max(dates, default=EMPTY_UPDATED)


def midnight(day: dt.date) -> dt.datetime:
    """The start of `day` in China Standard Time, the instant a date-only event is dated."""
    return dt.datetime.combine(day, dt.time(), SHANGHAI)


def scheme(links: urls.Urls, name: str) -> str:
    """The URI of one vocabulary of categories (kind, department, category, list, reason)."""
    return f"{links(urls.OPEN_DATA)}#{name}"


def record_entry(public: records.Public, corrected_on: dt.date | None, links: urls.Urls) -> Entry:
    """The entry of a public record (only what its public shape shows); `updated` is its last
    correction, or its publication when it was never corrected."""
    link = links.record(public.kind, public.id)
    unit = public.source_unit
    categories = [
        Category(scheme(links, "kind"), public.kind.value, public.kind.zh),
        Category(scheme(links, "department"), unit.credit_code, unit.name),
    ]
    if isinstance(public, privacy.LicensePublic):
        categories.append(
            Category(scheme(links, "category"), public.category.value, public.category.value)
        )
    elif isinstance(public, privacy.PenaltyPublic):
        categories += [Category(scheme(links, "category"), c, c) for c in public.categories]
    else:
        categories.append(Category(scheme(links, "list"), public.list.code, public.list.name))
    lines = [
        f"行政相对人：{public.subject.name}",
        f"文号：{public.decision_doc_no}",
        f"决定日期：{render.zh_date(public.decision_on)}",
        f"数据来源单位：{unit.name}",
    ]
    if public.under_objection:
        lines.append("异议处理中")
    return Entry(
        id=link,
        key=records.key(public.kind, public.id),
        title=f"{public.kind.zh}：{public.subject.name}｜{records.record_title(public)}",
        link=link,
        published=midnight(public.published_on),
        updated=midnight(max(public.published_on, corrected_on or public.published_on)),
        summary="；".join(lines),
        categories=tuple(categories),
    )


def exit_entry(tomb: tombstones.Tombstone, links: urls.Urls) -> Entry:
    """The announcement that a record's publicity ended: kind, reason, date and the reason its
    department gave; no detail of the record."""
    link = links.record(tomb.kind, tomb.id)
    notice = "移出名单" if tomb.kind is models.RecordKind.LIST_ENTRY else "停止公示"
    reason = tomb.label
    kind = tomb.kind.zh
    when = midnight(tomb.ended_on)
    return Entry(
        id=f"{link}#ended",
        key=records.key(tomb.kind, tomb.id),
        title=f"{notice}：{kind}第{tomb.id}号（{reason}）",
        link=link,
        published=when,
        updated=when,
        summary=f"该{kind}信息自{render.zh_date(tomb.ended_on)}起{notice}，原因：{reason}。"
        + (f"说明理由：{tomb.explanation}" if tomb.explanation else ""),
        categories=(
            Category(scheme(links, "kind"), tomb.kind.value, kind),
            Category(scheme(links, "reason"), tomb.reason, reason),
        ),
        permalink=False,
    )


class _TombstonesFeed(BaseExtension):  # type: ignore[misc]
    """feedgen extension writing RFC 6721 `at:deleted-entry` elements into Atom feeds."""

    def __init__(self) -> None:
        self.deleted: tuple[Deleted, ...] = ()

    def extend_ns(self) -> dict[str, str]:
        return {"at": TOMBSTONES}

    def extend_atom(self, feed: Any) -> Any:
        for gone in self.deleted:
            element = etree.SubElement(feed, f"{{{TOMBSTONES}}}deleted-entry")
            element.set("ref", gone.ref)
            element.set("when", gone.when.isoformat())
        return feed


class _TombstonesEntry(BaseEntryExtension):  # type: ignore[misc]
    """Entries carry no tombstones of their own."""


def render_feed(feed: Feed, fmt: str, links: urls.Urls, site_name: str) -> bytes:
    """The feed as RSS 2.0 (`fmt` rss) or Atom (`fmt` atom), byte-stable for the same input."""
    self_url = links.feed(feed.name, fmt)
    self_url += f"?{feed.query}" if feed.query else ""
    generator = FeedGenerator()
    generator.register_extension(
        "tombstones", _TombstonesFeed, _TombstonesEntry, atom=True, rss=False
    )
    generator.tombstones.deleted = feed.deleted
    generator.id(links.feed(feed.name, "atom") + (f"?{feed.query}" if feed.query else ""))
    generator.title(feed.title)
    generator.subtitle(feed.subtitle)
    generator.author({"name": site_name})
    # feedgen takes the RSS channel's <link> from the last link given: the site page
    generator.link(href=self_url, rel="self", type=MEDIA_TYPES[fmt])
    generator.link(href=links(feed.page), rel="alternate", type="text/html")
    generator.language("zh-CN")
    generator.generator("gongshi")
    generator.updated(feed.updated())
    for entry in feed.entries:
        item = generator.add_entry(order="append")
        item.id(entry.id)
        item.guid(entry.id, permalink=entry.permalink)
        item.title(entry.title)
        item.link(href=entry.link)
        item.published(entry.published)
        item.updated(entry.updated)
        item.summary(entry.summary)
        item.category(
            [{"term": c.term, "scheme": c.scheme, "label": c.label} for c in entry.categories]
        )
    text: bytes = (
        generator.rss_str(pretty=True) if fmt == "rss" else generator.atom_str(pretty=True)
    )
    return text
