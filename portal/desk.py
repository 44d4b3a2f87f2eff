"""A department's desk: upload a template file (the same code path as `gongshi ingest`), its
records with their state, withdrawal, and its queue of objections, repairs and reports."""

from __future__ import annotations

import csv
import datetime as dt
import io
import secrets
from pathlib import Path

from sqlmodel import Session
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response

from disclosure import (
    applications,
    attachments,
    casework,
    ingest,
    models,
    queries,
    readers,
    spreadsheet,
    submission,
    template,
    timeliness,
    workdays,
    workflows,
)
from disclosure import portal_models as pm
from portal import web

UPLOADS = "uploads"  # under GONGSHI_DATA_DIR: each upload in a folder of its own
UPLOAD_SUFFIXES = (".csv", ".xlsx")
KINDS = {kind.value: kind for kind in models.RecordKind}
WITHDRAWAL_KINDS = {
    models.WithdrawalKind.CHANGED: "决定被变更",
    models.WithdrawalKind.REVOKED: "决定被撤销",
    models.WithdrawalKind.CONFIRMED_ILLEGAL: "决定被确认违法",
    models.WithdrawalKind.CONFIRMED_INVALID: "决定被确认无效",
    models.WithdrawalKind.OTHER: "其他",
}


async def _department(portal: web.Portal, request: Request) -> web.Visitor | Response:
    visitor = await portal.visitor(request)
    if visitor.account is None:
        return web.redirect("/portal/login")
    if visitor.account.role is not models.Role.DEPARTMENT:
        return portal.refusal(request, visitor, "本页面供数据提供部门使用 / for departments only")
    return visitor


def _unit_id(visitor: web.Visitor) -> int:
    assert visitor.account is not None
    return visitor.account.unit_id


async def home(portal: web.Portal, request: Request) -> Response:
    visitor = await _department(portal, request)
    if isinstance(visitor, Response):
        return visitor
    text = request.query_params.get("q", "")[:100]

    def work() -> Response:
        on = portal.today()
        with Session(portal.engine) as session:
            records = casework.own_records(session, _unit_id(visitor), on, text=text)
            queue = casework.queue(session, _unit_id(visitor))
            rates = [
                rate
                for rate in queries.on_time_rates(session, calendar=portal.calendar)
                if rate.department_id == _unit_id(visitor)
            ]
            files = {
                f"objection-{objection.id}": _files_of(
                    session, casework.application_of(session, objection_id=objection.id)
                )
                for objection, _record in queue.objections
            }
            files |= {
                f"repair-{repair.id}": _files_of(
                    session, casework.application_of(session, repair_id=repair.id)
                )
                for repair, _record in queue.repairs
            }
            files |= {f"report-{report.id}": _files_of(session, report) for report in queue.reports}
            return portal.page(
                request,
                visitor,
                "desk.html",
                records=records,
                queue=queue,
                files=files,
                rate=rates[0] if rates else None,
                q=text,
                kinds=KINDS,
            )

    return await web.threaded(work)


def _files_of(session: Session, filed: pm.Application | None) -> list[pm.Attachment]:
    return list(applications.attachments_of(session, filed)) if filed is not None else []


async def attachment(portal: web.Portal, request: Request) -> Response:
    """An attachment of an application the department must decide, as a download."""
    visitor = await _department(portal, request)
    if isinstance(visitor, Response):
        return visitor
    with Session(portal.engine) as session:
        found = session.get(pm.Attachment, int(request.path_params["attachment_id"]))
        filed = session.get(pm.Application, found.application_id) if found else None
    if found is None or filed is None or filed.department_id != _unit_id(visitor):
        return portal.refusal(request, visitor, "没有这个附件 / no such attachment", 404)
    path = portal.settings.data_dir / attachments.FOLDER / found.sha256
    return Response(
        path.read_bytes(),
        media_type=found.media_type,
        headers={"content-disposition": f'attachment; filename="{_ascii(found.filename)}"'},
    )


def _upload_folder(portal: web.Portal, unit_id: int, token: str) -> Path:
    return portal.settings.data_dir / UPLOADS / str(unit_id) / token


