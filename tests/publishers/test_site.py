import datetime as dt
import gzip
import os
import re
from pathlib import Path

import orjson
import sqlalchemy as sa
from sqlmodel import Session, select
from starlette.testclient import TestClient

from api.app import create_app
from disclosure import endings, models, objections, privacy, settings, urls
from publishers import pages, release, site, sitemaps
from tests import factories
from tests.publishers import site_helpers as helpers

# An 18-character identity number with a plausible birth date (19xx/20xx, month, day).
ID_NUMBER = re.compile(
    rb"(?<![0-9A-Za-z])\d{6}(19|20)\d{2}(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])\d{3}[\dXx](?![0-9A-Za-z])"
)


def tree(folder: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(folder)): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def test_the_site_has_every_page_and_nothing_of_a_withdrawn_record(
    engine: sa.Engine, session: Session, tmp_path: Path
) -> None:
    story = helpers.tell(session)
    built, report = helpers.publish(engine, tmp_path / "out")
    current = tmp_path / "out" / "current"
    assert current.resolve() == built.folder
    files = tree(current)
    penalty = urls.record_path(models.RecordKind.PENALTY, story.penalty.id or 0)
    gone = urls.record_path(models.RecordKind.PENALTY, story.withdrawn.id or 0)
    assert files["gone.txt"] == f"{gone}\n".encode()
    assert (report.public, report.gone) == (5, 1)
    for path in (
        "index.html",
        "licenses/index.html",
        "penalties/index.html",
        "lists/index.html",
        "lists/a-credit.html",
        "departments/index.html",
        "categories/index.html",
        f"subjects/{story.company.credit_code}.html",
        f"subjects/P{story.person.id}.html",
        "search/index.html",
        "open-data.html",
        "rules.html",
        "robots.txt",
        "sitemap.xml",
        "assets/site.css",
        penalty,
    ):
        assert path in files, path
    tombstone = files[gone].decode()
    assert '<meta name="robots" content="noindex">' in tombstone
    assert "已于 2026年6月1日停止公示" in tombstone
    assert "原因：依法撤回" in tombstone
    everything = b"".join(files.values())
    assert helpers.SECRET_FACTS.encode() not in everything
    assert "秘密类型".encode() not in everything
    assert story.withdrawn.decision_doc_no.encode() not in everything
    # only the announcements of exits link to the tombstone: no list, subject page or sitemap
    linking = {path for path, data in files.items() if gone.encode() in data}
    assert linking == {"gone.txt", "index.html"}


def test_no_published_file_shows_an_identity_number(
    engine: sa.Engine, session: Session, tmp_path: Path
) -> None:
    story = helpers.tell(session)
    helpers.publish_all(engine, tmp_path / "out", search=True)
    files = {
        path: helpers.readable(data) for path, data in tree(tmp_path / "out" / "current").items()
    }
    assert any(path.startswith("feeds/") for path in files)
    # the search index is read as text: it holds the masked number
    shown = privacy.mask_id_number(helpers.RAW_ID).encode()
    assert shown in b"".join(
        data for path, data in files.items() if path.startswith(urls.SEARCH_BUNDLE)
    )
    assert any(path.startswith("data/") for path in files)
    leaks = {
        path: ID_NUMBER.findall(data)
        for path, data in files.items()
        if ID_NUMBER.search(data) or helpers.RAW_ID.encode() in data
    }
    assert leaks == {}
    # nor any detail of the withdrawn record, in any page, feed, bulk file or search bundle
    search_text = helpers.search_text(tmp_path / "out" / "current")
    assert story.person_penalty.decision_doc_no in search_text
    assert ID_NUMBER.findall(search_text.encode()) == []
    everything = b"".join(files.values()) + search_text.encode()
    assert helpers.SECRET_FACTS.encode() not in everything
    assert story.withdrawn.decision_doc_no.encode() not in everything
    path = urls.record_path(models.RecordKind.PENALTY, story.person_penalty.id or 0)
    page = (tmp_path / "out" / "current" / path).read_text()
    masked = helpers.RAW_ID[:6] + "********" + helpers.RAW_ID[-4:]
    assert f"<dt>证件号码</dt><dd>{masked}</dd>" in page
    assert f"当事人（身份证号{masked}）无证经营烟花爆竹" in page


