"""The site's pages other than records: home, lists by kind, department, category and named list,
subject pages (the one-stop query), and the search, open-data and rules pages.

Each is a `Page` (path, template, context) built from the summary rows alone, so an incremental
publish can tell an unchanged page by its context without rendering it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import heapq
from collections import defaultdict
from collections.abc import Iterator, Sequence
from typing import Any

import orjson

from disclosure import lifecycle, models, urls
from publishers import page_data, records, static_pages

PER_PAGE = 50
LATEST = 20
EXITS_SHOWN = 100

Row = dict[str, Any]


@dataclasses.dataclass(frozen=True)
class Page:
    """A page to render: where, with which template, from what."""

    path: str
    template: str
    context: dict[str, Any]
    data: page_data.Spec | None = None  # the data files beside it, if it shows records

    def key(self) -> str:
        """A digest of everything the page shows: equal keys, equal pages (same templates)."""
        text = orjson.dumps(
            [self.template, self.context],
            option=orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_SUBCLASS,
            default=_digest_of,
        )
        return hashlib.sha256(text).hexdigest()


# what the records table (_records_table.html, the one template that shows rows) shows of a row
SHOWN: tuple[str, ...] = ("kind", "decided", "objection", "path", "doc_no", "title")
SHOWN += ("subject_name", "subject_path", "unit_name")
# and what its data files need: the record's key and its data's digest (a page whose records'
# data changed is made again, with its data files)
KEPT = (*SHOWN, "id", "data")


class Summary(dict[str, Any]):
    """What a page shows of a summary row. In the keys of the pages showing it, it stands by its
    own digest, taken once: a record shows on four or five pages (its kind's, department's,
    categories' and subject's), and a list page shows fifty records."""

    __slots__ = ("digest",)

    def __init__(self, row: Row) -> None:
        super().__init__({name: row[name] for name in KEPT})
        self.digest = hashlib.sha256(orjson.dumps(self, option=orjson.OPT_SORT_KEYS)).hexdigest()


def _digest_of(value: Any) -> str:
    if isinstance(value, Summary):
        return value.digest
    raise TypeError(f"no key for {type(value).__name__} in a page context")


@dataclasses.dataclass(frozen=True)
class ListMeta:
    """What a named list's page says about the list itself."""

    code: str
    kind: str
    name: str
    authority: str | None
    legal_basis: str
    listing_criteria: str
    exit_criteria: str
    measures: list[dict[str, Any]]


def list_meta(named: models.List, authority: str | None) -> ListMeta:
    """The public description of a named list."""
    return ListMeta(
        code=named.code,
        kind=named.kind.value,
        name=named.name,
        authority=authority,
        legal_basis=named.legal_basis,
        listing_criteria=named.listing_criteria,
        exit_criteria=named.exit_criteria,
        measures=[
            {
                "measure": m.measure,
                "implementing_department": m.implementing_department,
                "mandatory": m.mandatory,
            }
            for m in named.measures
        ],
    )


ALL_KINDS = tuple(models.RecordKind)


def _with_data(
    path: str,
    template: str,
    context: dict[str, Any],
    rows: Sequence[Row],
    kinds: tuple[models.RecordKind, ...],
    pager: dict[str, int] | None = None,
) -> Page:
    """The page, with data files of exactly `rows` (what it shows, in its order)."""
    context["data"] = {fmt: page_data.path_for(path, fmt) for fmt in page_data.FORMATS}
    spec = page_data.Spec(
        page_path=path,
        kinds=kinds,
        keys=tuple(records.key(row["kind"], row["id"]) for row in rows),
        title=context["title"],
        url=context["canonical"],
        pager=pager,
    )
    return Page(path, template, context, spec)


def newest_first(rows: Sequence[Row]) -> list[Row]:
    """Rows by decision date, newest first (then by id, newest first)."""
    return sorted(rows, key=lambda row: (row["decided"], row["id"], row["kind"]), reverse=True)


