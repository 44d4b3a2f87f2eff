"""The bureau's desk (the operator): the figures of `stats` as tables and SVG charts, and every
overdue item with the department that must act."""

from __future__ import annotations

import datetime as dt

from sqlmodel import Session
from starlette.requests import Request
from starlette.responses import Response

from disclosure import casework, models, timeliness
from disclosure.queries import figures
from portal import charts, web

OBJECTION_STATES = {
    "open": "核实中",
    models.ObjectionOutcome.CORRECTED.value: "成立·已更正",
    models.ObjectionOutcome.WITHDRAWN.value: "成立·停止公示",
    models.ObjectionOutcome.REJECTED.value: "不成立",
}
REPAIR_STATES = {
    models.RepairStatus.APPLIED.value: "审核中",
    models.RepairStatus.APPROVED.value: "已修复",
    models.RepairStatus.REFUSED.value: "不予修复",
}


async def home(portal: web.Portal, request: Request) -> Response:
    visitor = await portal.visitor(request)
    if visitor.account is None:
        return web.redirect("/portal/login")
    if visitor.account.role is not models.Role.OPERATOR:
        return portal.refusal(request, visitor, "本页面供发展和改革局使用 / for the bureau only")

    def work() -> Response:
        on = portal.today()
        with Session(portal.engine) as session:
            firsts, monthly = casework.monthly_on_time(session, on, portal.calendar)
            labels = [f"{first.month}月" for first in firsts]
            names = casework.department_names(session)
            late = figures.overdue(session, on)
            slow = figures.late_withdrawals(session, portal.calendar)
            overdue: list[tuple[str, int | None, models.RecordBase, dt.date | None, str]] = []
            for objection in late.objections:
                record = session.get(
                    models.RECORD_MODELS[objection.record_kind], objection.record_id
                )
                assert record is not None
                overdue.append(
                    ("异议", objection.id, record, objection.due_on, names[record.source_unit_id])
                )
            for repair in late.repairs:
                record = session.get(models.RECORD_MODELS[repair.record_kind], repair.record_id)
                assert record is not None
                overdue.append(
                    ("信用修复", repair.id, record, repair.due_on, names[record.source_unit_id])
                )
            for withdrawal in slow:
                record = session.get(
                    models.RECORD_MODELS[withdrawal.record_kind], withdrawal.record_id
                )
                assert record is not None and withdrawal.decision_changed_on is not None
                due = timeliness.withdrawal_due_on(withdrawal.decision_changed_on, portal.calendar)
                overdue.append(
                    ("撤回逾期", withdrawal.id, record, due, names[record.source_unit_id])
                )
            objections = casework.objection_states(session)
            repairs = casework.repair_states(session)
            return portal.page(
                request,
                visitor,
                "bureau.html",
                labels=labels,
                monthly=[
                    (
                        row,
                        charts.columns(
                            f"{row.department}按月按时公示率",
                            labels,
                            [rate.rate if rate else None for rate in row.by_month],
                        ),
                    )
                    for row in monthly
                ],
                overdue=overdue,
                objections=[
                    (OBJECTION_STATES[key], objections.get(key, 0)) for key in OBJECTION_STATES
                ],
                repairs=[(REPAIR_STATES[key], repairs.get(key, 0)) for key in REPAIR_STATES],
                objection_chart=charts.bars(
                    "异议按状态",
                    [
                        (
                            OBJECTION_STATES[k],
                            float(objections.get(k, 0)),
                            str(objections.get(k, 0)),
                        )
                        for k in OBJECTION_STATES
                    ],
                ),
                repair_chart=charts.bars(
                    "信用修复申请按状态",
                    [
                        (REPAIR_STATES[k], float(repairs.get(k, 0)), str(repairs.get(k, 0)))
                        for k in REPAIR_STATES
                    ],
                ),
            )

    return await web.threaded(work)
