"""The credit report (公共信用信息报告): its PDF read back with pdftotext and rendered with
pdftoppm, `gongshi serve`'s /reports/<key>.pdf, and the verification of its code."""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import re
import subprocess
from pathlib import Path

import pytest
import sqlalchemy as sa
from PIL import Image
from sqlmodel import Session
from starlette.testclient import TestClient

from api.app import create_app
from disclosure import (
    credit_report,
    endings,
    lifecycle,
    list_measures,
    models,
    report_codes,
    settings,
    standing,
    workflows,
)
from disclosure.queries import change_log
from gongshi import credit_report as made_reports
from gongshi import report_pdf, served_reports
from tests import factories
from tests.pdf import flat, needs_pdf, pdf_text
from tests.publishers import site_helpers as helpers

ON = factories.DEFAULT_ON
LATER = ON + dt.timedelta(days=3)
SECRET = bytes.fromhex("5a" * 32)


@dataclasses.dataclass
class Bidder:
    company: models.Subject
    license: models.License
    penalty: models.Penalty
    entry: models.ListEntry
    withdrawn: models.Penalty  # withdrawn before the report's day
    bystander: models.Subject  # nothing of it is public


def bidder(session: Session) -> Bidder:
    """A company with a license, a serious penalty and a black-list entry public on ON."""
    company = factories.add_subject(session, name="湛江市赤坎区鸿达食品有限公司")
    license = factories.add_license(session, subject_id=company.id, content="准予食品经营许可")
    penalty = factories.add_penalty(
        session, subject_id=company.id, severity=models.Severity.SERIOUS, content="罚款五万元"
    )
    entry = factories.add_list_entry(session, subject_id=company.id)
    withdrawn = factories.add_penalty(
        session, subject_id=company.id, violation_facts=helpers.SECRET_FACTS, on=ON
    )
    endings.withdraw(
        session,
        withdrawn,
        kind=models.WithdrawalKind.REVOKED,
        reason="复议撤销",
        ctx=factories.ctx(ON),
    )
    bystander = factories.add_subject(session, name="湛江市赤坎区已撤回有限公司")
    gone = factories.add_penalty(session, subject_id=bystander.id)
    endings.withdraw(
        session, gone, kind=models.WithdrawalKind.REVOKED, reason="复议撤销", ctx=factories.ctx(ON)
    )
    session.commit()
    return Bidder(company, license, penalty, entry, withdrawn, bystander)


def build(session: Session, key: str, on: dt.date = ON) -> credit_report.Found | None:
    return credit_report.build(
        session, key, on, rules=lifecycle.Rules(), catalogue=list_measures.catalogue(session)
    )


def make(session: Session, key: str, on: dt.date = ON) -> made_reports.Made:
    made = made_reports.make(
        session,
        key,
        on,
        rules=lifecycle.Rules(),
        catalogue=list_measures.catalogue(session),
        secret=SECRET,
        links=helpers.LINKS,
    )
    assert made is not None
    return made


def test_the_report_holds_the_public_projections_and_the_standing_of_the_day(
    session: Session,
) -> None:
    story = bidder(session)
    assert story.company.credit_code is not None
    found = build(session, story.company.credit_code.lower())
    assert found is not None
    content = found.content
    assert [r.id for r in content.licenses] == [story.license.id]
    assert [r.id for r in content.penalties] == [story.penalty.id]  # not the withdrawn one
    assert [r.id for r in content.list_entries] == [story.entry.id]
    assert content.penalties[0].model_dump() == models_projection(story.penalty)
    catalogue = list_measures.catalogue(session)
    expected = standing.standings(session, [story.company.id or 0], on=ON, catalogue=catalogue)
    applied = expected[story.company.id or 0]
    assert [m.code for m in content.measures] == [a.measure.code for a in applied.measures]
    assert applied.measures, "a black-list entry and a serious penalty apply punishments"
    assert content.clean_since == applied.clean_since
    assert {(r.severity, r.min_months, r.max_months) for r in content.rules} == {
        (models.Severity.MINOR, 0, 3),
        (models.Severity.GENERAL, 3, 12),
        (models.Severity.SERIOUS, 12, 36),
    }
    # the digest is of the content: the same records give the same digest
    again = build(session, story.company.credit_code)
    assert again is not None and credit_report.digest(again.content) == credit_report.digest(
        content
    )
    assert build(session, "91440802MA00000001") is None
    assert build(session, f"P{story.bystander.id}") is None  # has a credit code, not a P key
    assert story.bystander.credit_code is not None
    assert build(session, story.bystander.credit_code) is None  # nothing of it is public


