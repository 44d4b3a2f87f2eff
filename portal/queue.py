"""A department's queue: objections, repair applications and reports decided with the same
workflows as the API's mutations, their attachments, and the queue as CSV."""

from __future__ import annotations

import csv
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
    models,
    objections,
    readers,
    repairs,
    spreadsheet,
    submission,
    template,
    workflows,
)
from disclosure import portal_models as pm
from portal import web
from portal.desk import (
    UPLOAD_SUFFIXES,
    ascii_name,
    department,
    department_form,
    unit_of,
    upload_folder,
)


async def attachment(portal: web.Portal, request: Request) -> Response:
    """An attachment of an application the department must decide, as a download."""
    visitor = await department(portal, request)
    if isinstance(visitor, Response):
        return visitor
    with Session(portal.engine) as session:
        found = session.get(pm.Attachment, int(request.path_params["attachment_id"]))
        filed = session.get(pm.Application, found.application_id) if found else None
    if found is None or filed is None or filed.department_id != unit_of(visitor):
        return portal.refusal(request, visitor, "没有这个附件 / no such attachment", 404)
    path = portal.settings.data_dir / attachments.FOLDER / found.sha256
    return Response(
        path.read_bytes(),
        media_type=found.media_type,
        headers={"content-disposition": f'attachment; filename="{ascii_name(found.filename)}"'},
    )


async def decide(portal: web.Portal, request: Request) -> Response:
    """Decide an objection, a repair application or a report of the department's queue."""
    posted = await department_form(portal, request)
    if isinstance(posted, Response):
        return posted
    visitor, form = posted
    what, item_id = request.path_params["what"], int(request.path_params["item_id"])
    action, note = web.field(form, "action"), web.field(form, "note")

    def work() -> Response:
        unit_id = unit_of(visitor)
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
        record = objections.resolve_objection(
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
            record = repairs.approve_repair(session, repair, ctx)
        elif action == "refuse":
            repairs.refuse_repair(session, repair, note=note, ctx=ctx)
        else:
            raise workflows.InvalidChange(f"未知操作 {action}")
        return [(repair.record_kind, repair.record_id)]
    raise foreign


async def correct(portal: web.Portal, request: Request) -> Response:
    """Uphold an objection by correcting its record from a one-row template file (the row the
    API's resolveObjection takes), checked as a submitted row is."""
    posted = await department_form(portal, request)
    if isinstance(posted, Response):
        return posted
    visitor, form = posted
    sent = form.get("file")
    content = await sent.read() if isinstance(sent, UploadFile) else b""
    name = Path((sent.filename or "") if isinstance(sent, UploadFile) else "").name
    await form.close()
    if not name.lower().endswith(UPLOAD_SUFFIXES) or not content:
        return portal.refusal(
            request, visitor, "请上传更正后的 CSV 或 XLSX 文件 / send a file", 400
        )
    objection_id = int(request.path_params["item_id"])
    folder = upload_folder(portal, unit_of(visitor), secrets.token_urlsafe(16))

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
                objections.resolve_objection(
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
    visitor = await department(portal, request)
    if isinstance(visitor, Response):
        return visitor

    def work() -> Response:
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(EXPORT_COLUMNS)
        with Session(portal.engine) as session:
            queue = casework.queue(session, unit_of(visitor))
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
            record.KIND.zh,
            str(record.id),
            str(on),
            str(due or ""),
            (filed.applicant or "") if filed else "",
            (filed.contact or "") if filed else "",
            "",
            text,
        ]
    )
