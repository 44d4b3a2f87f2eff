"""The public's applications: an objection (异议申请) or a repair application (信用修复申请)
about a public record, opened through `workflows`, and a report (举报) of untrustworthy conduct
for the responsible department. Each gets a tracking number; its status shows only its state and
dates. A reporter's identity goes to its own table, which no page, export or output reads."""

from __future__ import annotations

import dataclasses
import datetime as dt
import secrets
from collections.abc import Sequence
from pathlib import Path

from sqlmodel import Session, col, func, select

from disclosure import attachments, models, objections, repairs, workflows
from disclosure import portal_models as pm

PER_ADDRESS_PER_DAY = 5  # applications from one address within 24 hours
TEXT_MAX = 5000
_PREFIX = {
    pm.ApplicationType.OBJECTION: "YY",
    pm.ApplicationType.REPAIR: "XF",
    pm.ApplicationType.REPORT: "JB",
}
_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O, 1/I: read out on the phone


class TooMany(Exception):
    """The address sent its share of applications today."""


@dataclasses.dataclass(frozen=True)
class Filing:
    """What a filer sends: the text, its own name and contact, and its checked attachments."""

    text: str
    applicant: str
    contact: str
    files: Sequence[attachments.Checked] = ()
    reported_party: str = ""


def tracking_number(kind: pm.ApplicationType, on: dt.date) -> str:
    """A new tracking number: the kind, the day, and 10 random characters (50 bits), so that a
    status page found by guessing is as unlikely as a lottery."""
    tail = "".join(secrets.choice(_ALPHABET) for _ in range(10))
    return f"{_PREFIX[kind]}{on:%Y%m%d}-{tail}"


def _require_quota(session: Session, address: str, now: dt.datetime) -> None:
    sent = session.exec(
        select(func.count())
        .select_from(pm.Application)
        .where(
            col(pm.Application.address) == address,
            col(pm.Application.filed_at) > now - dt.timedelta(hours=24),
        )
    ).one()
    if sent >= PER_ADDRESS_PER_DAY:
        raise TooMany()


def _clean(text: str, what: str, most: int = TEXT_MAX) -> str:
    said = text.strip()
    if not said:
        raise workflows.InvalidChange(f"请填写{what} / {what} is required", field=what)
    if len(said) > most:
        raise workflows.InvalidChange(f"{what}不得超过 {most} 字 / at most {most}", field=what)
    return said


def _new(
    kind: pm.ApplicationType,
    filing: Filing,
    *,
    department_id: int,
    address: str,
    now: dt.datetime,
    on: dt.date,
    record: models.Record | None,
) -> pm.Application:
    return pm.Application(
        tracking_no=tracking_number(kind, on),
        type=kind,
        department_id=department_id,
        record_kind=record.KIND if record is not None else None,
        record_id=record.id if record is not None else None,
        filed_on=on,
        filed_at=now,
        applicant=filing.applicant.strip()[:200] or None,
        contact=filing.contact.strip()[:200] or None,
        reported_party=filing.reported_party.strip()[:200] or None,
        text=filing.text.strip(),
        address=address,
    )


def _attach(
    session: Session,
    application: pm.Application,
    files: Sequence[attachments.Checked],
    folder: Path,
) -> list[Path]:
    """Store the files and their rows; returns the files written new (to remove on failure)."""
    if len(files) > attachments.MAX_FILES:
        raise attachments.AttachmentRefused(
            f"最多 {attachments.MAX_FILES} 个附件 / at most {attachments.MAX_FILES} attachments"
        )
    written = []
    assert application.id is not None
    for checked in files:
        path, new = attachments.store(folder, checked)
        if new:
            written.append(path)
        session.add(
            pm.Attachment(
                application_id=application.id,
                filename=checked.filename,
                media_type=checked.media_type,
                size=len(checked.content),
                sha256=checked.sha256,
            )
        )
    return written


def file_about_record(
    session: Session,
    kind: pm.ApplicationType,
    record: models.Record,
    filing: Filing,
    *,
    ctx: workflows.Context,
    address: str,
    now: dt.datetime,
    folder: Path,
) -> tuple[pm.Application, list[Path]]:
    """File an objection or a repair application about `record` through the workflow (which
    refuses, naming the rule, what it would refuse from anyone); returns the application and
    the attachment files written new, which the caller removes if its transaction fails."""
    _require_quota(session, address, now)
    _clean(filing.applicant, "申请人")
    _clean(filing.contact, "联系方式", 200)
    text = _clean(filing.text, "异议理由" if kind is pm.ApplicationType.OBJECTION else "信用承诺")
    application = _new(
        kind,
        filing,
        department_id=record.source_unit_id,
        address=address,
        now=now,
        on=ctx.on,
        record=record,
    )
    # the workflows' actor is in the change log: the tracking number, never the filer's name
    acting = dataclasses.replace(ctx, actor=f"公众申请 {application.tracking_no}")
    if kind is pm.ApplicationType.OBJECTION:
        objection = objections.open_objection(session, record, grounds=text, ctx=acting)
        application.objection_id = objection.id
    elif kind is pm.ApplicationType.REPAIR:
        repair = repairs.apply_for_repair(session, record, commitment=text, ctx=acting)
        application.repair_id = repair.id
    else:
        raise ValueError(f"{kind} is not about a record")
    session.add(application)
    session.flush()
    return application, _attach(session, application, filing.files, folder)