def models_projection(record: models.Penalty) -> dict[str, object]:
    from disclosure import privacy

    return privacy.penalty(record, ON).model_dump()


def test_a_report_of_a_day_leaves_out_what_was_withdrawn_since_and_the_measures_only_it_triggered(
    session: Session,
) -> None:
    company = factories.add_subject(session)
    black = factories.add_list_entry(session, subject_id=company.id)
    endings.exit_list_entry(
        session, black, reason=models.EndReason.REVOKED, ctx=factories.ctx(LATER)
    )
    session.commit()
    assert company.credit_code is not None
    assert build(session, company.credit_code) is None  # its one record left every output
    factories.add_license(session, subject_id=company.id)
    session.commit()
    found = build(session, company.credit_code)
    assert found is not None
    assert found.content.list_entries == []
    assert all(m.triggers == [] for m in found.content.measures)  # none from the exited entry


@needs_pdf
def test_the_pdf_says_the_subject_its_records_measures_day_data_version_and_code(
    session: Session,
) -> None:
    story = bidder(session)
    assert story.company.credit_code is not None
    made = make(session, story.company.credit_code)
    text = pdf_text(made.pdf)
    joined = flat(text)
    assert text.startswith("公共信用信息报告")
    for expected in (
        "湛江市赤坎区鸿达食品有限公司",
        story.company.credit_code,
        story.license.decision_doc_no,
        "准予食品经营许可",
        story.penalty.decision_doc_no,
        "罚款五万元",
        "严重",
        "严重违法失信名单（黑名单）",
        story.entry.decision_doc_no,
        "依法限制参加政府采购活动",  # the list's own measure
        f"报告日期{ON.isoformat()}",
        f"变更日志第{change_log.last_event_id(session)}号事件",
        made.code,
        flat(helpers.LINKS.verify(made.code)),
        lifecycle.NATIONAL_2026,
    ):
        assert flat(expected) in joined, expected
    for measure in made.content.measures:
        assert measure.code in joined and flat(measure.text) in joined, measure.code
    assert helpers.SECRET_FACTS not in joined
    assert story.withdrawn.decision_doc_no not in joined
    # pure: the same report, the same bytes
    assert make(session, story.company.credit_code).pdf == made.pdf


@needs_pdf
def test_a_natural_persons_report_shows_its_key_and_no_identity_number(session: Session) -> None:
    person = factories.add_subject(session, models.SubjectCategory.NATURAL_PERSON, name="陈志强")
    factories.add_penalty(
        session, subject_id=person.id, violation_facts=f"当事人（身份证号{helpers.RAW_ID}）无证经营"
    )
    session.commit()
    made = make(session, f"P{person.id}")
    joined = flat(pdf_text(made.pdf))
    assert "陈志强" in joined and f"主体标识P{person.id}" in joined
    assert made.code.startswith(f"P{person.id}-")
    assert person.id_number_masked is not None
    assert person.id_number_masked not in joined  # not even the masked form
    assert helpers.RAW_ID not in joined and helpers.RAW_ID[6:14] not in joined


