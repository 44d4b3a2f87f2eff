"""The data beside every list and subject page: its .json and .csv hold exactly the records the
page shows, as the bulk files have them, read as Excel reads a CSV; they follow the records out
on the right day, and an incremental publish writes what a full one does."""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import quote

import sqlalchemy as sa
from sqlmodel import Session

from disclosure import endings, models, urls, workflows
from publishers import page_data, release
from tests import factories
from tests.publishers import site_helpers as helpers

RECORDS_TABLE = re.compile(r'<table class="records">.*?</table>', re.S)
RECORD_LINK = re.compile(r'href="(?:\.\./)*records/([\w-]+)/(\d+)\.html"')
KINDS = {folder: kind for kind, folder in urls.KIND_FOLDERS.items()}
# what a mixed page's CSV starts with: the columns every kind shares
COMMON = ["记录编号", "记录类型", "主体标识", "行政相对人类别", "行政相对人名称"]


def tree(folder: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(folder)): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def shown(html: str) -> list[tuple[str, int]]:
    """The records a page's record tables show, in order: (kind value, id)."""
    found = []
    for table in RECORDS_TABLE.findall(html):
        for folder, record_id in RECORD_LINK.findall(table):
            found.append((KINDS[folder].value, int(record_id)))
    return found


def excel_rows(data: bytes) -> list[dict[str, str]]:
    """A CSV as Excel opens it: UTF-8 only with its BOM, the first row the headers."""
    assert data.startswith("\ufeff".encode())
    text = data.decode("utf-8-sig")
    assert "\r\n" in text
    return list(csv.DictReader(io.StringIO(text, newline="")))


def bulk(folder: Path) -> tuple[dict[tuple[str, int], dict[str, str]], dict[tuple[str, int], Any]]:
    """Every record of the bulk files by (kind, id): its CSV row and its JSON Lines object."""
    rows, objects = {}, {}
    for kind in models.RecordKind:
        for row in excel_rows(
            gzip.decompress((folder / urls.data_path(kind, "csv.gz")).read_bytes())
        ):
            rows[(kind.value, int(row["记录编号"]))] = row
        text = gzip.decompress((folder / urls.data_path(kind, "jsonl.gz")).read_bytes())
        for line in text.splitlines():
            found = json.loads(line)
            objects[(kind.value, found["id"])] = found
    return rows, objects


def data_pages(files: dict[str, bytes]) -> list[str]:
    """The pages that link data files beside them."""
    return sorted(
        path
        for path, data in files.items()
        if path.endswith(".html") and b'class="data-files"' in data
    )


def check_release(folder: Path) -> dict[str, list[tuple[str, int]]]:
    """Checks every data page of the release against its page and the bulk files; returns the
    records each page shows."""
    files = tree(folder)
    bulk_rows, bulk_objects = bulk(folder)
    pages = data_pages(files)
    seen = {}
    for path in pages:
        html = files[path].decode()
        json_path, csv_path = (page_data.path_for(path, fmt) for fmt in ("json", "csv"))
        root = "../" * path.count("/")
        # the page links both, and names them for feed readers and crawlers
        for data_path, media in ((json_path, "application/json"), (csv_path, "text/csv")):
            href = f'href="{root}{quote(data_path)}"'
            assert f'<a {href} type="{media}" download>' in html, path
            assert f'<link rel="alternate" type="{media}"' in html, path
        records = shown(html)
        document = json.loads(files[json_path])
        assert [(r["kind"], r["id"]) for r in document["records"]] == records, path
        assert document["records"] == [bulk_objects[key] for key in records], path
        assert document["license"] == "CC-BY-4.0"
        assert document["url"] == helpers.BASE_URL + path
        rows = excel_rows(files[csv_path])
        assert [(r["记录类型"], int(r["记录编号"])) for r in rows] == records, path
        for row, key in zip(rows, records, strict=True):
            # the record's bulk cells under the same headers, nothing in the other kinds' columns
            expected = dict.fromkeys(row, "") | bulk_rows[key]
            assert row == expected, (path, key)
        seen[path] = records
    return seen