def _paginated(
    first_path: str,
    rows: Sequence[Row],
    template: str,
    links: urls.Urls,
    title: str,
    kinds: tuple[models.RecordKind, ...],
    **extra: Any,
) -> Iterator[Page]:
    count = max(1, -(-len(rows) // PER_PAGE))
    paths = [urls.paged(first_path, n) for n in range(1, count + 1)]
    for n, path in enumerate(paths, start=1):
        pager = {
            "page": n,
            "count": count,
            "first": paths[0],
            "last": paths[-1],
            "prev": paths[n - 2] if n > 1 else None,
            "next": paths[n] if n < count else None,
        }
        shown = title if n == 1 else f"{title}（第 {n} 页）"
        on_page = list(rows[(n - 1) * PER_PAGE : n * PER_PAGE])
        context = records.page_context(
            path, shown, links, rows=on_page, total=len(rows), pager=pager, **extra
        )
        counted = {"page": n, "pages": count, "total": len(rows)}
        yield _with_data(path, template, context, on_page, kinds, counted)


def site_pages(
    rows: Sequence[Row],
    tombstones: Sequence[Row],
    subjects: dict[str, dict[str, Any]],
    lists: Sequence[ListMeta],
    *,
    on: dt.date,
    links: urls.Urls,
    rules: lifecycle.Rules,
    catalogue: Sequence[dict[str, str]] = (),
    measures: Sequence[dict[str, Any]] = (),
    standings: dict[str, list[dict[str, Any]]] | None = None,
) -> Iterator[Page]:
    """Every page of the site but the records', from the public rows of `on`; `measures` and
    `standings` from `measures_pages`."""
    ordered = newest_first(rows)
    by_kind: dict[str, list[Row]] = defaultdict(list)
    by_unit: dict[str, list[Row]] = defaultdict(list)
    unit_names: dict[str, str] = {}
    by_category: dict[tuple[str, str], list[Row]] = defaultdict(list)
    by_list: dict[str, list[Row]] = defaultdict(list)
    by_subject: dict[str, list[Row]] = defaultdict(list)
    shown: dict[int, Summary] = {}  # by the row's id(): what pages show of it
    for row in ordered:
        summary = shown[id(row)] = Summary(row)
        by_kind[row["kind"]].append(summary)
        by_unit[row["unit"]].append(summary)
        unit_names[row["unit"]] = row["unit_name"]
        for label in row["categories"]:
            by_category[(row["kind"], label)].append(summary)
        if row["list"] is not None:
            by_list[row["list"]].append(summary)
        by_subject[row["subject"]].append(summary)
    exits = sorted(tombstones, key=lambda t: (t["ended_on"], t["kind"], t["id"]), reverse=True)
    latest = heapq.nlargest(
        LATEST, ordered, key=lambda r: (r["published"], r["decided"], r["id"], r["kind"])
    )

    yield from _home([shown[id(row)] for row in latest], exits, by_kind, lists, by_list, on, links)
    for kind in (models.RecordKind.LICENSE, models.RecordKind.PENALTY):
        name = kind.zh
        yield from _paginated(
            urls.kind_path(kind),
            by_kind[kind.value],
            "listing.html",
            links,
            name,
            (kind,),
            lead=None,
        )
    yield from _departments(by_unit, unit_names, links)
    yield from _categories(by_category, links)
    yield from _lists(lists, by_list, exits, links)
    for key, subject_rows in sorted(by_subject.items()):
        yield _subject(subjects[key], subject_rows, links, (standings or {}).get(key, []))
    for path, template, context in static_pages.static_pages(on, links, rules, catalogue):
        yield Page(path, template, context)
    yield Page(
        urls.MEASURES,
        "measures.html",
        records.page_context(urls.MEASURES, "联合奖惩措施清单", links, measures=list(measures)),
    )


def _home(
    latest: list[Row],
    exits: list[Row],
    by_kind: dict[str, list[Row]],
    lists: Sequence[ListMeta],
    by_list: dict[str, list[Row]],
    on: dt.date,
    links: urls.Urls,
) -> Iterator[Page]:
    counts = [
        {
            "label": kind.zh,
            "count": len(by_kind[kind.value]),
            "path": urls.kind_path(kind),
        }
        for kind in (models.RecordKind.LICENSE, models.RecordKind.PENALTY)
    ]
    for kind in models.ListKind:
        name = kind.zh
        codes = [meta.code for meta in lists if meta.kind == kind.value]
        counts.append(
            {"label": name, "count": sum(len(by_list[c]) for c in codes), "path": urls.LISTS}
        )
    context = records.page_context(
        urls.HOME,
        "首页",
        links,
        as_of=on.isoformat(),
        counts=counts,
        rows=latest,
        exits=exits[:LATEST],
    )
    yield Page(urls.HOME, "home.html", context)


def _departments(
    by_unit: dict[str, list[Row]], unit_names: dict[str, str], links: urls.Urls
) -> Iterator[Page]:
    order = sorted(by_unit, key=lambda code: (unit_names[code], code))
    items = [
        {"label": unit_names[c], "path": urls.department_path(c), "count": len(by_unit[c])}
        for c in order
    ]
    yield Page(
        urls.DEPARTMENTS,
        "index_of.html",
        records.page_context(
            urls.DEPARTMENTS,
            "按部门浏览",
            links,
            lead="各数据来源单位报送并正在公示的信息。",
            groups=[{"title": None, "items": items}],
        ),
    )
    for code in order:
        yield from _paginated(
            urls.department_path(code),
            by_unit[code],
            "listing.html",
            links,
            unit_names[code],
            ALL_KINDS,
            lead=f"数据来源单位：{unit_names[code]}（统一社会信用代码 {code}）",
        )


def _categories(by_category: dict[tuple[str, str], list[Row]], links: urls.Urls) -> Iterator[Page]:
    groups = []
    for kind in (models.RecordKind.LICENSE, models.RecordKind.PENALTY):
        labels = sorted(label for k, label in by_category if k == kind.value)
        items = [
            {
                "label": label,
                "path": urls.category_path(kind, label),
                "count": len(by_category[(kind.value, label)]),
            }
            for label in labels
        ]
        groups.append({"title": kind.zh + "类别", "items": items})
    yield Page(
        urls.CATEGORIES,
        "index_of.html",
        records.page_context(urls.CATEGORIES, "按类别浏览", links, lead=None, groups=groups),
    )
    for (kind_value, label), found in sorted(by_category.items()):
        kind = models.RecordKind(kind_value)
        yield from _paginated(
            urls.category_path(kind, label),
            found,
            "listing.html",
            links,
            f"{kind.zh}：{label}",
            (kind,),
            lead=None,
        )


def _lists(
    lists: Sequence[ListMeta], by_list: dict[str, list[Row]], exits: list[Row], links: urls.Urls
) -> Iterator[Page]:
    groups = []
    for kind in models.ListKind:
        name = kind.zh
        items = [
            {"label": m.name, "path": urls.list_path(m.code), "count": len(by_list[m.code])}
            for m in lists
            if m.kind == kind.value
        ]
        groups.append({"title": name, "items": items})
    yield Page(
        urls.LISTS,
        "index_of.html",
        records.page_context(
            urls.LISTS,
            "信用名单",
            links,
            lead="红名单（守信激励）、黑名单（严重失信主体）和重点关注名单，以及各自的移出公告。",
            groups=groups,
        ),
    )
    for meta in lists:
        yield from _paginated(
            urls.list_path(meta.code),
            by_list[meta.code],
            "list.html",
            links,
            meta.name,
            (models.RecordKind.LIST_ENTRY,),
            named=dataclasses.asdict(meta),
            kind_label=models.ListKind(meta.kind).zh,
            authority=meta.authority,
            measures=meta.measures,
            exits=[t for t in exits if t["list"] == meta.code][:EXITS_SHOWN],
        )


_SECTIONS = [(kind.zh, kind.value) for kind in models.RecordKind]


def _subject(
    subject: dict[str, Any], rows: list[Row], links: urls.Urls, applied: list[dict[str, Any]]
) -> Page:
    path = urls.subject_key_path(subject["key"])
    sections = [
        {"title": title, "rows": [row for row in rows if row["kind"] == value]}
        for title, value in _SECTIONS
    ]
    feed = links.feed(f"subjects/{subject['key']}", "atom")
    context = records.page_context(
        path,
        subject["name"],
        links,
        subject=subject,
        sections=sections,
        feed_url=feed,
        applied=applied,
    )
    shown = [row for _title, value in _SECTIONS for row in rows if row["kind"] == value]
    return _with_data(path, "subject.html", context, shown, ALL_KINDS)
