"""Timeliness: a decision goes public within 7 working days of its date (双公示), and is withdrawn
within 3 working days of its change (行政处罚法 Arts. 48 and 85: its 三日 are working days)."""

from __future__ import annotations

import datetime as dt

from disclosure import workdays

DEADLINE_WORKING_DAYS = 7
WITHDRAWAL_WORKING_DAYS = 3


def working_days_to_publish(
    decision_on: dt.date, published_on: dt.date, calendar: workdays.Calendar
) -> int:
    """Working days from the decision to its publication (the decision day not counted)."""
    return workdays.working_days_between(decision_on, published_on, calendar)


def is_late(decision_on: dt.date, published_on: dt.date, calendar: workdays.Calendar) -> bool:
    """Whether a decision went public later than 7 working days after its date."""
    return working_days_to_publish(decision_on, published_on, calendar) > DEADLINE_WORKING_DAYS


def withdrawal_due_on(changed_on: dt.date, calendar: workdays.Calendar) -> dt.date:
    """The last day to withdraw a decision changed on `changed_on` (that day not counted)."""
    return workdays.add_working_days(changed_on, WITHDRAWAL_WORKING_DAYS, calendar)


def withdrawal_is_late(
    changed_on: dt.date, withdrawn_on: dt.date, calendar: workdays.Calendar
) -> bool:
    """Whether a withdrawal came later than 3 working days after the decision changed."""
    return withdrawn_on > withdrawal_due_on(changed_on, calendar)