def test_each_page_data_holds_exactly_the_records_it_shows(
    engine: sa.Engine, session: Session, tmp_path: Path
) -> None:
    story = helpers.tell(session)
    # a clerk's text that a spreadsheet would run: neutralised as in the bulk CSV
    formula = factories.add_penalty(
        session, subject_id=story.company.id, content='=HYPERLINK("http://x","点我")'
    )
    session.commit()
    folder = helpers.publish_all(engine, tmp_path / "out").folder
    seen = check_release(folder)
    company = f"subjects/{story.company.credit_code}.html"
    person = f"subjects/P{story.person.id}.html"
    penalty = models.RecordKind.PENALTY.value
    kinds_of = {path: {kind for kind, _id in records} for path, records in seen.items()}
    # every list, department, category, named list and subject page has them
    for path in (
        "licenses/index.html",
        "penalties/index.html",
        "lists/a-credit.html",
        company,
        person,
    ):
        assert path in seen, path
    assert any(p.startswith("departments/") and p != urls.DEPARTMENTS for p in seen)
    assert any(p.startswith("categories/") and p != urls.CATEGORIES for p in seen)
    assert kinds_of[company] == {"license", "penalty", "list_entry"}
    assert seen[person] == [(penalty, story.person_penalty.id)]
    assert (penalty, story.withdrawn.id) not in {key for r in seen.values() for key in r}
    files = tree(folder)
    # a page of one kind has the bulk file's header; a mixed one every kind's columns
    header = files["penalties/index.csv"].decode("utf-8-sig").splitlines()[0]
    bulk_header = gzip.decompress(files[urls.data_path(models.RecordKind.PENALTY, "csv.gz")])
    assert header == bulk_header.decode("utf-8-sig").splitlines()[0]
    mixed = files[page_data.path_for(company, "csv")].decode("utf-8-sig").splitlines()[0]
    assert mixed.split(",")[:5] == COMMON
    assert {"许可类别", "处罚类别", "名单名称"} <= set(mixed.split(","))
    rows = excel_rows(files["penalties/index.csv"])
    (cell,) = [r["处罚内容"] for r in rows if r["记录编号"] == str(formula.id)]
    assert cell == '\'=HYPERLINK("http://x","点我")'
    # the search page names the server's feed of its search
    assert (
        '<link id="search-feed" rel="alternate" type="application/atom+xml" '
        f'title="搜索结果订阅（Atom）" href="{helpers.BASE_URL}feeds/search.atom">'
    ) in files[urls.SEARCH].decode()
    # listed in the release's listing, as every file it serves
    listed = set(release.current(tmp_path / "out").files)  # type: ignore[union-attr]
    assert {page_data.path_for(company, "json"), "penalties/index.csv"} <= listed


def test_the_open_data_page_documents_every_file_and_the_licence(
    engine: sa.Engine, session: Session, tmp_path: Path
) -> None:
    helpers.tell(session)
    folder = helpers.publish_all(engine, tmp_path / "out").folder
    text = (folder / urls.OPEN_DATA).read_text()
    for linked in (
        "data/datapackage.json",
        "data/SHA256SUMS",
        "data/releases.json",
        "data/penalties.csv.gz",
        "data/penalties.csv",
        "data/penalties.jsonl.gz",
        "licenses/index.csv",
    ):
        assert f'href="{linked}"' in text, linked
    for said in ("changes(after:", "endCursor", "changes-&lt;发布编号&gt;.jsonl.gz", '"DEL"'):
        assert said in text, said
    assert '<a href="https://creativecommons.org/licenses/by/4.0/" rel="license">' in text
    assert 'id="page-data"' in text