async def upload(portal: web.Portal, request: Request) -> Response:
    visitor = await _department(portal, request)
    if isinstance(visitor, Response):
        return visitor
    form = await portal.form(request, visitor)
    if isinstance(form, Response):
        return form
    sent, kind_name = form.get("file"), web.field(form, "kind")
    if not isinstance(sent, UploadFile) or not sent.filename or kind_name not in KINDS:
        await form.close()
        return portal.refusal(
            request, visitor, "请选择文件和信息类别 / choose a file and a kind", 400
        )
    name = Path(sent.filename.replace("\\", "/")).name
    if not name.lower().endswith(UPLOAD_SUFFIXES):
        await form.close()
        return portal.refusal(
            request, visitor, f"{name}：只接受 CSV 或 XLSX 文件 / only CSV or XLSX files", 400
        )
    content = await sent.read()
    await form.close()
    token = secrets.token_urlsafe(16)
    folder = _upload_folder(portal, _unit_id(visitor), token)

    def work() -> Response:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / name
        path.write_bytes(content)
        unit = visitor.unit
        assert unit is not None and visitor.account is not None
        ctx = portal.ctx(f"portal account #{visitor.account.id} {unit.credit_code}")
        try:
            with portal.writing() as session:
                report = ingest.ingest(
                    session, path, kind=KINDS[kind_name], ctx=ctx, source_unit=unit.credit_code
                )
                portal.audit(session, visitor, "ingest", f"ok rejected={report.rejected}")
        except (readers.ReadError, template.TemplateError, ingest.IngestError) as error:
            with portal.writing() as session:
                portal.audit(session, visitor, "ingest", "unreadable")
            return portal.page(
                request,
                visitor,
                "message.html",
                status_code=400,
                heading="文件无法读取",
                message=f"{error} — 未写入任何数据 / nothing was written",
            )
        rejects = None
        if report.rejects_path is not None:
            rejects = f"/portal/rejects/{token}/{report.rejects_path.name}"
        years = workdays.fallback_years([ctx.on], portal.calendar) if report.accepted else set()
        return portal.page(
            request,
            visitor,
            "upload.html",
            report=report,
            name=name,
            rejects=rejects,
            fallback_years=sorted(years),
        )

    return await web.threaded(work)


async def rejects(portal: web.Portal, request: Request) -> Response:
    visitor = await _department(portal, request)
    if isinstance(visitor, Response):
        return visitor
    token, name = request.path_params["token"], request.path_params["name"]
    folder = _upload_folder(portal, _unit_id(visitor), Path(token).name)
    path = folder / Path(name).name
    if not name.endswith(".rejects.csv") or not path.is_file():
        return portal.refusal(request, visitor, "没有这份退回清单 / no such rejects file", 404)
    return Response(
        path.read_bytes(),
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": f'attachment; filename="{_ascii(path.name)}"'},
    )


def _ascii(name: str) -> str:
    return name.encode("ascii", "replace").decode().replace('"', "_").replace("?", "_")


async def withdraw(portal: web.Portal, request: Request) -> Response:
    visitor = await _department(portal, request)
    if isinstance(visitor, Response):
        return visitor
    kind_name, record_id = request.path_params["kind"], int(request.path_params["record_id"])
    if kind_name not in KINDS:
        return portal.refusal(request, visitor, "没有这条记录 / no such record", 404)
    kind = KINDS[kind_name]
    form = None
    if request.method == "POST":
        posted = await portal.form(request, visitor)
        if isinstance(posted, Response):
            return posted
        form = posted

    def work() -> Response:
        unit_id = _unit_id(visitor)
        with portal.writing() as session:
            record = casework.owned(session, kind, record_id, unit_id)
            if record is None:
                portal.audit(session, visitor, "withdraw", "forbidden", [(kind, record_id)])
                return portal.refusal(
                    request, visitor, "没有本单位的这条记录 / not a record of this department", 404
                )
            due = None
            error = None
            if form is not None:
                changed_on = web.field(form, "changed_on")
                try:
                    changed = _date(changed_on) if changed_on else None
                    withdrawal_kind = models.WithdrawalKind(web.field(form, "withdrawal_kind"))
                    workflows.withdraw(
                        session,
                        record,
                        kind=withdrawal_kind,
                        reason=web.field(form, "reason"),
                        ctx=portal.ctx(f"portal account #{visitor.account.id}"),  # type: ignore[union-attr]
                        decision_changed_on=changed,
                    )
                except (ValueError, workflows.Refused) as refusal:
                    error = str(refusal)
                else:
                    portal.audit(session, visitor, "withdraw", "ok", [(kind, record_id)])
                    return web.redirect("/portal/?done=withdrawn")
                portal.audit(session, visitor, "withdraw", "refused", [(kind, record_id)])
            due = timeliness.withdrawal_due_on(portal.today(), portal.calendar)
            return portal.page(
                request,
                visitor,
                "withdraw.html",
                status_code=400 if error else 200,
                record=record,
                label=workflows.label(record),
                kinds=WITHDRAWAL_KINDS,
                due=due,
                error=error,
            )

    return await web.threaded(work)


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError as error:
        raise ValueError(f"日期 {text} 无效 / not a date (YYYY-MM-DD)") from error