def test_record_page_labels_every_public_field(
    engine: sa.Engine, session: Session, tmp_path: Path
) -> None:
    story = helpers.tell(session)
    helpers.publish(engine, tmp_path / "out")
    page = (
        tmp_path
        / "out/current"
        / urls.record_path(models.RecordKind.PENALTY, story.objected.id or 0)
    ).read_text()
    fields = dict(re.findall(r"<dt>(.*?)</dt><dd[^>]*>(.*?)</dd>", page))
    unit = story.objected.source_unit
    assert {k: re.sub(r"<[^>]+>", "", v) for k, v in fields.items()} == {
        "行政相对人名称": "湛江市赤坎区鸿达食品有限公司",
        "行政相对人类别": "法人及非法人组织",
        "统一社会信用代码": story.company.credit_code,
        "法定代表人": "李伟",
        "行政处罚决定书文号": story.objected.decision_doc_no,
        "违法行为类型": "销售不符合食品安全标准的食品",
        "违法事实": "抽检发现当事人销售的散装花生油酸价超标",
        "处罚依据": "《中华人民共和国食品安全法》第一百二十四条第一款",
        "处罚类别": "罚款",
        "处罚内容": "罚款2000元",
        "罚款金额（万元）": "0.2 万元（2,000.00 元）",
        "处罚决定日期": "2026年5月29日",
        "处罚有效期": "2026年6月13日",
        "公示截止期": "2027年5月29日",
        "处罚机关": unit.name,
        "处罚机关统一社会信用代码": unit.credit_code,
        "数据来源单位": unit.name,
        "数据来源单位统一社会信用代码": unit.credit_code,
        "公示日期": "2026年6月1日",
    }
    assert "<strong>异议处理中</strong>：行政相对人于 2026年6月1日 对本条信息提出异议" in page


def test_publishing_twice_changes_nothing_and_keeps_modification_times(
    engine: sa.Engine, session: Session, tmp_path: Path
) -> None:
    helpers.tell(session)
    first, _ = helpers.publish(engine, tmp_path / "out", search=True)
    before = tree(first.folder)
    times = {p: os.stat(first.folder / p).st_mtime_ns for p in before}
    second, report = helpers.publish(engine, tmp_path / "out", search=True)
    assert second.id != first.id
    assert tree(second.folder) == before
    assert {p: os.stat(second.folder / p).st_mtime_ns for p in before} == times
    assert (report.incremental, report.pages_rendered, second.written) == (True, 0, 0)


def test_a_full_publish_renders_byte_identical_pages(
    engine: sa.Engine, session: Session, tmp_path: Path
) -> None:
    helpers.tell(session)
    first, _ = helpers.publish(engine, tmp_path / "a")
    second, report = helpers.publish(engine, tmp_path / "b")
    assert report.incremental is False
    assert tree(first.folder) == tree(second.folder)


def test_an_incremental_publish_renders_only_what_changed(
    engine: sa.Engine, session: Session, tmp_path: Path
) -> None:
    story = helpers.tell(session)
    helpers.publish(engine, tmp_path / "out")
    later = helpers.ON + dt.timedelta(days=1)
    endings.withdraw(
        session,
        story.penalty,
        kind=models.WithdrawalKind.CHANGED,
        reason="决定变更",
        ctx=factories.ctx(later),
    )
    added = factories.add_license(session, on=later, published_on=later)
    session.commit()
    built, report = helpers.publish(engine, tmp_path / "out", later)
    assert (report.incremental, report.records_rendered) == (True, 2)
    assert (report.public, report.gone) == (5, 2)
    gone = (built.folder / "gone.txt").read_text().splitlines()
    assert urls.record_path(models.RecordKind.PENALTY, story.penalty.id or 0) in gone
    full, full_report = helpers.publish(engine, tmp_path / "fresh", later)
    assert full_report.incremental is False
    assert tree(full.folder) == tree(built.folder)
    assert urls.record_path(models.RecordKind.LICENSE, added.id or 0) in tree(built.folder)