def test_an_exit_and_an_expiry_leave_the_data_files_on_their_day(
    engine: sa.Engine, session: Session, tmp_path: Path
) -> None:
    story = helpers.tell(session)
    out = tmp_path / "out"
    helpers.publish_all(engine, out)
    penalty = (models.RecordKind.PENALTY.value, story.penalty.id)
    entry = (models.RecordKind.LIST_ENTRY.value, story.entry.id)
    assert story.penalty.publicity_end_on is not None
    last_day = story.penalty.publicity_end_on
    company = f"subjects/{story.company.credit_code}.html"
    # the entry exits today: the next publish drops it from the list's and subject's data
    endings.exit_list_entry(
        session, story.entry, reason=models.EndReason.REVOKED, ctx=factories.ctx(helpers.ON)
    )
    session.commit()
    seen = check_release(_publish(engine, out, helpers.ON).folder)
    assert entry not in seen[company] and entry not in seen["lists/a-credit.html"]
    assert penalty in seen[company]
    # on its last day of publicity the penalty is still there; the day after, gone
    seen = check_release(_publish(engine, out, last_day).folder)
    assert penalty in seen["penalties/index.html"] + seen.get("penalties/2.html", [])
    after = last_day + dt.timedelta(days=1)
    built = _publish(engine, out, after)
    seen = check_release(built.folder)
    assert all(penalty not in records for records in seen.values())
    assert penalty not in seen[company]
    # and the incremental publishes wrote what a full publish of that day writes
    full = _publish(engine, tmp_path / "fresh", after)
    assert _site(tree(built.folder)) == _site(tree(full.folder))


def test_a_correction_rewrites_the_data_of_every_page_showing_the_record(
    engine: sa.Engine, session: Session, tmp_path: Path
) -> None:
    story = helpers.tell(session)
    out = tmp_path / "out"
    helpers.publish_all(engine, out)
    # a field no list shows: the pages look the same, their data does not
    workflows.correct(
        session, story.penalty, {"violation_facts": "更正后的违法事实"}, factories.ctx(helpers.ON)
    )
    session.commit()
    built = _publish(engine, out, helpers.ON)
    check_release(built.folder)
    company = page_data.path_for(f"subjects/{story.company.credit_code}.html", "json")
    assert "更正后的违法事实" in (built.folder / company).read_text()
    assert "更正后的违法事实" in (built.folder / "penalties/index.csv").read_text("utf-8-sig")
    full = _publish(engine, tmp_path / "fresh", helpers.ON)
    assert _site(tree(built.folder)) == _site(tree(full.folder))


def test_a_page_that_goes_away_takes_its_data_files(
    engine: sa.Engine, session: Session, tmp_path: Path
) -> None:
    story = helpers.tell(session)
    out = tmp_path / "out"
    first = helpers.publish(engine, out)[0]
    person = f"subjects/P{story.person.id}"
    assert {f"{person}.html", f"{person}.json", f"{person}.csv"} <= set(first.files)
    endings.withdraw(
        session,
        story.person_penalty,
        kind=models.WithdrawalKind.REVOKED,
        reason="复议撤销",
        ctx=factories.ctx(helpers.ON),
    )
    session.commit()
    second, report = helpers.publish(engine, out)
    assert report.incremental is True
    assert not {f"{person}.html", f"{person}.json", f"{person}.csv"} & set(second.files)
    assert not (second.folder / f"{person}.json").exists()
    # the publisher keeps each release's data lines beside it, and prunes them with it
    assert second.beside(page_data.STORE_SUFFIX).is_file()


def _publish(engine: sa.Engine, out: Path, on: dt.date) -> release.Release:
    return helpers.publish_all(engine, out, on)


def _site(files: dict[str, bytes]) -> dict[str, bytes]:
    """A release's site: its files but the bulk data and feeds (which carry the history of
    earlier releases) and the open-data page that links them."""
    named = ("data/", "feeds/", urls.OPEN_DATA)
    return {path: data for path, data in files.items() if not path.startswith(named)}
