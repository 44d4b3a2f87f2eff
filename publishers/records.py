"""Record pages and tombstones, rendered in batches that a process pool can share out.

A batch loads its records, projects each through `privacy` (the only shapes a page may show),
renders its page or its tombstone, writes it into the release folder, and returns the summary
rows the list pages are built from: plain JSON values, kept in the manifest for the next publish.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
from pathlib import Path
from typing import Any, cast

import sqlalchemy as sa
from sqlmodel import Session

from disclosure import db, models, privacy, tombstones, urls
from disclosure.queries import publication
from publishers import bulk_schema, page_data, release, render, search

SITE_NAME = "信用信息双公示"


def root_of(path: str) -> str:
    """The relative prefix from the page at `path` back to the site root."""
    return "../" * path.count("/")


# by value, as pages show them; shared by every page's context, which no template changes
_KIND_NAMES_BY_VALUE = {kind.value: kind.zh for kind in models.RecordKind}
_CATEGORY_NAMES_BY_VALUE = {kind.value: kind.zh for kind in models.SubjectCategory}


def page_context(path: str, title: str, links: urls.Urls, **extra: Any) -> dict[str, Any]:
    """What every page template needs besides its own data."""
    return {
        "root": root_of(path),
        "title": title,
        "site_name": SITE_NAME,
        "kind_names": _KIND_NAMES_BY_VALUE,
        "category_names": _CATEGORY_NAMES_BY_VALUE,
        "noindex": False,
        "canonical": links(path),
        "data": None,  # the paths of the page's data files, when it has them
        **extra,
    }


def key(kind: models.RecordKind | str, record_id: int) -> str:
    """The key of a record in the manifest's row maps."""
    return f"{models.RecordKind(kind).value}/{record_id}"


Public = privacy.LicensePublic | privacy.PenaltyPublic | privacy.ListEntryPublic


def record_title(public: Public) -> str:
    if isinstance(public, privacy.LicensePublic):
        return public.certificate_name or public.decision_doc_name
    if isinstance(public, privacy.PenaltyPublic):
        return public.violation_type
    return public.list.name


def row(public: Public, lastmod: dt.date, data: str = "") -> dict[str, Any]:
    """The summary of a public record that list pages, subject pages and sitemaps show; `data`
    is the digest of its data lines (`page_data.digest`)."""
    categories: list[str] = []
    if isinstance(public, privacy.LicensePublic):
        categories = [public.category.value]
    elif isinstance(public, privacy.PenaltyPublic):
        categories = list(public.categories)
    return {
        "kind": public.kind.value,
        "id": public.id,
        "path": urls.record_path(public.kind, public.id),
        "decided": public.decision_on.isoformat(),
        "published": public.published_on.isoformat(),
        "doc_no": public.decision_doc_no,
        "title": record_title(public),
        "subject": public.subject.key,
        "subject_name": public.subject.name,
        "subject_path": urls.subject_key_path(public.subject.key),
        "unit": public.source_unit.credit_code,
        "unit_name": public.source_unit.name,
        "categories": categories,
        "list": public.list.code if isinstance(public, privacy.ListEntryPublic) else None,
        "objection": public.under_objection,
        "lastmod": lastmod.isoformat(),
        "data": data,
    }


def tombstone_row(tomb: tombstones.Tombstone, list_code: str | None) -> dict[str, Any]:
    """What list pages say of an ended record: which, when, why; no detail of the record."""
    return {
        "kind": tomb.kind.value,
        "id": tomb.id,
        "path": urls.record_path(tomb.kind, tomb.id),
        "ended_on": tomb.ended_on.isoformat(),
        "reason": tomb.reason,
        "reason_name": tomb.label,
        "list": list_code,
    }


def render_record(public: Public, links: urls.Urls) -> str:
    """The page of a public record."""
    path = urls.record_path(public.kind, public.id)
    extra: dict[str, Any] = {}
    if isinstance(public, privacy.ListEntryPublic):
        extra["list_page"] = urls.list_path(public.list.code)
    context = page_context(
        path,
        f"{public.party_name}｜{public.kind.zh}｜{public.decision_doc_no}",
        links,
        r=(shown := public.model_dump(mode="json")),
        search_terms=search.page_terms(shown),
        subject_path=urls.subject_key_path(public.subject.key),
        unit_path=urls.department_path(public.source_unit.credit_code),
        objection_url=links(urls.application_path(public.kind, public.id, "objection")),
        repair_url=links(urls.application_path(public.kind, public.id, "repair")),
        kind_list_path=urls.kind_path(public.kind)
        if public.kind is not models.RecordKind.LIST_ENTRY
        else urls.LISTS,
        **extra,
    )
    return render.render_page("record.html", **context)