@needs_pdf
def test_a_page_of_the_report_renders_to_a_png_that_is_not_blank(
    session: Session, tmp_path: Path
) -> None:
    story = bidder(session)
    assert story.company.credit_code is not None
    made = make(session, story.company.credit_code)
    (tmp_path / "report.pdf").write_bytes(made.pdf)
    subprocess.run(
        ["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "1", "-singlefile", "report.pdf", "p1"],
        cwd=tmp_path,
        check=True,
    )
    page = Image.open(io.BytesIO((tmp_path / "p1.png").read_bytes())).convert("L")
    assert page.size[0] < page.size[1]  # A4, upright
    histogram = page.histogram()
    dark = sum(histogram[:128])
    assert dark > 0.01 * page.size[0] * page.size[1], "the page is (nearly) blank"
    assert histogram[255] > 0.5 * page.size[0] * page.size[1], "the page is not a white page"
    pages = subprocess.run(
        ["pdfinfo", "-"], input=made.pdf, capture_output=True, check=True
    ).stdout.decode()
    assert re.search(r"^Pages:\s+[1-9]", pages, re.M)


def client(app_settings: settings.Settings, engine: sa.Engine, on: dt.date = ON) -> TestClient:
    app_settings = dataclasses.replace(app_settings, report_key=SECRET, base_url=helpers.BASE_URL)
    routes = served_reports.ReportRoutes(app_settings, engine, as_of=on).routes()
    return TestClient(create_app(app_settings, engine, as_of=on, routes=routes))


@needs_pdf
def test_the_served_report_is_a_pdf_with_caching_headers_and_a_304(
    engine: sa.Engine, session: Session, app_settings: settings.Settings
) -> None:
    story = bidder(session)
    key = story.company.credit_code
    assert key is not None
    with client(app_settings, engine) as http:
        response = http.get(f"/reports/{key}.pdf")
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "application/pdf"
        assert response.headers["cache-control"] == "public, max-age=60"
        assert response.headers["content-disposition"] == (
            f'inline; filename="credit-report-{key}-{ON.isoformat()}.pdf"'
        )
        assert response.content == make(session, key).pdf
        etag = response.headers["etag"]
        again = http.get(f"/reports/{key}.pdf", headers={"If-None-Match": etag})
        assert (again.status_code, again.content, again.headers["etag"]) == (304, b"", etag)
        head = http.head(f"/reports/{key.lower()}.pdf")
        assert (head.status_code, head.content, head.headers["etag"]) == (200, b"", etag)
        # a change anywhere moves the data version: a new report, a new tag
        factories.add_license(session)
        session.commit()
        changed = http.get(f"/reports/{key}.pdf", headers={"If-None-Match": etag})
        assert changed.status_code == 200 and changed.headers["etag"] != etag


def test_unknown_keys_and_subjects_with_nothing_public_are_404s_that_echo_no_id_number(
    engine: sa.Engine, session: Session, app_settings: settings.Settings
) -> None:
    story = bidder(session)
    with client(app_settings, engine) as http:
        for key in ("91440802MA00000001", story.bystander.credit_code, "P999999", "nonsense"):
            response = http.get(f"/reports/{key}.pdf")
            assert response.status_code == 404, key
            assert "没有公示信息" in response.text
        typed = http.get(f"/reports/{helpers.RAW_ID}.pdf")
        assert typed.status_code == 404
        assert helpers.RAW_ID not in typed.text and helpers.RAW_ID[6:14] not in typed.text


def verify(session: Session, code: str) -> report_codes.Verification:
    return report_codes.verify(
        session, code, SECRET, rules=lifecycle.Rules(), catalogue=list_measures.catalogue(session)
    )


def issued_code(session: Session, key: str, on: dt.date = ON) -> str:
    found = build(session, key, on)
    assert found is not None
    version = change_log.last_event_id(session)
    digest = credit_report.digest(found.content)
    return report_codes.issue(found.content.subject.key, on, version, digest, SECRET)


def test_a_code_verifies_until_a_record_of_its_day_is_withdrawn(session: Session) -> None:
    story = bidder(session)
    assert story.company.credit_code is not None
    code = issued_code(session, story.company.credit_code)
    first = verify(session, code)
    assert (first.matches, first.changes) == (True, ())
    version = change_log.last_event_id(session)
    assert first.code == report_codes.Code(
        story.company.credit_code, ON, version, code.split("-")[3]
    )
    assert first.content is not None and first.content.record_count == 3
    endings.withdraw(
        session,
        story.penalty,
        kind=models.WithdrawalKind.CONFIRMED_ILLEGAL,
        reason="经行政复议确认违法",
        ctx=factories.ctx(LATER),
    )
    session.commit()
    after = verify(session, code)
    assert after.matches is False
    assert after.changes == (
        report_codes.Change(
            models.RecordKind.PENALTY,
            story.penalty.id or 0,
            LATER,
            "依法撤回",
            "经行政复议确认违法",
        ),
    )
    assert after.content is not None and after.content.record_count == 2


def test_a_correction_after_the_day_says_the_report_no_longer_matches(session: Session) -> None:
    story = bidder(session)
    assert story.company.credit_code is not None
    code = issued_code(session, story.company.credit_code)
    workflows.correct(
        session, story.license, {"content": "准予食品经营许可（含网络经营）"}, factories.ctx(LATER)
    )
    session.commit()
    after = verify(session, code)
    assert after.matches is False
    assert [(c.record_id, c.what) for c in after.changes] == [(story.license.id, "更正")]


def test_forged_and_mistyped_codes_are_refused(session: Session) -> None:
    story = bidder(session)
    assert story.company.credit_code is not None
    code = issued_code(session, story.company.credit_code)
    key, day, version, digest, mac = code.split("-")
    other = "0" if mac[-1] != "0" else "1"
    tomorrow = f"{(ON + dt.timedelta(days=1)):%Y%m%d}"
    for forged in (
        f"{key}-{day}-{version}-{digest}-{mac[:-1]}{other}",  # the MAC changed
        f"{key}-{tomorrow}-{version}-{digest}-{mac}",  # another day
        f"{key}-{day}-{int(version) + 1}-{digest}-{mac}",  # another version
        f"{key}-{day}-0{version}-{digest}-{mac}",  # the same, spelled differently
        f"{key}-{day}-{version}-{'0' * 16}-{mac}",  # another digest
        f"{key}-20261399-{version}-{digest}-{mac}",  # no such day
        "not-a-code",
        "",
    ):
        with pytest.raises(report_codes.ForgedCode):
            verify(session, forged)
    with pytest.raises(report_codes.ForgedCode):  # another deployment's key
        report_codes.verify(
            session,
            code,
            bytes(32),
            rules=lifecycle.Rules(),
            catalogue=list_measures.catalogue(session),
        )


def test_the_served_verification_answers_a_browser_and_curl(
    engine: sa.Engine, session: Session, app_settings: settings.Settings
) -> None:
    story = bidder(session)
    assert story.company.credit_code is not None
    code = issued_code(session, story.company.credit_code)
    with client(app_settings, engine) as http:
        plain = http.get(f"/reports/verify/{code}", headers={"accept": "*/*"})
        assert plain.status_code == 200
        assert plain.headers["content-type"].startswith("text/plain")
        assert plain.headers["cache-control"] == "no-cache"
        assert plain.text.splitlines()[0] == (
            f"MATCHES / 一致：湛江市赤坎区鸿达食品有限公司（{story.company.credit_code}） {ON} "
            "的信用报告与该日的公示记录一致（3 条记录，"
            f"{len(verify(session, code).content.measures)} 项联合奖惩措施）"  # type: ignore[union-attr]
        )
        page = http.get(f"/reports/verify/{code}", headers={"accept": "text/html"})
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert '<p class="match"><strong>MATCHES / 一致' in page.text
        assert f"reports/{story.company.credit_code}.pdf" in page.text
        endings.withdraw(
            session,
            story.penalty,
            kind=models.WithdrawalKind.REVOKED,
            reason="复议撤销原处罚决定",
            ctx=factories.ctx(ON),
        )
        session.commit()
        stale = http.get(f"/reports/verify/{code}")
        assert stale.status_code == 200
        assert stale.text.splitlines() == [
            f"NO LONGER MATCHES / 不再一致：湛江市赤坎区鸿达食品有限公司"
            f"（{story.company.credit_code}） {ON} 的信用报告与该日的记录已不一致",
            f"the credit report of {story.company.credit_code} on {ON} no longer matches the "
            "records of that day",
            "原因 / because:",
            f"- 行政处罚 第{story.penalty.id}号：{ON} 依法撤回（复议撤销原处罚决定）",
        ]
        stale_page = http.get(f"/reports/verify/{code}?format=html")
        assert '<p class="stale"><strong>NO LONGER MATCHES' in stale_page.text
        assert "依法撤回（复议撤销原处罚决定）" in stale_page.text
        forged = http.get(f"/reports/verify/{code[:-1]}{'0' if code[-1] != '0' else '1'}")
        assert forged.status_code == 404 and forged.text.startswith("REFUSED")
        typed = http.get(f"/reports/verify/{helpers.RAW_ID}", headers={"accept": "text/html"})
        assert typed.status_code == 404 and '<p class="refused">' in typed.text
        assert helpers.RAW_ID not in typed.text and helpers.RAW_ID[6:14] not in typed.text


def test_the_report_key_is_made_once_and_kept_or_taken_from_the_environment(
    tmp_path: Path,
) -> None:
    made = settings.Settings(database_url="sqlite://", data_dir=tmp_path / "var")
    first = report_codes.report_key(made)
    assert len(first) == 32 and report_codes.report_key(made) == first
    assert (tmp_path / "var" / report_codes.KEY_FILE).stat().st_mode & 0o777 == 0o600
    given = settings.Settings.from_env({"GONGSHI_REPORT_KEY": "ab" * 32}, cwd=tmp_path)
    assert report_codes.report_key(given) == bytes.fromhex("ab" * 32)
    with pytest.raises(settings.SettingsError, match="GONGSHI_REPORT_KEY"):
        settings.Settings.from_env({"GONGSHI_REPORT_KEY": "short"}, cwd=tmp_path)


def test_without_the_cjk_font_the_endpoint_and_the_command_say_which_package_is_missing(
    engine: sa.Engine,
    session: Session,
    app_settings: settings.Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    story = bidder(session)
    key = story.company.credit_code
    assert key is not None
    monkeypatch.setattr(report_pdf, "FONT_FILE", tmp_path / "NotoSansCJK-Regular.ttc")
    assert isinstance(report_pdf.font_missing(), report_pdf.FontMissing)
    with client(app_settings, engine) as http:
        response = http.get(f"/reports/{key}.pdf")
        assert response.status_code == 503
        assert "fonts-noto-cjk" in response.text and str(tmp_path) in response.text
    not_a_font = tmp_path / "empty.ttc"
    not_a_font.write_bytes(b"")
    with pytest.raises(report_pdf.FontMissing, match="fonts-noto-cjk"):
        report_pdf.face_number(not_a_font)


@needs_pdf
def test_an_objection_suspends_the_punishment_in_the_report_and_its_end_changes_it(
    session: Session,
) -> None:
    from disclosure import objections

    company = factories.add_subject(session, name="湛江市赤坎区新名称有限公司")
    entry = factories.add_list_entry(session, subject_id=company.id, party_name="旧名称有限公司")
    objection = objections.open_objection(
        session, entry, grounds="认定事实有误", ctx=factories.ctx(ON)
    )
    quiet = factories.add_subject(session, name="湛江市赤坎区守信有限公司")
    factories.add_license(session, subject_id=quiet.id)
    session.commit()
    assert company.credit_code is not None and quiet.credit_code is not None
    made = make(session, company.credit_code)
    assert made.content.measures and {m.state for m in made.content.measures} == {
        standing.State.SUSPENDED
    }
    joined = flat(pdf_text(made.pdf))
    for expected in (
        "异议核实期间暂不执行",
        "异议核实期间暂停联合惩戒",
        f"异议处理中（{ON.isoformat()}受理）",
        "当事人名称（决定时）旧名称有限公司",
        "一、行政许可（0条）无",
    ):
        assert expected in joined, expected
    plain = flat(pdf_text(make(session, quiet.credit_code).pdf))
    assert "报告日无适用的联合奖惩措施" in plain and "二、行政处罚（0条）无" in plain
    objections.resolve_objection(
        session, objection, outcome=models.ObjectionOutcome.REJECTED, ctx=factories.ctx(LATER)
    )
    session.commit()
    after = verify(session, made.code)
    assert after.matches is False
    assert [(c.record_id, c.on, c.what) for c in after.changes] == [
        (entry.id, LATER, "异议处理完毕")
    ]