def bundle_files(folder: Path) -> dict[str, tuple[int, bytes]]:
    """Path → (inode, bytes) of every file of the search index bundles."""
    return {
        str(path.relative_to(folder)): (path.stat().st_ino, path.read_bytes())
        for path in sorted((folder / urls.SEARCH_BUNDLE).rglob("*"))
        if path.is_file()
    }


def test_an_incremental_publish_indexes_only_the_bundles_whose_pages_changed(
    engine: sa.Engine, session: Session, tmp_path: Path
) -> None:
    story = helpers.tell(session)
    secret = "仓库另存冷冻肉品两千公斤"
    extra = factories.add_penalty(session, subject_id=story.company.id, violation_facts=secret)
    session.commit()
    # four record ids per bundle: licenses-0, list-entries-0, penalties-0 (ids 1 to 3, the
    # third withdrawn) and penalties-4 (ids 4 and 5)
    first, report = helpers.publish(engine, tmp_path / "out", search=True, search_range=4)
    assert (report.search_bundles, report.search_bundles_kept, report.search_pages) == (4, 0, 6)
    assert secret in helpers.search_text(first.folder, "penalties-4")
    later = helpers.ON + dt.timedelta(days=1)
    endings.withdraw(
        session,
        extra,
        kind=models.WithdrawalKind.REVOKED,
        reason="复议撤销",
        ctx=factories.ctx(later),
    )
    added = factories.add_license(session, on=later, published_on=later, content="准予延续许可")
    session.commit()
    assert (extra.id, added.id) == (5, 2)

    built, report = helpers.publish(engine, tmp_path / "out", later, search=True, search_range=4)
    assert report.incremental is True
    # penalties-4 lost a page, licenses-0 gained one; the two others are carried over
    assert (report.search_bundles, report.search_bundles_kept, report.search_pages) == (2, 2, 3)
    before, after = bundle_files(first.folder), bundle_files(built.folder)
    kept = {p: f for p, f in before.items() if p.split("/")[2] in ("penalties-0", "list-entries-0")}
    assert kept and {p: after[p] for p in kept} == kept  # the same files, linked
    assert secret not in helpers.search_text(built.folder)
    assert "准予延续许可" in helpers.search_text(built.folder, "licenses-0")
    assert orjson.loads(after[urls.SEARCH_BUNDLES][1])["bundles"] == [
        {"name": name, "tag": built_state(tmp_path / "out", built)[name][:16]}
        for name in ("licenses-0", "list-entries-0", "penalties-0", "penalties-4")
    ]
    # and a full publish of the same day indexes the same pages into the same bundles
    full, full_report = helpers.publish(
        engine, tmp_path / "fresh", later, search=True, search_range=4
    )
    assert (full_report.search_bundles, full_report.search_pages) == (4, 6)
    assert built_state(tmp_path / "fresh", full) == built_state(tmp_path / "out", built)


def built_state(out: Path, built: release.Release) -> dict[str, str]:
    """The search bundles a release's manifest names, with their keys."""
    manifest = orjson.loads(gzip.decompress(release.manifest_path(out, built.id).read_bytes()))
    bundles: dict[str, str] = manifest["state"][site.NAME]["search"]["bundles"]
    return bundles


