"""Chinese working-day (工作日) arithmetic for disclosure and objection deadlines.

A date is a working day according to, in order of precedence:

1. the holidays file, for the years it covers (国务院办公厅 holiday notices not yet in
   chinese_calendar, or corrections to it);
2. chinese_calendar, for the years it has data for;
3. otherwise Monday to Friday (see ``fallback_years`` to warn about this).
"""

from __future__ import annotations

import re
import tomllib
from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

import chinese_calendar

__all__ = [
    "Calendar",
    "CalendarError",
    "add_working_days",
    "fallback_years",
    "is_working_day",
    "working_days_between",
]

# date.fromisoformat also accepts forms such as "20270101" and "2027-W01-1" since Python 3.11.
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_YEAR_KEY = re.compile(r"\d{4}")
_LISTS = ("holidays", "workdays")


class CalendarError(ValueError):
    """A holidays file that cannot be read or is malformed."""


@dataclass(frozen=True)
class Calendar:
    """Holiday schedule from a holidays file; for a covered year it replaces chinese_calendar.

    In a covered year the working days are Monday to Friday, minus ``holidays``, plus
    ``workdays`` (adjusted weekend working days, 调休).
    """

    holidays: frozenset[date] = field(default_factory=frozenset)
    workdays: frozenset[date] = field(default_factory=frozenset)
    years: frozenset[int] = field(default_factory=frozenset)

    @classmethod
    def load(cls, path: Path | None) -> Calendar:
        """Read a holidays TOML file, or return an empty calendar when path is None."""
        if path is None:
            return cls()
        try:
            with path.open("rb") as file:
                document = tomllib.load(file)
        except OSError as exc:
            raise CalendarError(f"{path}: cannot read holidays file: {exc.strerror}") from exc
        except UnicodeDecodeError as exc:
            raise CalendarError(f"{path}: holidays file is not UTF-8: {exc}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise CalendarError(f"{path}: invalid TOML: {exc}") from exc
        return _parse(path, document)


def _parse(path: Path, document: dict[str, Any]) -> Calendar:
    holidays: set[date] = set()
    workdays: set[date] = set()
    years: set[int] = set()
    for key, table in document.items():
        if not _YEAR_KEY.fullmatch(key) or not isinstance(table, dict):
            raise CalendarError(
                f"{path}: entry {key!r}: expected a table named after a year, such as [2027]"
            )
        year = int(key)
        unknown = sorted(set(table) - set(_LISTS))
        if unknown:
            raise CalendarError(
                f"{path}: [{key}] {unknown[0]}: unknown key (expected holidays, workdays)"
            )
        found = {name: _parse_dates(path, year, name, table.get(name, [])) for name in _LISTS}
        both = found["holidays"] & found["workdays"]
        if both:
            raise CalendarError(
                f"{path}: [{key}]: {min(both).isoformat()} is listed both as a holiday "
                "and as a working day"
            )
        holidays |= found["holidays"]
        workdays |= found["workdays"]
        years.add(year)
    return Calendar(frozenset(holidays), frozenset(workdays), frozenset(years))


def _parse_dates(path: Path, year: int, name: str, values: object) -> set[date]:
    where = f"{path}: [{year}] {name}"
    if not isinstance(values, list):
        raise CalendarError(f"{where}: expected a list of dates, got {values!r}")
    days: set[date] = set()
    for value in values:
        day = _parse_date(value)
        if day is None:
            raise CalendarError(f"{where}: {value!r} is not a date (YYYY-MM-DD)")
        if day.year != year:
            raise CalendarError(f"{where}: {day.isoformat()} is not in {year}")
        days.add(day)
    return days


def _parse_date(value: object) -> date | None:
    # tomllib turns bare TOML dates into date and date-times into datetime (a date subclass).
    if type(value) is date:
        return value
    if isinstance(value, str) and _ISO_DATE.fullmatch(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            return None
    return None


@cache
def _chinese_calendar_knows(year: int) -> bool:
    try:
        chinese_calendar.is_workday(date(year, 1, 1))
    except NotImplementedError:
        return False
    return True


def is_working_day(day: date, calendar: Calendar) -> bool:
    """Tell whether day is a working day (工作日)."""
    if day.year in calendar.years:
        return day in calendar.workdays or (day.weekday() < 5 and day not in calendar.holidays)
    if _chinese_calendar_knows(day.year):
        return bool(chinese_calendar.is_workday(day))
    return day.weekday() < 5


@lru_cache(maxsize=1024)
def _working_days_in_year(year: int, calendar: Calendar) -> tuple[date, ...]:
    days = map(
        date.fromordinal, range(date(year, 1, 1).toordinal(), date(year, 12, 31).toordinal() + 1)
    )
    return tuple(day for day in days if is_working_day(day, calendar))


def add_working_days(start: date, n: int, calendar: Calendar) -> date:
    """Return the date n working days after start (start itself not counted)."""
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    if n == 0:
        return start
    year = start.year
    days = _working_days_in_year(year, calendar)
    index = bisect_right(days, start) + n - 1
    while index >= len(days):
        index -= len(days)
        year += 1
        days = _working_days_in_year(year, calendar)
    return days[index]


def working_days_between(start: date, end: date, calendar: Calendar) -> int:
    """Count the working days d with start < d <= end (0 if end <= start)."""
    if end <= start:
        return 0
    if start.year == end.year:
        days = _working_days_in_year(start.year, calendar)
        return bisect_right(days, end) - bisect_right(days, start)
    first = _working_days_in_year(start.year, calendar)
    count = len(first) - bisect_right(first, start)
    for year in range(start.year + 1, end.year):
        count += len(_working_days_in_year(year, calendar))
    return count + bisect_right(_working_days_in_year(end.year, calendar), end)


def fallback_years(days: Iterable[date], calendar: Calendar) -> set[int]:
    """Return the years among days with no holiday schedule, counted as Monday to Friday."""
    years = {day.year for day in days}
    return {
        year for year in years if year not in calendar.years and not _chinese_calendar_knows(year)
    }
