"""The public's applications, without an account: an objection or a repair application from a
record's page, a report of untrustworthy conduct, and the status page of a tracking number."""

from __future__ import annotations

from pathlib import Path

from sqlmodel import Session
from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import Response

from disclosure import applications, attachments, casework, models, workflows
from disclosure import portal_models as pm
from disclosure.queries import record_pages
from portal import web

TOO_MANY = (
    "今天从您的网络提交的申请已达上限，请明天再试 / too many applications from this address today"
)
HONEYPOT = "website"  # a field people never see nor fill; a robot filling every field does
TYPES = {"objection": pm.ApplicationType.OBJECTION, "repair": pm.ApplicationType.REPAIR}
TITLES = {pm.ApplicationType.OBJECTION: "异议申请", pm.ApplicationType.REPAIR: "信用修复申请"}
KINDS = {kind.value: kind for kind in models.RecordKind}


def _folder(portal: web.Portal) -> Path:
    return portal.settings.data_dir / attachments.FOLDER


async def _files(form: FormData) -> list[attachments.Checked]:
    sent = [item for item in form.getlist("attachments") if isinstance(item, UploadFile)]
    sent = [item for item in sent if item.filename]
    if len(sent) > attachments.MAX_FILES:
        raise attachments.AttachmentRefused(
            f"最多 {attachments.MAX_FILES} 个附件 / at most {attachments.MAX_FILES} attachments"
        )
    return [attachments.check(item.filename or "", await item.read()) for item in sent]


def _remove(paths: list[Path]) -> None:
    for path in paths:
        path.unlink(missing_ok=True)


def _spam(portal: web.Portal, request: Request, visitor: web.Visitor) -> Response:
    return portal.refusal(request, visitor, "提交未被受理 / the application was not accepted", 400)


async def apply(portal: web.Portal, request: Request) -> Response:
    """GET: the form of an objection or repair about a public record; POST: file it."""
    visitor = await portal.visitor(request)
    kind_name, record_id = request.path_params["kind"], int(request.path_params["record_id"])
    kind = KINDS.get(kind_name)
    chosen = TYPES.get(request.query_params.get("type", "objection"), pm.ApplicationType.OBJECTION)
    form: FormData | None = None
    files: list[attachments.Checked] = []
    error = None
    if request.method == "POST":
        posted = await portal.form(request, visitor)
        if isinstance(posted, Response):
            return posted
        form = posted
        if web.field(form, HONEYPOT):
            await form.close()
            return _spam(portal, request, visitor)
        chosen = TYPES.get(web.field(form, "type"), pm.ApplicationType.OBJECTION)
        try:
            files = await _files(form)
        except attachments.AttachmentRefused as refused:
            error = str(refused)
        finally:
            await form.close()
    address = portal.address(request)

    def work() -> Response:
        on = portal.today()
        with Session(portal.engine) as reading:
            record = record_pages.public_record(reading, kind, record_id, on) if kind else None
        if record is None:
            return portal.page(
                request,
                visitor,
                "message.html",
                status_code=404,
                heading="没有这条公示信息",
                message="这条信息不存在或已停止公示，无法申请。",
            )
        values = (
            {name: web.field(form, name) for name in ("applicant", "contact", "text")}
            if form
            else {}
        )
        message = error
        if form is not None and message is None:
            filing = applications.Filing(
                text=values["text"],
                applicant=values["applicant"],
                contact=values["contact"],
                files=files,
            )
            written: list[Path] = []
            try:
                with portal.writing() as session:
                    live: models.Record | None = session.get(  # type: ignore[assignment]
                        models.RECORD_MODELS[record.KIND], record.id
                    )
                    assert live is not None
                    application, written = applications.file_about_record(
                        session,
                        chosen,
                        live,
                        filing,
                        ctx=portal.ctx("public"),
                        address=address,
                        now=portal.now(),
                        folder=_folder(portal),
                    )
                    number = application.tracking_no
            except applications.TooMany:
                _remove(written)
                message = TOO_MANY
            except workflows.Refused as refused:
                _remove(written)
                message = str(refused)
            else:
                return web.redirect(f"/portal/track/{number}?new=1")
        return portal.page(
            request,
            visitor,
            "apply.html",
            status_code=400 if message else 200,
            record=record,
            label=workflows.label(record),
            chosen=chosen,
            titles=TITLES,
            error=message,
            values=values,
            honeypot=HONEYPOT,
        )

    return await web.threaded(work)


async def report(portal: web.Portal, request: Request) -> Response:
    """GET: the form of a report (举报); POST: file it for the department chosen."""
    visitor = await portal.visitor(request)
    form: FormData | None = None
    files: list[attachments.Checked] = []
    error = None
    if request.method == "POST":
        posted = await portal.form(request, visitor)
        if isinstance(posted, Response):
            return posted
        form = posted
        if web.field(form, HONEYPOT):
            await form.close()
            return _spam(portal, request, visitor)
        try:
            files = await _files(form)
        except attachments.AttachmentRefused as refused:
            error = str(refused)
        finally:
            await form.close()
    address = portal.address(request)
    names = ("department", "reported_party", "text", "reporter_name", "reporter_contact")

    def work() -> Response:
        with Session(portal.engine) as reading:
            departments = casework.department_names(reading)
        values = {name: web.field(form, name) for name in names} if form else {}
        message = error
        if form is not None and message is None:
            try:
                with portal.writing() as session:
                    unit = session.get(models.Department, int(values["department"] or 0))
                    if unit is None:
                        raise workflows.InvalidChange("请选择受理部门 / choose the department")
                    application, _written = applications.file_report(
                        session,
                        applications.Filing(
                            text=values["text"],
                            applicant="",
                            contact="",
                            files=files,
                            reported_party=values["reported_party"],
                        ),
                        department=unit,
                        record=None,
                        reporter_name=values["reporter_name"],
                        reporter_contact=values["reporter_contact"],
                        on=portal.today(),
                        address=address,
                        now=portal.now(),
                        folder=_folder(portal),
                    )
                    number = application.tracking_no
            except applications.TooMany:
                message = TOO_MANY
            except (ValueError, workflows.Refused) as refused:
                message = str(refused)
            else:
                return web.redirect(f"/portal/track/{number}?new=1")
        return portal.page(
            request,
            visitor,
            "report.html",
            status_code=400 if message else 200,
            departments=departments,
            error=message,
            values=values,
            honeypot=HONEYPOT,
        )

    return await web.threaded(work)


async def track(portal: web.Portal, request: Request) -> Response:
    """The status of an application: its state and dates only."""
    visitor = await portal.visitor(request)
    number = request.path_params.get("number") or request.query_params.get("number", "")
    if not number:
        return portal.page(request, visitor, "track.html", status=None, number="", new=False)

    def work() -> Response:
        with Session(portal.engine) as session:
            found = applications.by_tracking_number(session, number[:40])
            status = applications.status(session, found) if found else None
        return portal.page(
            request,
            visitor,
            "track.html",
            status_code=200 if status else 404,
            status=status,
            number=number[:40],
            new=bool(request.query_params.get("new")),
        )

    return await web.threaded(work)