def test_records_leave_the_site_on_their_last_day_without_any_event(
    engine: sa.Engine, session: Session, tmp_path: Path
) -> None:
    story = helpers.tell(session)
    helpers.publish(engine, tmp_path / "out")
    assert story.penalty.publicity_end_on is not None
    after = story.penalty.publicity_end_on + dt.timedelta(days=1)
    built, report = helpers.publish(engine, tmp_path / "out", after)
    assert report.incremental is True
    gone = (built.folder / "gone.txt").read_text().splitlines()
    assert urls.record_path(models.RecordKind.PENALTY, story.penalty.id or 0) in gone
    full, _ = helpers.publish(engine, tmp_path / "fresh", after)
    assert tree(full.folder) == tree(built.folder)


def test_sitemaps_split_past_their_limit() -> None:
    entries: list[sitemaps.Entry] = [
        (f"records/penalties/{n}.html", "2026-06-01") for n in range(1, 6)
    ]
    entries.append(("index.html", None))
    files = sitemaps.render_sitemaps(helpers.LINKS, entries, limit=4)
    assert sorted(files) == ["sitemap-1.xml", "sitemap-2.xml", "sitemap.xml"]
    assert files["sitemap.xml"] == (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n'
        "<sitemap><loc>https://credit.example.gov.cn/gs/sitemap-1.xml</loc>"
        "<lastmod>2026-06-01</lastmod></sitemap>\n"
        "<sitemap><loc>https://credit.example.gov.cn/gs/sitemap-2.xml</loc>"
        "<lastmod>2026-06-01</lastmod></sitemap>\n"
        "</sitemapindex>\n"
    )
    assert files["sitemap-2.xml"] == (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n'
        "<url><loc>https://credit.example.gov.cn/gs/records/penalties/4.html</loc>"
        "<lastmod>2026-06-01</lastmod></url>\n"
        "<url><loc>https://credit.example.gov.cn/gs/records/penalties/5.html</loc>"
        "<lastmod>2026-06-01</lastmod></url>\n"
        "</urlset>\n"
    )
    assert sitemaps.render_robots(helpers.LINKS) == (
        "User-agent: *\nAllow: /\n\nSitemap: https://credit.example.gov.cn/gs/sitemap.xml\n"
    )


def test_the_sitemap_lists_public_pages_only(
    engine: sa.Engine, session: Session, tmp_path: Path
) -> None:
    story = helpers.tell(session)
    built, _ = helpers.publish(engine, tmp_path / "out", sitemap_limit=10)
    texts = [(built.folder / p).read_text() for p in built.files if p.startswith("sitemap")]
    locs = {loc for text in texts for loc in re.findall(r"<loc>(.*?)</loc>", text)}
    gone = urls.record_path(models.RecordKind.PENALTY, story.withdrawn.id or 0)
    assert helpers.BASE_URL + gone not in locs
    assert (
        helpers.BASE_URL + urls.record_path(models.RecordKind.LICENSE, story.license.id or 0)
        in locs
    )
    assert release.releases(tmp_path / "out") == [built.id]


def test_an_incremental_publish_over_workers_writes_what_a_full_one_does(
    engine: sa.Engine, session: Session, tmp_path: Path
) -> None:
    story = helpers.tell(session)
    # three pages of penalties, newest first: withdrawing two on the first page moves a record
    # from each later page onto the one before
    penalties = [
        factories.add_penalty(
            session, subject_id=story.company.id, decision_on=helpers.ON - dt.timedelta(days=n)
        )
        for n in range(10, 10 + 2 * pages.PER_PAGE + 10)
    ]
    session.commit()
    url = engine.url.render_as_string(hide_password=False)
    first, _ = helpers.publish(engine, tmp_path / "out", database_url=url, workers=2)
    later = helpers.ON + dt.timedelta(days=1)
    for penalty in penalties[:2]:
        endings.withdraw(
            session,
            penalty,
            kind=models.WithdrawalKind.CHANGED,
            reason="决定变更",
            ctx=factories.ctx(later),
        )
    session.commit()
    built, report = helpers.publish(engine, tmp_path / "out", later, database_url=url, workers=2)
    full, full_report = helpers.publish(engine, tmp_path / "fresh", later)
    assert (report.incremental, report.records_rendered) == (True, 2)
    assert tree(built.folder) == tree(full.folder)
    assert report.pages_rendered < full_report.pages_rendered
    changed = {
        path
        for path, data in tree(built.folder).items()
        if not (first.folder / path).exists() or (first.folder / path).read_bytes() != data
    }
    assert {"penalties/index.html", "penalties/2.html", "penalties/3.html"} <= changed
    # what did not change is the previous release's file itself: same bytes, same time
    for path in tree(built.folder).keys() - changed:
        assert os.stat(built.folder / path).st_ino == os.stat(first.folder / path).st_ino, path