async def decide(portal: web.Portal, request: Request) -> Response:
    """Decide an objection, a repair application or a report of the department's queue."""
    visitor = await _department(portal, request)
    if isinstance(visitor, Response):
        return visitor
    form = await portal.form(request, visitor)
    if isinstance(form, Response):
        return form
    what, item_id = request.path_params["what"], int(request.path_params["item_id"])
    action, note = web.field(form, "action"), web.field(form, "note")

    def work() -> Response:
        unit_id = _unit_id(visitor)
        assert visitor.account is not None
        ctx = portal.ctx(f"portal account #{visitor.account.id}")
        with portal.writing() as session:
            savepoint = session.begin_nested()
            try:
                records = _decide(session, what, item_id, action, note, unit_id, ctx)
            except workflows.Refused as refusal:
                savepoint.rollback()
                portal.audit(session, visitor, f"{what}.{action}", refusal.code.lower())
                code = 404 if isinstance(refusal, workflows.NotFound) else 400
                return portal.refusal(request, visitor, str(refusal), code)
            savepoint.commit()
            portal.audit(session, visitor, f"{what}.{action}", "ok", records)
        return web.redirect("/portal/?done=" + what)

    return await web.threaded(work)


def _decide(
    session: Session,
    what: str,
    item_id: int,
    action: str,
    note: str,
    unit_id: int,
    ctx: workflows.Context,
) -> list[tuple[models.RecordKind, int]]:
    foreign = workflows.NotFound(
        f"本单位没有这一待办 / no such item for this department: {item_id}"
    )
    if what == "reports":
        report = casework.report_of(session, item_id, unit_id)
        if report is None:
            raise foreign
        try:
            outcome = pm.ReportStatus(action)
        except ValueError as error:
            raise workflows.InvalidChange(f"未知操作 {action}") from error
        applications.handle_report(session, report, outcome, ctx.on)
        return []
    if what == "objections":
        objection = session.get(models.Objection, item_id)
        if (
            objection is None
            or casework.owned(session, objection.record_kind, objection.record_id, unit_id) is None
        ):
            raise foreign
        outcomes = {
            "reject": models.ObjectionOutcome.REJECTED,
            "uphold": models.ObjectionOutcome.WITHDRAWN,
        }
        if action not in outcomes:
            raise workflows.InvalidChange(f"未知操作 {action}")
        record = workflows.resolve_objection(
            session, objection, outcome=outcomes[action], ctx=ctx, reason=note
        )
        return [(record.KIND, record.id or 0)]
    if what == "repairs":
        repair = session.get(models.Repair, item_id)
        if (
            repair is None
            or casework.owned(session, repair.record_kind, repair.record_id, unit_id) is None
        ):
            raise foreign
        if action == "approve":
            record = workflows.approve_repair(session, repair, ctx)
        elif action == "refuse":
            workflows.refuse_repair(session, repair, note=note, ctx=ctx)
        else:
            raise workflows.InvalidChange(f"未知操作 {action}")
        return [(repair.record_kind, repair.record_id)]
    raise foreign


