import datetime as dt

import pytest
from sqlmodel import Session

from disclosure import endings, models, objections
from disclosure.queries import change_log, figures, record_pages
from tests import factories

D = dt.date
ON = D(2026, 6, 1)


def _ids(
    records: list[models.Penalty]
    | list[models.License]
    | list[models.ListEntry]
    | list[record_pages.RecordRow],
) -> list[int]:
    return [record.id for record in records if record.id is not None]


def _found(session: Session, model: type[record_pages.R], **where: object) -> list[int]:
    """Ids on the first page of public `model` records passing the filter `where`."""
    page = record_pages.list_records(
        session,
        model,
        on=ON,
        where=record_pages.RecordFilter(**where),  # type: ignore[arg-type]
    )
    return _ids(page.records)


def _all_pages(
    session: Session, where: record_pages.RecordFilter, first: int, insert_between: bool = False
) -> list[int]:
    seen: list[int] = []
    after = None
    while True:
        page = record_pages.list_records(
            session, models.Penalty, on=ON, where=where, first=first, after=after
        )
        seen += _ids(page.records)
        if insert_between:  # a newer and an older decision arrive between two pages
            factories.add_penalty(session, on=ON, decision_on=D(2026, 5, 30))
            factories.add_penalty(session, on=ON, decision_on=D(2026, 1, 2))
        if not page.has_next:
            return seen
        after = page.position(page.records[-1])


def test_keyset_pages_walk_every_record_once_in_order(session: Session) -> None:
    decided = [D(2026, 3, 1) + dt.timedelta(days=day % 20) for day in range(45)]
    stored = [factories.add_penalty(session, on=ON, decision_on=day) for day in decided]
    expected = _ids(sorted(stored, key=lambda p: (p.decision_on, p.id or 0), reverse=True))
    assert _all_pages(session, record_pages.RecordFilter(), first=7) == expected
    session.rollback()


def test_keyset_pages_stay_stable_under_inserts(session: Session) -> None:
    stored = [
        factories.add_penalty(session, on=ON, decision_on=D(2026, 3, 1) + dt.timedelta(days=day))
        for day in range(30)
    ]
    expected = _ids(sorted(stored, key=lambda p: (p.decision_on, p.id or 0), reverse=True))
    seen = _all_pages(session, record_pages.RecordFilter(decided_from=D(2026, 3, 1)), 4, True)
    # Records inserted behind the current position show up; those ahead never shift a page.
    assert len(seen) == len(set(seen))
    assert [record_id for record_id in seen if record_id in set(expected)] == expected


def test_pages_need_not_look_behind_the_oldest_unexpired_penalty(session: Session) -> None:
    serious = models.Severity.SERIOUS
    long_public = factories.add_penalty(
        session, on=ON, decision_on=D(2024, 1, 10), severity=serious
    )
    for decided in (D(2024, 3, 1), D(2024, 6, 1), D(2025, 2, 1)):  # a year each: over by ON
        factories.add_penalty(session, on=ON, decision_on=decided)
    recent = [
        factories.add_penalty(session, on=ON, decision_on=ON - dt.timedelta(days=day))
        for day in (3, 3, 9, 40, 200)
    ]
    since = record_pages.public_since(session, models.Penalty, ON)
    assert since == D(2024, 1, 10)
    expected = _ids(
        sorted([*recent, long_public], key=lambda p: (p.decision_on, p.id or 0), reverse=True)
    )
    for first in (1, 2, 4, 6, 7):
        for bound in (None, since):
            seen, after, has_next = [], None, True
            while has_next:
                page = record_pages.list_records(
                    session, models.Penalty, on=ON, first=first, after=after, since=bound
                )
                seen += _ids(page.records)
                has_next = page.has_next
                after = page.position(page.records[-1]) if page.records else None
            assert seen == expected, (first, bound)
    # the day after long_public's publicity, the bound moves up to the oldest still unexpired
    after_it = (long_public.publicity_end_on or ON) + dt.timedelta(days=1)
    unexpired = [p for p in recent if (p.publicity_end_on or ON) >= after_it]
    assert record_pages.public_since(session, models.Penalty, after_it) == min(
        p.decision_on for p in unexpired
    )
    assert record_pages.public_since(session, models.Penalty, D(2099, 1, 1)) == dt.date.max
    assert record_pages.public_since(session, models.License, ON) is None
    assert record_pages.public_since(session, models.ListEntry, ON) is None
    session.rollback()


def test_page_size_is_capped(session: Session) -> None:
    for _ in range(3):
        factories.add_penalty(session, on=ON)
    assert len(record_pages.list_records(session, models.Penalty, on=ON, first=1000).records) == 3
    assert record_pages.list_records(session, models.Penalty, on=ON, first=2).has_next


