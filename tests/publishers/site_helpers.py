"""Building a small published site for the publisher tests."""

from __future__ import annotations

import dataclasses
import datetime as dt
import gzip
import json
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from disclosure import endings, models, objections, privacy, sample, urls
from publishers import bulk, feed_builder, release, site
from tests import factories

ON = factories.DEFAULT_ON
BASE_URL = "https://credit.example.gov.cn/gs/"
LINKS = urls.Urls(BASE_URL)
# A natural person's identity number, as a clerk might type it: it must appear nowhere.
RAW_ID = sample.id_number(random.Random(20260601), "440802")
SECRET_FACTS = "隐秘细节甲乙丙：当事人在仓库私藏过期奶粉三百箱"


@dataclasses.dataclass
class Story:
    """The records of the sample site, by role."""

    company: models.Subject
    person: models.Subject
    license: models.License
    penalty: models.Penalty
    person_penalty: models.Penalty
    withdrawn: models.Penalty
    objected: models.Penalty
    entry: models.ListEntry
    red: models.List


def tell(session: Session) -> Story:
    """Stores a handful of records covering every page of the site, and commits."""
    company = factories.add_subject(session, name="湛江市赤坎区鸿达食品有限公司")
    person = factories.add_subject(
        session,
        models.SubjectCategory.NATURAL_PERSON,
        name="陈志强",
        **privacy.person_identity(RAW_ID, factories.ID_KEY),
    )
    license = factories.add_license(session, subject_id=company.id, content="准予食品经营许可")
    penalty = factories.add_penalty(session, subject_id=company.id)
    person_penalty = factories.add_penalty(
        session,
        subject_id=person.id,
        violation_facts=f"当事人（身份证号{RAW_ID}）无证经营烟花爆竹",
        violation_type="无证经营烟花爆竹",
    )
    withdrawn = factories.add_penalty(
        session, subject_id=company.id, violation_facts=SECRET_FACTS, violation_type="秘密类型"
    )
    endings.withdraw(
        session,
        withdrawn,
        kind=models.WithdrawalKind.REVOKED,
        reason="复议撤销",
        ctx=factories.ctx(ON),
    )
    objected = factories.add_penalty(session, subject_id=company.id)
    objections.open_objection(session, objected, grounds="金额有误", ctx=factories.ctx(ON))
    red = factories.add_list(
        session, models.ListKind.RED, code="a-credit", name="纳税信用A级纳税人"
    )
    entry = factories.add_list_entry(session, list_id=red.id, subject_id=company.id)
    session.commit()
    return Story(company, person, license, penalty, person_penalty, withdrawn, objected, entry, red)


def publish(
    engine: sa.Engine,
    out: Path,
    on: dt.date = ON,
    *,
    search: bool = False,
    now: dt.datetime | None = None,
    **options: object,
) -> tuple[release.Release, site.SiteReport]:
    """One publish of the site into `out`."""
    report = site.SiteReport()
    settings = site.SiteOptions(on=on, links=LINKS, search=search, **options)  # type: ignore[arg-type]
    built = release.publish(
        out,
        [(site.NAME, site.builder(engine, settings, report))],
        now=now or dt.datetime.now(dt.UTC),
    )
    return built, report


def publish_all(
    engine: sa.Engine, out: Path, on: dt.date = ON, *, size: int = 100, search: bool = False
) -> release.Release:
    """One publish of everything `gongshi publish` writes: feeds, bulk data and the site."""
    feed_options = feed_builder.FeedOptions(on=on, links=LINKS, size=size)
    bulk_options = bulk.BulkOptions(on=on, links=LINKS)
    site_options = site.SiteOptions(on=on, links=LINKS, search=search)
    return release.publish(
        out,
        [
            (
                feed_builder.NAME,
                feed_builder.builder(engine, feed_options, feed_builder.FeedReport()),
            ),
            (bulk.NAME, bulk.builder(engine, bulk_options, bulk.BulkReport())),
            (site.NAME, site.builder(engine, site_options, site.SiteReport())),
        ],
        now=dt.datetime.now(dt.UTC),
    )


def readable(data: bytes) -> bytes:
    """A published file's bytes as a reader would get them: gzipped files (bulk data, and every
    file of Pagefind's, whatever its name) decompressed, and without the zero-width spaces
    Pagefind puts between the words it segmented."""
    if data.startswith(b"\x1f\x8b"):
        data = gzip.decompress(data)
    return data.replace("\u200b".encode(), b"")


def search_text(folder: Path, bundle: str = "") -> str:
    """Everything the search index bundles under `folder` hold (or bundle `bundle`'s), as text."""
    parts = []
    for path in sorted((folder / urls.SEARCH_BUNDLE / bundle).rglob("*")):
        if path.is_file():
            parts.append(readable(path.read_bytes()).decode(errors="replace"))
    return "".join(parts)


FRICTIONLESS = Path(sys.executable).parent / "frictionless"
# each kind's CSV (gzipped, and uncompressed beside it while under 50 MB) and JSON Lines
RESOURCES = [
    "licenses",
    "licenses-csv",
    "licenses-jsonl",
    "penalties",
    "penalties-csv",
    "penalties-jsonl",
    "list-entries",
    "list-entries-csv",
    "list-entries-jsonl",
]


def validate(folder: Path) -> dict[str, Any]:
    """The report of the real command line on the release's data package (it checks every cell
    against the schema, and the bytes and hashes)."""
    checked = subprocess.run(
        [str(FRICTIONLESS), "validate", "--json", "datapackage.json"],
        cwd=folder / "data",
        capture_output=True,
        text=True,
        check=False,
    )
    report: dict[str, Any] = json.loads(checked.stdout)
    assert (checked.returncode, report["valid"]) == (0, True), checked.stdout[-3000:]
    assert [task["name"] for task in report["tasks"]] == RESOURCES
    return report
