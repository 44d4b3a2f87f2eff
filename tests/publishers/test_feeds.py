import datetime as dt
import os
from pathlib import Path

import feedparser
import sqlalchemy as sa
from sqlmodel import Session, select
from starlette.testclient import TestClient

from api.app import create_app
from disclosure import endings, models, objections, privacy, repairs, settings, urls
from tests import factories
from tests.publishers import site_helpers as helpers

ON = helpers.ON
NEXT = ON + dt.timedelta(days=1)


def feed_files(folder: Path) -> dict[str, bytes]:
    base = folder / "feeds"
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(base.rglob("*")) if p.is_file()
    }


def parsed(folder: Path, name: str, fmt: str) -> feedparser.FeedParserDict:
    result = feedparser.parse((folder / urls.feed_path(name, fmt)).read_bytes())
    assert not result.bozo, result.get("bozo_exception")
    return result


def record_url(kind: models.RecordKind, record_id: int | None) -> str:
    return helpers.LINKS.record(kind, record_id or 0)


def test_every_feed_parses_and_lists_public_records_newest_first(
    engine: sa.Engine, session: Session, tmp_path: Path
) -> None:
    story = helpers.tell(session)
    built = helpers.publish_all(engine, tmp_path / "out")
    files = feed_files(built.folder)
    unit = story.penalty.source_unit.credit_code
    names = {
        "all",
        "exits",
        "withdrawals",
        "repairs",
        "licenses",
        "penalties",
        "list-entries",
        f"departments/{unit}",
        "list-kinds/red",
        "list-kinds/black",
        "list-kinds/watch",
        "lists/a-credit",
    }
    assert set(files) == {urls.feed_path(n, f) for n in names for f in ("rss", "atom")}
    for path in files:
        result = feedparser.parse(files[path])
        assert not result.bozo, (path, result.get("bozo_exception"))
    penalties = parsed(built.folder, "penalties", "atom")
    ids = [e.id for e in penalties.entries]
    expected = [story.objected, story.person_penalty, story.penalty]
    assert ids == [record_url(models.RecordKind.PENALTY, p.id) for p in expected]
    assert penalties.feed.updated == "2026-06-01T00:00:00+08:00"
    links = {(link.rel, link.href) for link in penalties.feed.links}
    assert links == {
        ("alternate", helpers.BASE_URL + "penalties/index.html"),
        ("self", helpers.BASE_URL + "feeds/penalties.atom"),
    }
    first = penalties.entries[0]
    assert first.published == "2026-06-01T00:00:00+08:00"
    assert [(t.term, t.scheme) for t in first.tags] == [
        ("penalty", helpers.BASE_URL + "open-data.html#kind"),
        (story.objected.source_unit.credit_code, helpers.BASE_URL + "open-data.html#department"),
        ("罚款", helpers.BASE_URL + "open-data.html#category"),
    ]
    rss = parsed(built.folder, "penalties", "rss")
    assert [e.id for e in rss.entries] == ids
    assert rss.feed.link == helpers.BASE_URL + "penalties/index.html"
    red = parsed(built.folder, "lists/a-credit", "atom")
    assert [e.id for e in red.entries] == [record_url(models.RecordKind.LIST_ENTRY, story.entry.id)]
    assert len(parsed(built.folder, "all", "rss").entries) == 5


def test_the_exits_feed_announces_a_withdrawal_without_its_details(
    engine: sa.Engine, session: Session, tmp_path: Path
) -> None:
    story = helpers.tell(session)
    built = helpers.publish_all(engine, tmp_path / "out")
    exits = parsed(built.folder, "exits", "rss")
    gone = record_url(models.RecordKind.PENALTY, story.withdrawn.id)
    assert [(e.id, e.link, e.title) for e in exits.entries] == [
        (gone + "#ended", gone, f"停止公示：行政处罚第{story.withdrawn.id}号（依法撤回）")
    ]
    everything = b"".join(feed_files(built.folder).values())
    assert helpers.SECRET_FACTS.encode() not in everything
    assert "秘密类型".encode() not in everything
    assert story.withdrawn.decision_doc_no.encode() not in everything
    linking = {path for path, data in feed_files(built.folder).items() if gone.encode() in data}
    assert linking == {
        urls.feed_path(name, fmt) for name in ("exits", "withdrawals") for fmt in ("rss", "atom")
    }