def test_only_public_records_are_listed_and_counted(session: Session) -> None:
    shown = factories.add_penalty(session, on=ON)
    withdrawn = factories.add_penalty(session, on=ON)
    endings.withdraw(
        session, withdrawn, kind=models.WithdrawalKind.REVOKED, reason="撤销", ctx=factories.ctx()
    )
    factories.add_penalty(session, on=ON, severity=models.Severity.MINOR)  # never published
    expired = factories.add_penalty(session, on=D(2025, 1, 3), decision_on=D(2025, 1, 1))
    page = record_pages.list_records(session, models.Penalty, on=ON)
    assert _ids(page.records) == [shown.id]
    assert record_pages.count_records(session, models.Penalty, on=ON) == 1
    assert (
        record_pages.public_record(session, models.RecordKind.PENALTY, expired.id or 0, ON) is None
    )
    assert (
        record_pages.public_record(session, models.RecordKind.PENALTY, shown.id or 0, ON) == shown
    )


def test_filters(session: Session) -> None:
    other_unit = factories.add_department(session, "赤坎区应急管理局")
    person = factories.add_subject(session, models.SubjectCategory.NATURAL_PERSON)
    general = factories.add_penalty(session, on=ON, decision_on=D(2026, 5, 1))
    serious = factories.add_penalty(
        session,
        on=ON,
        decision_on=D(2026, 4, 1),
        severity=models.Severity.SERIOUS,
        categories="罚款;没收违法所得",
        subject_id=person.id,
        source_unit_id=other_unit.id,
        authority_id=other_unit.id,
    )
    objections.open_objection(session, serious, grounds="事实有误", ctx=factories.ctx(ON))

    assert _found(
        session,
        models.Penalty,
    ) == [general.id, serious.id]
    assert _found(session, models.Penalty, source_unit=other_unit.credit_code) == [serious.id]
    assert _found(session, models.Penalty, authority=other_unit.credit_code) == [serious.id]
    assert _found(
        session, models.Penalty, subject_category=models.SubjectCategory.NATURAL_PERSON
    ) == [serious.id]
    assert _found(session, models.Penalty, category="没收违法所得") == [serious.id]
    assert _found(session, models.Penalty, category="没收") == []
    assert _found(session, models.Penalty, category="罚款") == [general.id, serious.id]
    assert _found(session, models.Penalty, severity=models.Severity.SERIOUS) == [serious.id]
    assert _found(session, models.Penalty, decided_from=D(2026, 4, 15)) == [general.id]
    assert _found(session, models.Penalty, decided_to=D(2026, 4, 15)) == [serious.id]
    assert _found(session, models.Penalty, under_objection=True) == [serious.id]
    assert _found(session, models.Penalty, under_objection=False) == [general.id]
    assert _found(session, models.Penalty, list_kind=models.ListKind.BLACK) == []


def test_list_entry_filters_and_list_counts(session: Session) -> None:
    red = factories.add_list(session, kind=models.ListKind.RED, code="honest")
    black = factories.add_list(session, kind=models.ListKind.BLACK, code="dishonest")
    on_red = factories.add_list_entry(session, on=ON, list_id=red.id)
    on_black = factories.add_list_entry(session, on=ON, list_id=black.id)

    assert _found(session, models.ListEntry, list_code="honest") == [on_red.id]
    assert _found(session, models.ListEntry, list_kind=models.ListKind.BLACK) == [on_black.id]
    assert [(count.list.code, count.active) for count in figures.lists(session, ON)] == [
        ("honest", 1),
        ("dishonest", 1),
    ]


def test_subject_lookup_gathers_its_public_records(session: Session) -> None:
    company = factories.add_subject(session)
    person = factories.add_subject(session, models.SubjectCategory.NATURAL_PERSON)
    license = factories.add_license(session, on=ON, subject_id=company.id)
    penalty = factories.add_penalty(session, on=ON, subject_id=company.id)
    entry = factories.add_list_entry(session, on=ON, subject_id=company.id)
    factories.add_penalty(session, on=ON, subject_id=person.id)
    assert company.credit_code is not None
    assert record_pages.subject_by_key(session, company.credit_code.lower()).id == company.id
    assert record_pages.subject_by_key(session, f"P{person.id}").id == person.id
    assert record_pages.subject_by_key(session, f"P{company.id}") is None  # has a credit code
    assert record_pages.subject_by_key(session, "91440802MA00000000") is None
    found = record_pages.subject_records(session, company, ON)
    assert (found.licenses, found.penalties, found.list_entries) == ([license], [penalty], [entry])


def test_departments_with_counts(session: Session) -> None:
    factories.add_penalty(session, on=ON)
    factories.add_license(session, on=ON)
    factories.add_department(session, "赤坎区教育局")
    assert [
        (count.department.name, count.counts) for count in figures.departments(session, ON)
    ] == [
        (
            "赤坎区市场监督管理局",
            {
                models.RecordKind.LICENSE: 1,
                models.RecordKind.PENALTY: 1,
                models.RecordKind.LIST_ENTRY: 0,
            },
        ),
        (
            "赤坎区教育局",
            {
                models.RecordKind.LICENSE: 0,
                models.RecordKind.PENALTY: 0,
                models.RecordKind.LIST_ENTRY: 0,
            },
        ),
    ]


@pytest.mark.parametrize(("after", "first", "expected"), [(0, 10, [1, 2, 3]), (1, 1, [2])])
def test_events_after_a_watermark(
    session: Session, after: int, first: int, expected: list[int]
) -> None:
    for _ in range(3):
        factories.add_license(session, on=ON)
    assert [event.id for event in change_log.events_after(session, after, first)] == expected
