"""Figures for the supervising bureau: counts per kind and department, on-time publication."""

from __future__ import annotations

import datetime as dt
import functools
from collections import defaultdict

from api.context import Context
from api.types import Deadlines, DepartmentCount, KindCount, OnTime, Stats
from disclosure import models, privacy, workdays
from disclosure.queries import figures

ON_TIME_WORKING_DAYS = 7  # 双公示: published within 7 working days of the decision


def department_counts(
    context: Context, found_units: list[figures.DepartmentCount] | None = None
) -> list[DepartmentCount]:
    """Every department with its public records per kind, by name."""
    if found_units is None:
        found_units = figures.departments(context.session, context.on)
    return [
        DepartmentCount(
            department=privacy.department(found.department),  # type: ignore[arg-type]
            licenses=found.counts[models.RecordKind.LICENSE],
            penalties=found.counts[models.RecordKind.PENALTY],
            list_entries=found.counts[models.RecordKind.LIST_ENTRY],
        )
        for found in found_units
    ]


def stats(context: Context) -> Stats:
    """The figures as of the context's day."""
    calendar = workdays.Calendar.load(context.settings.holidays_path)

    @functools.cache
    def due(decided: dt.date) -> dt.date:
        return workdays.add_working_days(decided, ON_TIME_WORKING_DAYS, calendar)

    published: dict[int, int] = defaultdict(int)
    on_time: dict[int, int] = defaultdict(int)
    for lag in figures.publication_lags(context.session, context.on):
        published[lag.source_unit_id] += lag.count
        if lag.published_on <= due(lag.decision_on):
            on_time[lag.source_unit_id] += lag.count
    found_units = figures.departments(context.session, context.on)
    units = {found.department.id: found.department for found in found_units}
    rates = [_on_time(None, sum(published.values()), sum(on_time.values()))]
    rates += [
        _on_time(privacy.department(units[unit]), published[unit], on_time[unit])
        for unit in sorted(published, key=lambda unit: units[unit].name)
    ]
    late = figures.overdue(context.session, context.on)
    # repair applications and refusals append no event: the data version misses them
    context.volatile = True
    return Stats(
        as_of=context.on,
        kinds=[
            KindCount(kind=count.kind, public=count.public, under_objection=count.under_objection)
            for count in figures.record_counts(context.session, context.on)
        ],
        departments=department_counts(context, found_units),
        on_time=rates,
        overdue=Deadlines(
            objections=len(late.objections),
            repairs=len(late.repairs),
            late_withdrawals=len(figures.late_withdrawals(context.session, calendar)),
        ),
    )


def _on_time(unit: privacy.DepartmentPublic | None, published: int, on_time: int) -> OnTime:
    return OnTime(
        department=unit,  # type: ignore[arg-type]
        published=published,
        on_time=on_time,
        rate=round(on_time / published, 4) if published else None,
    )