async def correct(portal: web.Portal, request: Request) -> Response:
    """Uphold an objection by correcting its record from a one-row template file (the row the
    API's resolveObjection takes), checked as a submitted row is."""
    visitor = await _department(portal, request)
    if isinstance(visitor, Response):
        return visitor
    form = await portal.form(request, visitor)
    if isinstance(form, Response):
        return form
    sent = form.get("file")
    content = await sent.read() if isinstance(sent, UploadFile) else b""
    name = Path((sent.filename or "") if isinstance(sent, UploadFile) else "").name
    await form.close()
    if not name.lower().endswith(UPLOAD_SUFFIXES) or not content:
        return portal.refusal(
            request, visitor, "请上传更正后的 CSV 或 XLSX 文件 / send a file", 400
        )
    objection_id = int(request.path_params["item_id"])
    folder = _upload_folder(portal, _unit_id(visitor), secrets.token_urlsafe(16))

    def work() -> Response:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / name
        path.write_bytes(content)
        unit = visitor.unit
        assert unit is not None and visitor.account is not None
        ctx = portal.ctx(f"portal account #{visitor.account.id}")
        with portal.writing() as session:
            savepoint = session.begin_nested()
            try:
                objection = session.get(models.Objection, objection_id)
                record = (
                    casework.owned(
                        session, objection.record_kind, objection.record_id, unit.id or 0
                    )
                    if objection is not None
                    else None
                )
                if objection is None or record is None:
                    raise workflows.NotFound(f"本单位没有异议 #{objection_id} / no such objection")
                with readers.open_table(path) as table:
                    rows = [cells for _number, cells in table.rows]
                    header = table.header
                if len(rows) != 1:
                    raise workflows.InvalidChange(
                        f"文件须恰有一行数据，而不是 {len(rows)} 行 / one data row, not {len(rows)}"
                    )
                changes = submission.correction(
                    session, record, columns=header, cells=rows[0], unit=unit, ctx=ctx
                )
                workflows.resolve_objection(
                    session,
                    objection,
                    outcome=models.ObjectionOutcome.CORRECTED,
                    ctx=ctx,
                    corrections=changes,
                )
            except (readers.ReadError, template.TemplateError) as error:
                savepoint.rollback()
                portal.audit(session, visitor, "objections.correct", "unreadable")
                return portal.refusal(request, visitor, str(error), 400)
            except submission.RowRejected as rejected:
                savepoint.rollback()
                portal.audit(session, visitor, "objections.correct", "row_rejected")
                return portal.refusal(request, visitor, str(rejected.reason), 400)
            except submission.ForeignRows as foreign:
                savepoint.rollback()
                portal.audit(session, visitor, "objections.correct", "forbidden")
                return portal.refusal(request, visitor, str(foreign), 403)
            except workflows.Refused as refusal:
                savepoint.rollback()
                portal.audit(session, visitor, "objections.correct", refusal.code.lower())
                code = 404 if isinstance(refusal, workflows.NotFound) else 400
                return portal.refusal(request, visitor, str(refusal), code)
            savepoint.commit()
            portal.audit(
                session, visitor, "objections.correct", "ok", [(record.KIND, record.id or 0)]
            )
        return web.redirect("/portal/?done=objections")

    return await web.threaded(work)


EXPORT_COLUMNS = [
    "类型",
    "受理编号",
    "信息类别",
    "记录编号",
    "申请日期",
    "办理期限",
    "申请人",
    "联系方式",
    "被举报人",
    "内容",
]


async def export(portal: web.Portal, request: Request) -> Response:
    """The department's queue as CSV: what it must decide, never who reported."""
    visitor = await _department(portal, request)
    if isinstance(visitor, Response):
        return visitor

    def work() -> Response:
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(EXPORT_COLUMNS)
        with Session(portal.engine) as session:
            queue = casework.queue(session, _unit_id(visitor))
            for objection, record in queue.objections:
                filed = casework.application_of(session, objection_id=objection.id)
                writer.writerow(
                    _row(
                        "异议",
                        filed,
                        record,
                        objection.opened_on,
                        objection.due_on,
                        objection.grounds,
                    )
                )
            for repair, record in queue.repairs:
                filed = casework.application_of(session, repair_id=repair.id)
                writer.writerow(
                    _row(
                        "信用修复",
                        filed,
                        record,
                        repair.applied_on,
                        repair.due_on,
                        repair.commitment,
                    )
                )
            for report in queue.reports:
                writer.writerow(
                    spreadsheet.neutralise_row(
                        [
                            "举报",
                            report.tracking_no,
                            "",
                            "",
                            report.filed_on.isoformat(),
                            "",
                            "",
                            "",
                            report.reported_party or "",
                            report.text,
                        ]
                    )
                )
        return Response(
            out.getvalue().encode("utf-8-sig"),
            media_type="text/csv; charset=utf-8",
            headers={"content-disposition": 'attachment; filename="queue.csv"'},
        )

    return await web.threaded(work)


def _row(
    kind: str,
    filed: pm.Application | None,
    record: models.Record,
    on: object,
    due: object,
    text: str,
) -> list[str]:
    return spreadsheet.neutralise_row(
        [
            kind,
            filed.tracking_no if filed else "",
            workflows.KIND_ZH[record.KIND],
            str(record.id),
            str(on),
            str(due or ""),
            (filed.applicant or "") if filed else "",
            (filed.contact or "") if filed else "",
            "",
            text,
        ]
    )
