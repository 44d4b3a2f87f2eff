"""The portal's defences, over HTTP against the node `gongshi serve` runs."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import Session, col, select

from disclosure import accounts, attachments, models, settings
from disclosure import portal_models as pm
from portal import auth
from tests import factories
from tests.portal import helpers


@pytest.fixture
def world(session: Session) -> dict[str, object]:
    market = factories.add_department(session)
    tax = factories.add_department(session, "赤坎区税务局")
    ours = factories.add_penalty(session, source_unit_id=market.id, authority_id=market.id)
    theirs = factories.add_penalty(session, source_unit_id=tax.id, authority_id=tax.id)
    session.commit()
    helpers.account(session, market, "wangfang")
    helpers.account(session, tax, "lisi")
    return {"ours": ours, "theirs": theirs, "market": market}


def test_a_form_without_its_csrf_token_is_refused(
    world: dict[str, object], app_settings: settings.Settings, engine: sa.Engine
) -> None:
    web = helpers.client(app_settings, engine)
    assert helpers.sign_in(web, "wangfang").status_code == 303
    ours = world["ours"]
    assert isinstance(ours, models.Penalty)
    path = f"/portal/records/penalty/{ours.id}/withdraw"
    data = {"withdrawal_kind": "revoked", "reason": "决定已被撤销"}
    refused = web.post(path, data=data)
    assert refused.status_code == 403
    assert "表单已失效" in refused.text
    wrong = web.post(path, data=data | {"csrf": "0" * 64})
    assert wrong.status_code == 403
    with Session(engine) as session:
        assert session.get(models.Penalty, ours.id).ended_on is None  # type: ignore[union-attr]
    token = helpers.csrf(web.get(path).text)
    assert web.post(path, data=data | {"csrf": token}, follow_redirects=False).status_code == 303
    with Session(engine) as session:
        assert session.get(models.Penalty, ours.id).ended_on == helpers.ON  # type: ignore[union-attr]


def test_a_page_elsewhere_cannot_act_for_a_signed_in_clerk(
    world: dict[str, object], app_settings: settings.Settings, engine: sa.Engine
) -> None:
    web = helpers.client(app_settings, engine)
    helpers.sign_in(web, "wangfang")
    ours = world["ours"]
    assert isinstance(ours, models.Penalty)
    path = f"/portal/records/penalty/{ours.id}/withdraw"
    token = helpers.csrf(web.get(path).text)
    data = {"csrf": token, "withdrawal_kind": "revoked", "reason": "决定已被撤销"}
    forged = web.post(path, data=data, headers={"origin": "https://evil.example"})
    assert forged.status_code == 403
    assert "其他网站" in forged.text
    # the portal sends no CORS permission, unlike the API
    answer = web.get("/portal/", headers={"origin": "https://evil.example"})
    assert "access-control-allow-origin" not in answer.headers
    assert (
        web.get("/graphql?query={lists{code}}", headers={"origin": "https://evil.example"}).headers[
            "access-control-allow-origin"
        ]
        == "*"
    )


def test_the_session_cookie_is_scoped_and_never_honoured_by_the_api(
    world: dict[str, object], app_settings: settings.Settings, engine: sa.Engine
) -> None:
    web = helpers.client(app_settings, engine)
    signed = helpers.sign_in(web, "wangfang")
    cookie = signed.headers["set-cookie"]
    assert cookie.startswith(auth.SESSION_COOKIE + "=")
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")[1:]}
    assert {"httponly", "max-age", "path", "samesite"} <= attributes
    assert "path=/portal/" in cookie.lower() and "samesite=strict" in cookie.lower()
    ours = world["ours"]
    assert isinstance(ours, models.Penalty)
    mutation = (
        'mutation { withdrawRecord(id: "%s", reason: "撤销", kind: REVOKED) '
        "{ __typename ... on MutationError { code } } }"
    )
    from api import cursors

    global_id = cursors.global_id(models.RecordKind.PENALTY, ours.id or 0)
    value = web.cookies.get(auth.SESSION_COOKIE, path="/portal/")
    answer = web.post(
        "/graphql",
        json={"query": mutation % global_id},
        headers={"cookie": f"{auth.SESSION_COOKIE}={value}"},
    )
    assert answer.json()["data"]["withdrawRecord"]["code"] == "UNAUTHENTICATED"


def test_signing_in_starts_a_new_session(
    world: dict[str, object], app_settings: settings.Settings, engine: sa.Engine
) -> None:
    web = helpers.client(app_settings, engine)
    helpers.sign_in(web, "wangfang")
    first = web.cookies.get(auth.SESSION_COOKIE, path="/portal/")
    helpers.sign_in(web, "wangfang")
    second = web.cookies.get(auth.SESSION_COOKIE, path="/portal/")
    assert first and second and first != second
    with Session(engine) as session:
        rows = session.exec(select(pm.PortalSession).order_by(col(pm.PortalSession.id))).all()
        assert [row.ended_at is not None for row in rows] == [True, False]
    # a session id planted before sign-in is not the one after it
    planted = helpers.client(app_settings, engine)
    planted.cookies.set(auth.SESSION_COOKIE, first, domain="testserver.local", path="/portal/")
    assert planted.get("/portal/", follow_redirects=False).status_code == 303
    helpers.sign_in(planted, "wangfang")
    assert planted.cookies.get(auth.SESSION_COOKIE, path="/portal/") not in {first, second}
    # after sign-out the old cookie opens nothing
    token = helpers.csrf(web.get("/portal/").text)
    web.post("/portal/logout", data={"csrf": token})
    stale = helpers.client(app_settings, engine)
    stale.cookies.set(auth.SESSION_COOKIE, second, domain="testserver.local", path="/portal/")
    assert stale.get("/portal/", follow_redirects=False).headers["location"] == "/portal/login"


def test_another_departments_record_is_refused(
    world: dict[str, object], app_settings: settings.Settings, engine: sa.Engine
) -> None:
    web = helpers.client(app_settings, engine)
    helpers.sign_in(web, "wangfang")
    theirs, ours = world["theirs"], world["ours"]
    assert isinstance(theirs, models.Penalty) and isinstance(ours, models.Penalty)
    desk = web.get("/portal/").text
    assert ours.decision_doc_no in desk and theirs.decision_doc_no not in desk
    path = f"/portal/records/penalty/{theirs.id}/withdraw"
    assert web.get(path).status_code == 404
    token = helpers.csrf(desk)
    data = {"csrf": token, "withdrawal_kind": "revoked", "reason": "决定已被撤销"}
    assert web.post(path, data=data).status_code == 404
    with Session(engine) as session:
        assert session.get(models.Penalty, theirs.id).ended_on is None  # type: ignore[union-attr]
        outcomes = [
            (entry.operation, entry.outcome, entry.records)
            for entry in session.exec(select(models.AuditEntry).order_by(col(models.AuditEntry.id)))
        ]
    assert outcomes[-1] == ("portal.withdraw", "forbidden", [f"penalty:{theirs.id}"])
    assert ("portal.login", "ok", []) in outcomes


def test_wrong_passwords_lock_the_account_and_say_until_when(
    world: dict[str, object], app_settings: settings.Settings, engine: sa.Engine
) -> None:
    web = helpers.client(app_settings, engine)
    for _ in range(accounts.ACCOUNT_FAILURES):
        assert helpers.sign_in(web, "wangfang", "wrong-password!").status_code == 401
    locked = helpers.sign_in(web, "wangfang")  # the right password, too late
    assert locked.status_code == 429
    assert "登录失败次数过多，请于" in locked.text and "（北京时间）后再试" in locked.text
    # another account from elsewhere is not locked
    assert helpers.sign_in(helpers.client(app_settings, engine), "lisi").status_code == 303
    with Session(engine) as session:
        now = settings.utcnow()
        key = accounts.address_key("testclient", auth.portal_key(app_settings))
        until = accounts.locked_until(session, "wangfang", key, now)
        assert until is not None
        assert dt.timedelta(minutes=14) < until - now <= accounts.LOCKOUT_WINDOW
        assert (
            accounts.locked_until(session, "wangfang", key, until + dt.timedelta(seconds=1)) is None
        )
        failures = session.exec(
            select(models.AuditEntry).where(col(models.AuditEntry.outcome) == "bad_credentials")
        ).all()
        assert len(failures) == accounts.ACCOUNT_FAILURES


def test_an_html_file_renamed_pdf_is_refused(
    world: dict[str, object], app_settings: settings.Settings, engine: sa.Engine, tmp_path: Path
) -> None:
    web = helpers.client(app_settings, engine)
    ours = world["ours"]
    assert isinstance(ours, models.Penalty)
    path = f"/portal/apply/penalty/{ours.id}"
    token = helpers.csrf(web.get(path).text)
    html = b"<!doctype html><html><script>alert(document.cookie)</script></html>"
    answer = web.post(
        path,
        data={
            "csrf": token,
            "type": "objection",
            "applicant": "鸿达食品",
            "contact": "0759-1234567",
            "text": "我司已整改",
        },
        files={"attachments": ("证明.pdf", html, "application/pdf")},
    )
    assert answer.status_code == 400
    assert "不是 PDF、JPEG 或 PNG 文件" in answer.text
    with Session(engine) as session:
        assert session.exec(select(pm.Application)).all() == []
        assert session.get(models.Penalty, ours.id).objection_opened_on is None  # type: ignore[union-attr]
    assert not (tmp_path / attachments.FOLDER).exists() or not any(
        (tmp_path / attachments.FOLDER).iterdir()
    )
    pdf = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
    six = web.post(
        path,
        data={
            "csrf": token,
            "type": "objection",
            "applicant": "鸿达食品",
            "contact": "0759-1234567",
            "text": "我司已整改",
        },
        files=[("attachments", (f"{n}.pdf", pdf, "application/pdf")) for n in range(6)],
    )
    assert six.status_code == 400 and "最多 5 个附件" in six.text
    assert attachments.check("x.png", pdf).media_type == "application/pdf"
    assert attachments.check("x.png", pdf).filename == "x.pdf"


def test_a_filled_honeypot_and_too_many_applications_are_refused(
    world: dict[str, object], app_settings: settings.Settings, engine: sa.Engine
) -> None:
    web = helpers.client(app_settings, engine)
    token = helpers.csrf(web.get("/portal/report").text)
    market = world["market"]
    assert isinstance(market, models.Department)
    data = {
        "csrf": token,
        "department": str(market.id),
        "reported_party": "某某餐馆",
        "text": "后厨卫生极差",
        "reporter_name": "赵举报",
        "reporter_contact": "13800000000",
    }
    assert web.post("/portal/report", data=data | {"website": "http://spam"}).status_code == 400
    for _ in range(5):
        assert web.post("/portal/report", data=data, follow_redirects=False).status_code == 303
    sixth = web.post("/portal/report", data=data)
    assert sixth.status_code == 400 and "已达上限" in sixth.text
    with Session(engine) as session:
        assert len(session.exec(select(pm.Application)).all()) == 5


def test_an_attachment_goes_only_to_the_department_that_must_decide(
    world: dict[str, object], app_settings: settings.Settings, engine: sa.Engine
) -> None:
    public = helpers.client(app_settings, engine)
    ours = world["ours"]
    assert isinstance(ours, models.Penalty)
    path = f"/portal/apply/penalty/{ours.id}"
    pdf = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
    filed = public.post(
        path,
        data={
            "csrf": helpers.csrf(public.get(path).text),
            "type": "objection",
            "applicant": "鸿达食品",
            "contact": "0759-1234567",
            "text": "样品来源有误",
        },
        files={"attachments": ("证明.png", pdf, "image/png")},
        follow_redirects=False,
    )
    assert filed.status_code == 303
    assert public.get("/portal/attachments/1", follow_redirects=False).status_code == 303
    other = helpers.client(app_settings, engine)
    helpers.sign_in(other, "lisi")
    assert other.get("/portal/attachments/1").status_code == 404
    clerk = helpers.client(app_settings, engine)
    helpers.sign_in(clerk, "wangfang")
    got = clerk.get("/portal/attachments/1")
    assert (got.status_code, got.content, got.headers["content-type"]) == (
        200,
        pdf,
        "application/pdf",
    )
    assert got.headers["content-disposition"].startswith("attachment;")
    assert got.headers["x-content-type-options"] == "nosniff"
