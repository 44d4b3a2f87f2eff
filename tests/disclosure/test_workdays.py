from datetime import date, timedelta
from pathlib import Path

import chinese_calendar
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from disclosure.workdays import (
    Calendar,
    CalendarError,
    add_working_days,
    fallback_years,
    is_working_day,
    working_days_between,
)

NO_FILE = Calendar()

# A made-up 2027 schedule: chinese_calendar 1.11.0 has no data for 2027.
HOLIDAYS_2027 = """\
# 国务院办公厅关于2027年部分节假日安排的通知 (test schedule)
[2027]
holidays = [
    "2027-01-01",
    "2027-02-06", "2027-02-07", "2027-02-08", "2027-02-09",
    "2027-02-10", "2027-02-11", "2027-02-12", "2027-02-13",
]
workdays = ["2027-02-14"]
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "holidays.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def _count_day_by_day(start: date, end: date, calendar: Calendar) -> int:
    if end <= start:
        return 0
    return sum(is_working_day(day, calendar) for day in _days(start + timedelta(days=1), end))


def test_national_day_2025() -> None:
    window = _days(date(2025, 9, 26), date(2025, 10, 13))
    expected = [
        date(2025, 9, 26),
        date(2025, 9, 28),  # Sunday, adjusted working day
        date(2025, 9, 29),
        date(2025, 9, 30),
        date(2025, 10, 9),
        date(2025, 10, 10),
        date(2025, 10, 11),  # Saturday, adjusted working day
        date(2025, 10, 13),
    ]
    assert [day for day in window if chinese_calendar.is_workday(day)] == expected
    assert [day for day in window if is_working_day(day, NO_FILE)] == expected
    assert add_working_days(date(2025, 9, 30), 1, NO_FILE) == date(2025, 10, 9)
    assert working_days_between(date(2025, 9, 30), date(2025, 10, 8), NO_FILE) == 0
    assert working_days_between(date(2025, 9, 25), date(2025, 10, 13), NO_FILE) == 8


def test_friday_plus_one_working_day() -> None:
    assert add_working_days(date(2025, 11, 14), 1, NO_FILE) == date(2025, 11, 17)
    # The Sunday before National Day 2025 is an adjusted working day.
    assert add_working_days(date(2025, 9, 26), 1, NO_FILE) == date(2025, 9, 28)


def test_zero_working_days_is_start_and_negative_is_rejected() -> None:
    assert add_working_days(date(2025, 10, 4), 0, NO_FILE) == date(2025, 10, 4)
    with pytest.raises(ValueError, match="n must be >= 0, got -1"):
        add_working_days(date(2025, 10, 4), -1, NO_FILE)


def test_seven_working_days_across_spring_festival_2026() -> None:
    # 2026-02-15..23 are holidays; Saturdays 2026-02-14 and 2026-02-28 are working days.
    decision = date(2026, 2, 13)
    assert add_working_days(decision, 7, NO_FILE) == date(2026, 3, 2)
    assert working_days_between(decision, date(2026, 3, 2), NO_FILE) == 7
    assert working_days_between(decision, date(2026, 2, 27), NO_FILE) == 5


def test_2027_without_file_counts_monday_to_friday() -> None:
    assert [is_working_day(day, NO_FILE) for day in _days(date(2027, 1, 1), date(2027, 1, 4))] == [
        True,
        False,
        False,
        True,
    ]
    assert add_working_days(date(2026, 12, 31), 1, NO_FILE) == date(2027, 1, 1)
    assert add_working_days(date(2027, 2, 5), 7, NO_FILE) == date(2027, 2, 16)
    assert working_days_between(date(2026, 12, 30), date(2027, 1, 4), NO_FILE) == 3


def test_holidays_file_overrides_2027(tmp_path: Path) -> None:
    calendar = Calendar.load(_write(tmp_path, HOLIDAYS_2027))
    assert calendar == Calendar(
        holidays=frozenset(
            [date(2027, 1, 1), *_days(date(2027, 2, 6), date(2027, 2, 13))],
        ),
        workdays=frozenset([date(2027, 2, 14)]),
        years=frozenset([2027]),
    )
    assert is_working_day(date(2027, 1, 1), calendar) is False
    assert is_working_day(date(2027, 2, 14), calendar) is True
    assert is_working_day(date(2027, 2, 15), calendar) is True
    assert add_working_days(date(2026, 12, 31), 1, calendar) == date(2027, 1, 4)
    assert add_working_days(date(2027, 2, 5), 1, calendar) == date(2027, 2, 14)
    assert add_working_days(date(2027, 2, 5), 7, calendar) == date(2027, 2, 22)
    assert working_days_between(date(2027, 2, 5), date(2027, 2, 22), calendar) == 7
    # Years outside the file still come from chinese_calendar.
    assert is_working_day(date(2026, 10, 1), calendar) is False


def test_holidays_file_takes_precedence_over_chinese_calendar(tmp_path: Path) -> None:
    calendar = Calendar.load(_write(tmp_path, '[2026]\nholidays = ["2026-06-01"]\n'))
    assert calendar == Calendar(holidays=frozenset([date(2026, 6, 1)]), years=frozenset([2026]))
    assert is_working_day(date(2026, 6, 1), calendar) is False
    # National Day is not in this file, so for 2026 it is an ordinary Thursday.
    assert is_working_day(date(2026, 10, 1), calendar) is True


def test_bare_toml_dates_are_accepted(tmp_path: Path) -> None:
    calendar = Calendar.load(_write(tmp_path, "[2027]\nholidays = [2027-01-01]\n"))
    assert calendar == Calendar(holidays=frozenset([date(2027, 1, 1)]), years=frozenset([2027]))


def test_no_file_is_an_empty_calendar() -> None:
    assert Calendar.load(None) == Calendar(frozenset(), frozenset(), frozenset())


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (
            '[2027]\nholidays = ["2027-01-01", "2027-02-30"]\n',
            "[2027] holidays: '2027-02-30' is not a date (YYYY-MM-DD)",
        ),
        (
            '[2027]\nholidays = ["20270101"]\n',
            "[2027] holidays: '20270101' is not a date (YYYY-MM-DD)",
        ),
        (
            '[2027]\nworkdays = ["2026-12-31"]\n',
            "[2027] workdays: 2026-12-31 is not in 2027",
        ),
        (
            "[2027]\nholidays = [2027-01-01T09:00:00]\n",
            "[2027] holidays: datetime.datetime(2027, 1, 1, 9, 0) is not a date (YYYY-MM-DD)",
        ),
        (
            '[2027]\nholidays = "2027-01-01"\n',
            "[2027] holidays: expected a list of dates, got '2027-01-01'",
        ),
        (
            '[2027]\nholiday = ["2027-01-01"]\n',
            "[2027] holiday: unknown key (expected holidays, workdays)",
        ),
        (
            '[holidays]\n2027 = ["2027-01-01"]\n',
            "entry 'holidays': expected a table named after a year, such as [2027]",
        ),
        (
            'holidays = ["2027-01-01"]\n',
            "entry 'holidays': expected a table named after a year, such as [2027]",
        ),
        (
            '[2027]\nholidays = ["2027-02-14"]\nworkdays = ["2027-02-14"]\n',
            "[2027]: 2027-02-14 is listed both as a holiday and as a working day",
        ),
    ],
)
def test_malformed_file_names_file_and_entry(tmp_path: Path, text: str, problem: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(CalendarError) as caught:
        Calendar.load(path)
    assert str(caught.value) == f"{path}: {problem}"


def test_invalid_toml_names_file_and_line(tmp_path: Path) -> None:
    path = _write(tmp_path, "[2027]\n# bare TOML date\nholidays = [2027-01-01, 2027-02-30]\n")
    with pytest.raises(CalendarError) as caught:
        Calendar.load(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: invalid TOML: ")
    assert "line 3" in message


def test_missing_file_names_file(tmp_path: Path) -> None:
    path = tmp_path / "absent.toml"
    with pytest.raises(CalendarError) as caught:
        Calendar.load(path)
    assert str(caught.value) == f"{path}: cannot read holidays file: No such file or directory"


def test_fallback_years(tmp_path: Path) -> None:
    days = [date(2003, 5, 1), date(2025, 10, 1), date(2027, 1, 1), date(2027, 6, 1)]
    assert fallback_years(days, NO_FILE) == {2003, 2027}
    assert fallback_years(days, Calendar.load(_write(tmp_path, HOLIDAYS_2027))) == {2003}
    assert fallback_years([], NO_FILE) == set()


def _calendars() -> st.SearchStrategy[Calendar]:
    # Built directly, not via tmp_path: hypothesis rejects function-scoped fixtures in @given.
    holidays = frozenset([date(2027, 1, 1), *_days(date(2027, 2, 6), date(2027, 2, 13))])
    with_2027 = Calendar(holidays, frozenset([date(2027, 2, 14)]), frozenset([2027]))
    return st.sampled_from([NO_FILE, with_2027])


_starts = st.dates(min_value=date(2002, 6, 1), max_value=date(2028, 12, 31))
_spans = st.integers(min_value=-10, max_value=3 * 366)


@settings(deadline=None)
@given(start=_starts, span=_spans, calendar=_calendars())
@example(start=date(2026, 12, 20), span=30, calendar=NO_FILE)
@example(start=date(2025, 6, 30), span=3 * 366, calendar=NO_FILE)
@example(start=date(2003, 12, 31), span=1, calendar=NO_FILE)
@example(start=date(2026, 2, 1), span=400, calendar=Calendar(years=frozenset([2027])))
def test_working_days_between_matches_day_by_day_count(
    start: date, span: int, calendar: Calendar
) -> None:
    end = start + timedelta(days=span)
    assert working_days_between(start, end, calendar) == _count_day_by_day(start, end, calendar)


@settings(deadline=None)
@given(start=_starts, n=st.integers(min_value=0, max_value=800), calendar=_calendars())
@example(start=date(2026, 12, 31), n=1, calendar=NO_FILE)
def test_add_working_days_is_inverse_of_between(start: date, n: int, calendar: Calendar) -> None:
    deadline = add_working_days(start, n, calendar)
    assert working_days_between(start, deadline, calendar) == n
    if n > 0:
        assert is_working_day(deadline, calendar) is True
