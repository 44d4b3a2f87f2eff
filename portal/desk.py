"""A department's desk: upload a template file (the same code path as `gongshi ingest`) and
download its rejects, its records with their state, and withdrawal (portal.queue has the rest)."""

from __future__ import annotations

import datetime as dt
import secrets
from pathlib import Path

from sqlmodel import Session
from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import Response

from disclosure import (
    applications,
    casework,
    endings,
    ingest,
    models,
    readers,
    template,
    timeliness,
    workdays,
    workflows,
)
from disclosure import portal_models as pm
from disclosure.queries import figures
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


async def department(portal: web.Portal, request: Request) -> web.Visitor | Response:
    """The signed-in department account, or the response that turns the request away."""
    visitor = await portal.visitor(request)
    if visitor.account is None:
        return web.redirect("/portal/login")
    if visitor.account.role is not models.Role.DEPARTMENT:
        return portal.refusal(request, visitor, "本页面供数据提供部门使用 / for departments only")
    return visitor


async def department_form(
    portal: web.Portal, request: Request
) -> tuple[web.Visitor, FormData] | Response:
    """The signed-in department account and the form it posted (CSRF-checked), or the
    response that turns the request away."""
    visitor = await department(portal, request)
    if isinstance(visitor, Response):
        return visitor
    form = await portal.form(request, visitor)
    if isinstance(form, Response):
        return form
    return visitor, form


def unit_of(visitor: web.Visitor) -> int:
    """The id of the signed-in account's department."""
    assert visitor.account is not None
    return visitor.account.unit_id


async def home(portal: web.Portal, request: Request) -> Response:
    visitor = await department(portal, request)
    if isinstance(visitor, Response):
        return visitor
    text = request.query_params.get("q", "")[:100]

    def work() -> Response:
        on = portal.today()
        with Session(portal.engine) as session:
            records = casework.own_records(session, unit_of(visitor), on, text=text)
            queue = casework.queue(session, unit_of(visitor))
            rates = [
                rate
                for rate in figures.on_time_rates(session, calendar=portal.calendar)
                if rate.department_id == unit_of(visitor)
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


def upload_folder(portal: web.Portal, unit_id: int, token: str) -> Path:
    """Where one upload of a department is kept, with its rejects file."""
    return portal.settings.data_dir / UPLOADS / str(unit_id) / token


async def upload(portal: web.Portal, request: Request) -> Response:
    posted = await department_form(portal, request)
    if isinstance(posted, Response):
        return posted
    visitor, form = posted
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
    folder = upload_folder(portal, unit_of(visitor), token)

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
    visitor = await department(portal, request)
    if isinstance(visitor, Response):
        return visitor
    token, name = request.path_params["token"], request.path_params["name"]
    folder = upload_folder(portal, unit_of(visitor), Path(token).name)
    path = folder / Path(name).name
    if not name.endswith(".rejects.csv") or not path.is_file():
        return portal.refusal(request, visitor, "没有这份退回清单 / no such rejects file", 404)
    return Response(
        path.read_bytes(),
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": f'attachment; filename="{ascii_name(path.name)}"'},
    )


def ascii_name(name: str) -> str:
    """A file name safe in a Content-Disposition header."""
    return name.encode("ascii", "replace").decode().replace('"', "_").replace("?", "_")


async def withdraw(portal: web.Portal, request: Request) -> Response:
    visitor = await department(portal, request)
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
        unit_id = unit_of(visitor)
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
                    endings.withdraw(
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
