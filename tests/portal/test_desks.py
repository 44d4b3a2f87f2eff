"""The department's desk and the bureau's desk over HTTP: what each shows and does."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from disclosure import endings, ingest, models, objections, repairs, settings
from tests import factories
from tests.portal import helpers
from tests.template_rows import penalty_cells, write_csv

ON = helpers.ON


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_the_desk_shows_states_searches_and_decides_repairs_and_reports(
    session: Session, app_settings: settings.Settings, engine: sa.Engine
) -> None:
    unit = factories.add_department(session)
    old = dt.date(2025, 9, 1)  # past a general penalty's minimum period of 3 months by ON
    repairable = factories.add_penalty(
        session, on=old, decision_on=old, source_unit_id=unit.id, authority_id=unit.id
    )
    objected = factories.add_penalty(session, source_unit_id=unit.id, authority_id=unit.id)
    ended = factories.add_penalty(session, source_unit_id=unit.id, authority_id=unit.id)
    objections.open_objection(session, objected, grounds="有误", ctx=factories.ctx())
    endings.withdraw(
        session, ended, kind=models.WithdrawalKind.REVOKED, reason="撤销", ctx=factories.ctx()
    )
    repair = repairs.apply_for_repair(session, repairable, commitment="已整改", ctx=factories.ctx())
    session.commit()
    helpers.account(session, unit, "wangfang")
    public = helpers.client(app_settings, engine)
    filed = public.post(
        "/portal/report",
        data={
            "csrf": helpers.csrf(public.get("/portal/report").text),
            "department": str(unit.id),
            "reported_party": "某餐馆",
            "text": "后厨不洁",
            "reporter_name": "赵",
            "reporter_contact": "138",
        },
        follow_redirects=False,
    )
    number = filed.headers["location"].split("/")[-1].split("?")[0]
    web = helpers.client(app_settings, engine)
    helpers.sign_in(web, "wangfang")
    desk = _text(web.get("/portal/").text)
    table = desk.split("本单位的记录", 1)[1]
    states = {
        doc: re.search(re.escape(doc) + r" \S+ \S+ (\S+)", table).group(1)  # type: ignore[union-attr]
        for doc in (repairable.decision_doc_no, objected.decision_doc_no, ended.decision_doc_no)
    }
    assert states == {
        repairable.decision_doc_no: "公示中",
        objected.decision_doc_no: "异议处理中",
        ended.decision_doc_no: "已停止公示",
    }
    assert "本单位按时公示率（7 个工作日内）" in desk
    found = _text(web.get("/portal/", params={"q": objected.decision_doc_no}).text)
    found = found.split("本单位的记录", 1)[1]
    assert objected.decision_doc_no in found and repairable.decision_doc_no not in found
    token = helpers.csrf(web.get("/portal/").text)
    refused = web.post(
        f"/portal/repairs/{repair.id}/decide", data={"csrf": token, "action": "refuse"}
    )
    assert refused.status_code == 400 and "不予修复须说明理由" in refused.text
    approved = web.post(
        f"/portal/repairs/{repair.id}/decide",
        data={"csrf": token, "action": "approve"},
        follow_redirects=False,
    )
    assert approved.status_code == 303
    report_id = session.exec(sa.text("SELECT id FROM application")).one()[0]  # type: ignore[call-overload]
    handled = web.post(
        f"/portal/reports/{report_id}/decide",
        data={"csrf": token, "action": "verified"},
        follow_redirects=False,
    )
    assert handled.status_code == 303
    with Session(engine) as fresh:
        assert fresh.get(models.Penalty, repairable.id).end_reason is models.EndReason.REPAIRED  # type: ignore[union-attr]
    status = _text(public.get(f"/portal/track/{number}").text)
    assert "状态 已办结：查证属实" in status and "办结日期 2026年6月1日" in status


def test_the_bureau_sees_monthly_rates_states_and_every_overdue_item(
    session: Session, app_settings: settings.Settings, engine: sa.Engine
) -> None:
    market = factories.add_department(session)
    bureau_unit = factories.add_department(session, "赤坎区发展和改革局")
    may = dt.date(2026, 5, 4)
    late = factories.add_penalty(session, on=may, source_unit_id=market.id, authority_id=market.id)
    objections.open_objection(session, late, grounds="有误", ctx=factories.ctx(on=may))
    session.commit()
    helpers.account(session, market, "wangfang")
    helpers.account(session, bureau_unit, "guan", models.Role.OPERATOR)
    clerk = helpers.client(app_settings, engine)
    helpers.sign_in(clerk, "wangfang")
    assert clerk.get("/portal/bureau").status_code == 403
    web = helpers.client(app_settings, engine)
    assert helpers.sign_in(web, "guan").headers["location"] == "/portal/bureau"
    page = web.get("/portal/bureau").text
    assert page.count("<svg") == 3  # one department's months, objections, repairs
    text = _text(page)
    assert "赤坎区市场监督管理局 — — — — 100%（1/1） — " in text
    assert "核实中 1 成立·已更正 0 成立·停止公示 0 不成立 0" in text
    assert f"异议 #1 {late.decision_doc_no} 2026年5月13日 赤坎区市场监督管理局" in text
    assert web.get("/portal/", follow_redirects=False).status_code == 403


@pytest.mark.parametrize("key", ["ab", "zz" * 32])
def test_a_portal_key_that_is_not_a_key_is_refused(key: str) -> None:
    with pytest.raises(settings.SettingsError, match="GONGSHI_PORTAL_KEY"):
        settings.Settings.from_env({"GONGSHI_PORTAL_KEY": key})


def test_the_portal_key_comes_from_the_environment() -> None:
    given = settings.Settings.from_env({"GONGSHI_PORTAL_KEY": "ab" * 32})
    assert given.portal_key == bytes.fromhex("ab" * 32)


def test_an_objection_is_upheld_by_correcting_the_record_from_its_row(
    session: Session, app_settings: settings.Settings, engine: sa.Engine, tmp_path: Path
) -> None:
    unit = factories.add_department(session)
    session.commit()
    sent = write_csv(tmp_path / "p.csv", [penalty_cells()])
    ingest.ingest(session, sent, kind=models.RecordKind.PENALTY, ctx=factories.ctx())
    record = session.exec(select(models.Penalty)).one()
    objection = objections.open_objection(session, record, grounds="金额有误", ctx=factories.ctx())
    session.commit()
    helpers.account(session, unit, "wangfang")
    web = helpers.client(app_settings, engine)
    helpers.sign_in(web, "wangfang")
    token = helpers.csrf(web.get("/portal/").text)
    two = write_csv(tmp_path / "two.csv", [penalty_cells(), penalty_cells()])
    refused = web.post(
        f"/portal/objections/{objection.id}/correct",
        data={"csrf": token},
        files={"file": ("two.csv", two.read_bytes(), "text/csv")},
    )
    assert refused.status_code == 400 and "文件须恰有一行数据，而不是 2 行" in refused.text
    fixed = write_csv(
        tmp_path / "fixed.csv", [penalty_cells(penalty_content="罚款1000元", fine_amount_wan="0.1")]
    )
    done = web.post(
        f"/portal/objections/{objection.id}/correct",
        data={"csrf": token},
        files={"file": ("fixed.csv", fixed.read_bytes(), "text/csv")},
        follow_redirects=False,
    )
    assert done.status_code == 303, done.text
    with Session(engine) as fresh:
        corrected = fresh.get(models.Penalty, record.id)
        closed = fresh.get(models.Objection, objection.id)
        assert corrected is not None and closed is not None
        assert (corrected.content, corrected.fine_amount_wan, corrected.objection_opened_on) == (
            "罚款1000元",
            Decimal("0.1"),
            None,
        )
        assert closed.outcome is models.ObjectionOutcome.CORRECTED