def test_a_tombstone_page_answers_410_with_the_end_and_the_public_reason_only(
    engine: sa.Engine, session: Session, app_settings: settings.Settings
) -> None:
    story = helpers.tell(session)
    (objection,) = session.exec(select(models.Objection)).all()
    objections.resolve_objection(
        session,
        objection,
        outcome=models.ObjectionOutcome.WITHDRAWN,
        reason=f"经核查，当事人（{helpers.RAW_ID}）异议成立，原处罚决定主体有误",
        ctx=factories.ctx(helpers.ON),
    )
    session.commit()
    helpers.publish_all(engine, app_settings.releases_dir)
    masked = privacy.mask_id_number(helpers.RAW_ID)
    with TestClient(create_app(app_settings, engine, as_of=helpers.ON)) as client:
        bodies = {}
        for record, label, said in (
            (story.withdrawn, "依法撤回", "复议撤销"),
            (story.objected, "异议成立", f"经核查，当事人（{masked}）异议成立，原处罚决定主体有误"),
        ):
            response = client.get("/" + urls.record_path(models.RecordKind.PENALTY, record.id or 0))
            assert response.status_code == 410
            notice = re.search(r'<div class="notice tombstone".*?</div>', response.text, re.S)
            assert notice is not None
            lines = notice[0].splitlines()
            assert lines[2:] == [f"<p>原因：{label}</p>", f"<p>说明理由：{said}</p>", "</div>"]
            bodies[record.id] = response.text
    for record in (story.withdrawn, story.objected):
        text = bodies[record.id]
        for detail in (record.decision_doc_no, record.violation_facts, record.content):
            assert detail not in text
        assert story.company.name not in text
        assert helpers.RAW_ID not in text


def test_a_node_serves_what_the_release_lists_and_nothing_copied_in_beside_it(
    engine: sa.Engine, session: Session, app_settings: settings.Settings
) -> None:
    helpers.tell(session)
    built = helpers.publish_all(engine, app_settings.releases_dir, search=True)
    folder = built.folder
    published = tree(folder)
    assert set(published) == set(built.files)  # the listing names every file, pagefind's too
    for stray in (".env", "notes.txt", "records/penalties/1.html~", "search/extra.js", "data/x"):
        (folder / stray).parent.mkdir(parents=True, exist_ok=True)
        (folder / stray).write_text("DATABASE_URL=postgresql://clerk:secret@db/gongshi")
    with TestClient(create_app(app_settings, engine, as_of=helpers.ON)) as client:
        strays = {
            path: client.get("/" + path).status_code
            for path in (
                ".env",
                "notes.txt",
                "records/penalties/1.html~",
                "search/extra.js",
                "data/x",
            )
        }
        served = {path: client.get("/" + path).status_code for path in sorted(published)[::7]}
        folders = [client.get(path).status_code for path in ("/", "/departments/")]
    assert strays == dict.fromkeys(strays, 404)
    assert set(served.values()) <= {200, 410}, served
    assert 200 in served.values()
    assert folders == [200, 200]