def render_tombstone(tomb: tombstones.Tombstone, list_code: str | None, links: urls.Urls) -> str:
    """The page left at an ended record's address: no detail of the record, not indexed."""
    path = urls.record_path(tomb.kind, tomb.id)
    exited = tomb.kind is models.RecordKind.LIST_ENTRY
    notice = "移出名单" if exited else "停止公示"
    back_path, back_title = urls.HOME, "首页"
    if list_code is not None:
        back_path, back_title = urls.list_path(list_code), "名单"
    elif tomb.kind is not models.RecordKind.LIST_ENTRY:
        back_path, back_title = urls.kind_path(tomb.kind), tomb.kind.zh + "列表"
    context = page_context(
        path,
        "已移出名单" if exited else "停止公示",
        links,
        t=tomb.model_dump(mode="json"),
        notice=notice,
        reason=tomb.label,
        back_path=back_path,
        back_title=back_title,
    )
    context["noindex"], context["canonical"] = True, None
    return render.render_page("tombstone.html", **context)


@dataclasses.dataclass(frozen=True)
class Batch:
    """Records of one kind to render: an inclusive id range, or a list of ids."""

    kind: models.RecordKind
    id_from: int | None = None
    id_to: int | None = None
    ids: tuple[int, ...] | None = None


@dataclasses.dataclass(frozen=True)
class Target:
    """Where and as of when a batch renders."""

    on: dt.date
    links: urls.Urls
    folder: Path
    previous: Path | None
    lines: Path | None = None  # the `page_data.Lines` store the records' data lines go into


@dataclasses.dataclass
class Rendered:
    """What a batch produced."""

    rows: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    tombstones: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    subjects: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    files: dict[str, str] = dataclasses.field(default_factory=dict)
    written: int = 0
    kept: int = 0

    def merge(self, other: Rendered) -> None:
        self.rows.update(other.rows)
        self.tombstones.update(other.tombstones)
        self.subjects.update(other.subjects)
        self.files.update(other.files)
        self.written += other.written
        self.kept += other.kept


def render_batch(session: Session, batch: Batch, target: Target) -> Rendered:
    """Render and write the pages of `batch`'s records as of `target.on`."""
    model = models.RECORD_MODELS[batch.kind]
    found = publication.shown_records(
        session, model, target.on, id_from=batch.id_from, id_to=batch.id_to, ids=batch.ids
    )
    done = Rendered()
    data: list[tuple[str, bytes, str]] = []
    project = privacy.FIELDS[batch.kind]
    shape = bulk_schema.SHAPES[batch.kind]
    for record in found:
        assert record.id is not None
        list_code = record.credit_list.code if isinstance(record, models.ListEntry) else None
        tomb = tombstones.tombstone(record, target.on)
        if tomb is not None:
            page = render_tombstone(tomb, list_code, target.links)
            done.tombstones[key(record.KIND, record.id)] = tombstone_row(tomb, list_code)
        else:
            # the fields once, for the page and for its lines in the data files
            fields = project(record, target.on, privacy.parties(record))
            public = cast(Public, shape(**fields))
            page = render_record(public, target.links)
            json_line, csv_line = page_data.lines(batch.kind, fields)
            data.append((key(record.KIND, record.id), json_line, csv_line))
            done.rows[key(record.KIND, record.id)] = row(
                public, record.updated_at.date(), page_data.digest(json_line)
            )
            done.subjects[public.subject.key] = public.subject.model_dump(mode="json")
        path = urls.record_path(record.KIND, record.id)
        done.files[path], fresh = release.write_file(
            target.folder, target.previous, path, page.encode()
        )
        if fresh:
            done.written += 1
        else:
            done.kept += 1
    if target.lines is not None:
        page_data.Lines(target.lines).add(data)
    return done


@functools.cache
def _engine(url: str) -> sa.Engine:
    return db.create_engine(url)


def run_batch(url: str, batch: Batch, target: Target) -> Rendered:
    """`render_batch` in a worker process, on its own connection to the database at `url`."""
    with Session(_engine(url)) as session:
        return render_batch(session, batch, target)
