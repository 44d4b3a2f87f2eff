"""What the portal's desks read: a department's own records with their state, its queue of
objections, repair applications and reports with their deadlines, and the bureau's figures."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import Counter
from collections.abc import Sequence

import sqlalchemy as sa
from dateutil.relativedelta import relativedelta
from sqlmodel import Session, col, select

from disclosure import lifecycle, models, workdays
from disclosure import portal_models as pm
from disclosure.queries import figures

PAGE = 50


@dataclasses.dataclass(frozen=True)
class OwnRecord:
    """One of a department's records and its state on the day."""

    record: models.Record
    state: str  # 公示中 | 异议处理中 | 已停止公示 | 未公示

    @property
    def kind(self) -> models.RecordKind:
        return self.record.KIND


def state(record: models.Record, on: dt.date) -> str:
    """The record's state as the desk shows it."""
    if lifecycle.is_public(record, on):
        return "异议处理中" if lifecycle.under_objection(record, on) else "公示中"
    return "已停止公示" if record.ended_on is not None or record.published_on <= on else "未公示"


def own_records(
    session: Session, unit_id: int, on: dt.date, *, text: str = "", first: int = PAGE
) -> list[OwnRecord]:
    """The department's records (it is their source unit), newest decision first; `text`
    narrows them to a document number or party name containing it."""
    found: list[models.Record] = []
    for model in models.RECORD_MODELS.values():
        statement = select(model).where(col(model.source_unit_id) == unit_id)
        if text.strip():
            needle = text.strip()
            statement = statement.where(
                sa.or_(
                    col(model.decision_doc_no).contains(needle, autoescape=True),
                    col(model.party_name).contains(needle, autoescape=True),
                )
            )
        statement = statement.order_by(col(model.decision_on).desc(), col(model.id).desc())
        found.extend(session.exec(statement.limit(first)).unique().all())  # type: ignore[arg-type]
    found.sort(key=lambda r: (r.decision_on, r.KIND.value, r.id or 0), reverse=True)
    return [OwnRecord(record, state(record, on)) for record in found[:first]]


def owned(
    session: Session, kind: models.RecordKind, record_id: int, unit_id: int
) -> models.Record | None:
    """The record if the department is its source unit, else None (another's is not found)."""
    record = session.get(models.RECORD_MODELS[kind], record_id)
    if record is None or record.source_unit_id != unit_id:
        return None
    return record  # type: ignore[return-value]


@dataclasses.dataclass(frozen=True)
class Queue:
    """What a department must decide, each with its record, oldest deadline first."""

    objections: list[tuple[models.Objection, models.Record]]
    repairs: list[tuple[models.Repair, models.Record]]
    reports: Sequence[pm.Application]


def _records_of(
    session: Session, refs: Sequence[models.RecordRef], unit_id: int | None
) -> list[tuple[models.RecordRef, models.Record]]:
    paired = []
    for ref in refs:
        record = session.get(models.RECORD_MODELS[ref.record_kind], ref.record_id)
        if record is not None and (unit_id is None or record.source_unit_id == unit_id):
            paired.append((ref, record))
    return paired  # type: ignore[return-value]


def queue(session: Session, unit_id: int) -> Queue:
    """The department's open objections, pending repairs and reports received."""
    objections = session.exec(
        select(models.Objection)
        .where(col(models.Objection.closed_on).is_(None))
        .order_by(col(models.Objection.due_on), col(models.Objection.id))
    ).all()
    repairs = session.exec(
        select(models.Repair)
        .where(col(models.Repair.status) == models.RepairStatus.APPLIED)
        .order_by(col(models.Repair.due_on), col(models.Repair.id))
    ).all()
    reports = session.exec(
        select(pm.Application)
        .where(
            col(pm.Application.type) == pm.ApplicationType.REPORT,
            col(pm.Application.department_id) == unit_id,
            col(pm.Application.report_status) == pm.ReportStatus.RECEIVED,
        )
        .order_by(col(pm.Application.filed_on), col(pm.Application.id))
    ).all()
    return Queue(
        _records_of(session, objections, unit_id),  # type: ignore[arg-type]
        _records_of(session, repairs, unit_id),  # type: ignore[arg-type]
        reports,
    )


def application_of(
    session: Session, *, objection_id: int | None = None, repair_id: int | None = None
) -> pm.Application | None:
    """The public application that opened this objection or repair, if one did."""
    column = pm.Application.objection_id if objection_id is not None else pm.Application.repair_id
    wanted = objection_id if objection_id is not None else repair_id
    return session.exec(select(pm.Application).where(col(column) == wanted)).first()


def report_of(session: Session, application_id: int, unit_id: int) -> pm.Application | None:
    """A report the department must handle, else None."""
    found = session.get(pm.Application, application_id)
    if (
        found is None
        or found.type is not pm.ApplicationType.REPORT
        or found.department_id != unit_id
    ):
        return None
    return found


def months(on: dt.date, count: int = 6) -> list[dt.date]:
    """The first days of the last `count` months up to `on`'s, oldest first."""
    start = on.replace(day=1)
    return [start - relativedelta(months=back) for back in range(count - 1, -1, -1)]


@dataclasses.dataclass(frozen=True)
class MonthlyRate:
    """A department's decisions published in each month, and the share on time."""

    department: str
    department_id: int
    by_month: list[figures.OnTimeRate | None]  # None: nothing published that month


def monthly_on_time(
    session: Session, on: dt.date, calendar: workdays.Calendar, count: int = 6
) -> tuple[list[dt.date], list[MonthlyRate]]:
    """On-time publication per department in each of the last `count` months."""
    firsts = months(on, count)
    rows: dict[int, MonthlyRate] = {}
    for index, first in enumerate(firsts):
        last = first + relativedelta(months=1) - dt.timedelta(days=1)
        for rate in figures.on_time_rates(
            session, calendar=calendar, published_from=first, published_until=min(last, on)
        ):
            row = rows.setdefault(
                rate.department_id, MonthlyRate(rate.department, rate.department_id, [None] * count)
            )
            row.by_month[index] = rate
    return firsts, sorted(rows.values(), key=lambda row: row.department)


def objection_states(session: Session) -> Counter[str]:
    """Objections by state: open, or how they were resolved."""
    counts: Counter[str] = Counter()
    for outcome, number in session.execute(
        sa.select(col(models.Objection.outcome), sa.func.count()).group_by(
            col(models.Objection.outcome)
        )
    ):
        counts[outcome.value if outcome is not None else "open"] += number
    return counts


def repair_states(session: Session) -> Counter[str]:
    """Repair applications by status."""
    counts: Counter[str] = Counter()
    for status, number in session.execute(
        sa.select(col(models.Repair.status), sa.func.count()).group_by(col(models.Repair.status))
    ):
        counts[status.value] += number
    return counts


def department_names(session: Session) -> dict[int, str]:
    """Every department's name by id."""
    return {
        unit.id: unit.name
        for unit in session.exec(select(models.Department).order_by(col(models.Department.name)))
        if unit.id is not None
    }