def test_withdrawals_and_repairs_have_feeds_of_their_own_with_the_public_reason(
    engine: sa.Engine, session: Session, tmp_path: Path
) -> None:
    story = helpers.tell(session)
    objected = story.objected
    (objection,) = session.exec(select(models.Objection)).all()
    objections.resolve_objection(
        session,
        objection,
        outcome=models.ObjectionOutcome.WITHDRAWN,
        reason=f"经核查，当事人（{helpers.RAW_ID}）异议成立",
        ctx=factories.ctx(NEXT),
    )
    repaired = factories.add_penalty(session, on=ON - dt.timedelta(days=200))
    repair = repairs.apply_for_repair(
        session, repaired, commitment="已整改", ctx=factories.ctx(NEXT)
    )
    repairs.approve_repair(session, repair, ctx=factories.ctx(NEXT))
    expired = factories.add_penalty(session, on=ON - dt.timedelta(days=400))
    session.commit()
    built = helpers.publish_all(engine, tmp_path / "out", NEXT)

    def url(record: models.Penalty) -> str:
        return record_url(models.RecordKind.PENALTY, record.id) + "#ended"

    masked = privacy.mask_id_number(helpers.RAW_ID)
    for fmt in ("rss", "atom"):
        withdrawals = parsed(built.folder, "withdrawals", fmt)
        assert [(e.id, e.title, e.summary) for e in withdrawals.entries] == [
            (
                url(objected),
                f"停止公示：行政处罚第{objected.id}号（异议成立）",
                "该行政处罚信息自2026年6月2日起停止公示，原因：异议成立。"
                f"说明理由：经核查，当事人（{masked}）异议成立",
            ),
            (
                url(story.withdrawn),
                f"停止公示：行政处罚第{story.withdrawn.id}号（依法撤回）",
                "该行政处罚信息自2026年6月1日起停止公示，原因：依法撤回。说明理由：复议撤销",
            ),
        ]
        repaired_feed = parsed(built.folder, "repairs", fmt)
        assert [(e.id, e.title) for e in repaired_feed.entries] == [
            (url(repaired), f"停止公示：行政处罚第{repaired.id}号（信用修复）")
        ]
        exits = parsed(built.folder, "exits", fmt)
        assert {url(expired), url(repaired), url(objected)} < {e.id for e in exits.entries}
    everything = b"".join(feed_files(built.folder).values())
    assert helpers.RAW_ID.encode() not in everything


def test_an_unchanged_feed_is_byte_identical_and_keeps_its_time(
    engine: sa.Engine, session: Session, tmp_path: Path
) -> None:
    helpers.tell(session)
    first = helpers.publish_all(engine, tmp_path / "out")
    before = feed_files(first.folder)
    times = {p: os.stat(first.folder / p).st_mtime_ns for p in before}
    second = helpers.publish_all(engine, tmp_path / "out")
    assert feed_files(second.folder) == before
    assert {p: os.stat(second.folder / p).st_mtime_ns for p in before} == times


def test_a_withdrawn_record_leaves_every_feed_with_a_tombstone_and_an_exit_entry(
    engine: sa.Engine, session: Session, tmp_path: Path
) -> None:
    story = helpers.tell(session)
    first = helpers.publish_all(engine, tmp_path / "out")
    ids_before = [e.id for e in parsed(first.folder, "all", "atom").entries]
    endings.withdraw(
        session,
        story.penalty,
        kind=models.WithdrawalKind.REVOKED,
        reason="复议撤销",
        ctx=factories.ctx(NEXT),
    )
    later = factories.add_license(session, NEXT)
    session.commit()
    second = helpers.publish_all(engine, tmp_path / "out", NEXT)
    ref = record_url(models.RecordKind.PENALTY, story.penalty.id)
    ids_after = [e.id for e in parsed(second.folder, "all", "atom").entries]
    assert ids_after == [record_url(models.RecordKind.LICENSE, later.id)] + [
        i for i in ids_before if i != ref
    ]
    unit = story.penalty.source_unit.credit_code
    for name in ("all", "penalties", f"departments/{unit}"):
        for fmt in ("rss", "atom"):
            assert ref not in [e.id for e in parsed(second.folder, name, fmt).entries]
        atom = (second.folder / urls.feed_path(name, "atom")).read_text()
        assert f'<at:deleted-entry ref="{ref}" when="2026-06-02T00:00:00+08:00"/>' in atom, name
    assert "deleted-entry" not in (second.folder / urls.feed_path("licenses", "atom")).read_text()
    exits = parsed(second.folder, "exits", "atom")
    assert [e.id for e in exits.entries] == [
        ref + "#ended",
        record_url(models.RecordKind.PENALTY, story.withdrawn.id) + "#ended",
    ]
    # the tombstone stays in the next release too
    third = helpers.publish_all(engine, tmp_path / "out", NEXT)
    assert f'ref="{ref}"' in (third.folder / urls.feed_path("all", "atom")).read_text()


def test_feeds_hold_the_newest_n_entries(
    engine: sa.Engine, session: Session, tmp_path: Path
) -> None:
    helpers.tell(session)
    built = helpers.publish_all(engine, tmp_path / "out", size=2)
    assert len(parsed(built.folder, "all", "atom").entries) == 2
    assert len(parsed(built.folder, "penalties", "rss").entries) == 2


def test_feeds_are_served_with_their_types_and_answer_conditional_gets(
    engine: sa.Engine, session: Session, app_settings: settings.Settings
) -> None:
    helpers.tell(session)
    helpers.publish_all(engine, app_settings.releases_dir)
    with TestClient(create_app(app_settings, engine, as_of=ON)) as client:
        first = {
            path: client.get(path)
            for path in ("/feeds/all.xml", "/feeds/all.atom", "/data/penalties.csv.gz")
        }
        helpers.publish_all(engine, app_settings.releases_dir)  # the same content again
        assert {path: r.headers["content-type"] for path, r in first.items()} == {
            "/feeds/all.xml": "application/rss+xml",
            "/feeds/all.atom": "application/atom+xml",
            "/data/penalties.csv.gz": "application/gzip",
        }
        for path, response in first.items():
            again = client.get(path, headers={"If-None-Match": response.headers["etag"]})
            assert (again.status_code, again.content) == (304, b""), path
            assert again.headers["etag"] == response.headers["etag"]
            since = client.get(
                path, headers={"If-Modified-Since": response.headers["last-modified"]}
            )
            assert since.status_code == 304
        stale = client.get("/feeds/all.atom", headers={"If-None-Match": '"other"'})
        assert (stale.status_code, stale.content) == (200, first["/feeds/all.atom"].content)
