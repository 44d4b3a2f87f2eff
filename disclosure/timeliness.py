"""Timeliness of 双公示: a decision goes public within 7 working days of its date."""

from __future__ import annotations

import datetime as dt

from disclosure import workdays

DEADLINE_WORKING_DAYS = 7


def working_days_to_publish(
    decision_on: dt.date, published_on: dt.date, calendar: workdays.Calendar
) -> int:
    """Working days from the decision to its publication (the decision day not counted)."""
    return workdays.working_days_between(decision_on, published_on, calendar)


def is_late(decision_on: dt.date, published_on: dt.date, calendar: workdays.Calendar) -> bool:
    """Whether a decision went public later than 7 working days after its date."""
    return working_days_to_publish(decision_on, published_on, calendar) > DEADLINE_WORKING_DAYS