def file_report(
    session: Session,
    filing: Filing,
    *,
    department: models.Department,
    record: models.Record | None,
    reporter_name: str,
    reporter_contact: str,
    on: dt.date,
    address: str,
    now: dt.datetime,
    folder: Path,
) -> tuple[pm.Application, list[Path]]:
    """File a report (举报) for `department` (the record's source unit, when it names one); the
    reporter's name and contact go to their own table."""
    _require_quota(session, address, now)
    _clean(filing.reported_party, "被举报人")
    _clean(filing.text, "举报内容")
    name = _clean(reporter_name, "举报人姓名", 100)
    contact = _clean(reporter_contact, "举报人联系方式", 200)
    assert department.id is not None
    application = _new(
        pm.ApplicationType.REPORT,
        dataclasses.replace(filing, applicant="", contact=""),
        department_id=record.source_unit_id if record is not None else department.id,
        address=address,
        now=now,
        on=on,
        record=record,
    )
    application.report_status = pm.ReportStatus.RECEIVED
    session.add(application)
    session.flush()
    assert application.id is not None
    session.add(pm.Reporter(application_id=application.id, name=name, contact=contact))
    return application, _attach(session, application, filing.files, folder)


def by_tracking_number(session: Session, number: str) -> pm.Application | None:
    """The application with this tracking number, or None."""
    return session.exec(
        select(pm.Application).where(col(pm.Application.tracking_no) == number.strip().upper())
    ).first()


@dataclasses.dataclass(frozen=True)
class Status:
    """What the public status page shows: the state and its dates, nothing else."""

    tracking_no: str
    type: pm.ApplicationType
    filed_on: dt.date
    state: str  # in Chinese, as shown
    due_on: dt.date | None
    decided_on: dt.date | None


def status(session: Session, application: pm.Application) -> Status:
    """The application's state and dates, from the objection or repair it opened."""
    state, due, decided = "已受理", None, None
    if application.objection_id is not None:
        objection = session.get(models.Objection, application.objection_id)
        assert objection is not None
        due, decided = objection.due_on, objection.closed_on
        state = {
            None: "核实中",
            models.ObjectionOutcome.CORRECTED: "异议成立，已更正",
            models.ObjectionOutcome.WITHDRAWN: "异议成立，已停止公示",
            models.ObjectionOutcome.REJECTED: "异议不成立",
        }[objection.outcome]
    elif application.repair_id is not None:
        repair = session.get(models.Repair, application.repair_id)
        assert repair is not None
        due, decided = repair.due_on, repair.decided_on
        state = {
            models.RepairStatus.APPLIED: "审核中",
            models.RepairStatus.APPROVED: "修复通过，已停止公示",
            models.RepairStatus.REFUSED: "不予修复",
        }[repair.status]
    elif application.report_status is not None:
        decided = application.handled_on
        state = {
            pm.ReportStatus.RECEIVED: "已受理，核查中",
            pm.ReportStatus.VERIFIED: "已办结：查证属实",
            pm.ReportStatus.UNFOUNDED: "已办结：查无实据",
        }[application.report_status]
    return Status(
        application.tracking_no, application.type, application.filed_on, state, due, decided
    )


def handle_report(
    session: Session, application: pm.Application, outcome: pm.ReportStatus, on: dt.date
) -> None:
    """Close a report as verified or unfounded."""
    if application.type is not pm.ApplicationType.REPORT:
        raise workflows.WrongState(f"{application.tracking_no} 不是举报 / is not a report")
    if application.report_status is not pm.ReportStatus.RECEIVED:
        raise workflows.WrongState(f"举报 {application.tracking_no} 已办结 / already handled")
    if outcome is pm.ReportStatus.RECEIVED:
        raise workflows.InvalidChange("办结须为查证属实或查无实据 / verified or unfounded")
    application.report_status = outcome
    application.handled_on = on
    session.add(application)


def attachments_of(session: Session, application: pm.Application) -> Sequence[pm.Attachment]:
    """The application's attachments, in the order sent."""
    return session.exec(
        select(pm.Attachment)
        .where(col(pm.Attachment.application_id) == application.id)
        .order_by(col(pm.Attachment.id))
    ).all()
