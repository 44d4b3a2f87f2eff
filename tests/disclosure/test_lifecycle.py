import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import Session, col, select

from disclosure import endings, lifecycle, models
from tests import factories

D = dt.date
RULES = lifecycle.Rules()


@pytest.mark.parametrize(
    ("severity", "decided", "min_end", "max_end"),
    [
        (models.Severity.MINOR, D(2026, 1, 10), D(2026, 1, 10), D(2026, 4, 10)),
        (models.Severity.GENERAL, D(2026, 1, 10), D(2026, 4, 10), D(2027, 1, 10)),
        (models.Severity.SERIOUS, D(2026, 1, 10), D(2027, 1, 10), D(2029, 1, 10)),
        # month ends: a period ending in a shorter month ends on its last day
        (models.Severity.GENERAL, D(2025, 11, 30), D(2026, 2, 28), D(2026, 11, 30)),
        (models.Severity.SERIOUS, D(2024, 2, 29), D(2025, 2, 28), D(2027, 2, 28)),
    ],
)
def test_publicity_window_per_severity(
    severity: models.Severity, decided: dt.date, min_end: dt.date, max_end: dt.date
) -> None:
    window = lifecycle.publicity_window(severity, decided, RULES)
    assert (window.min_end_on, window.max_end_on) == (min_end, max_end)


def test_publicity_end_defaults_to_the_maximum_and_minor_to_unpublished() -> None:
    assert lifecycle.publicity_end(models.Severity.GENERAL, D(2026, 1, 10), None, RULES) == D(
        2027, 1, 10
    )
    assert lifecycle.publicity_end(models.Severity.SERIOUS, D(2026, 1, 10), None, RULES) == D(
        2029, 1, 10
    )
    assert lifecycle.publicity_end(models.Severity.MINOR, D(2026, 1, 10), None, RULES) is None
    assert lifecycle.publicity_end(
        models.Severity.MINOR, D(2026, 1, 10), D(2026, 4, 10), RULES
    ) == D(2026, 4, 10)


@pytest.mark.parametrize(
    ("severity", "supplied", "accepted"),
    [
        (models.Severity.GENERAL, D(2026, 4, 9), False),
        (models.Severity.GENERAL, D(2026, 4, 10), True),
        (models.Severity.GENERAL, D(2027, 1, 10), True),
        (models.Severity.GENERAL, D(2027, 1, 11), False),
        (models.Severity.SERIOUS, D(2027, 1, 9), False),
        (models.Severity.SERIOUS, D(2029, 1, 10), True),
        (models.Severity.SERIOUS, D(2029, 1, 11), False),
        (models.Severity.MINOR, D(2026, 4, 11), False),
    ],
)
def test_supplied_publicity_end_must_lie_in_the_window(
    severity: models.Severity, supplied: dt.date, accepted: bool
) -> None:
    decided = D(2026, 1, 10)
    if accepted:
        assert lifecycle.publicity_end(severity, decided, supplied, RULES) == supplied
    else:
        with pytest.raises(lifecycle.PublicityEndError, match=f"公示截止期 {supplied}"):
            lifecycle.publicity_end(severity, decided, supplied, RULES)


def test_rules_file_adds_older_and_stricter_rules(tmp_path: Path) -> None:
    path = tmp_path / "rules.toml"
    path.write_text(
        """
[[rule]]
severity = "serious"
effective_on = 2019-07-01
published_by_default = true
min_months = 6
max_months = 36
source = "2019 notice"
[[rule]]
severity = "serious"
effective_on = 2026-04-01
published_by_default = true
min_months = 12
max_months = 60
source = "province: 5-year cap"
[[rule]]
severity = "general"
effective_on = 2019-07-01
published_by_default = true
min_months = 3
max_months = 12
[[rule]]
severity = "minor"
effective_on = 2019-07-01
published_by_default = false
min_months = 0
max_months = 3
""",
        encoding="utf-8",
    )
    rules = lifecycle.load_rules(path)
    old = lifecycle.publicity_window(models.Severity.SERIOUS, D(2025, 1, 10), rules)
    new = lifecycle.publicity_window(models.Severity.SERIOUS, D(2026, 5, 10), rules)
    oldest = lifecycle.publicity_window(models.Severity.SERIOUS, D(2018, 1, 10), rules)
    assert (old.min_end_on, old.max_end_on, old.rule.source) == (
        D(2025, 7, 10),
        D(2028, 1, 10),
        "2019 notice",
    )
    assert (new.min_end_on, new.max_end_on) == (D(2027, 5, 10), D(2031, 5, 10))
    assert oldest.rule.source == "2019 notice"


def test_rules_file_errors_name_the_file_and_rule(tmp_path: Path) -> None:
    path = tmp_path / "rules.toml"
    path.write_text(
        '[[rule]]\nseverity = "serious"\neffective_on = 2026-04-01\n'
        "published_by_default = true\nmin_months = 40\nmax_months = 36\n",
        encoding="utf-8",
    )
    with pytest.raises(lifecycle.RulesError, match=r"rules.toml: rule 1: .*out of order"):
        lifecycle.load_rules(path)
    path.write_text("", encoding="utf-8")
    with pytest.raises(lifecycle.RulesError, match="no rule for severity general, minor, serious"):
        lifecycle.load_rules(path)


def test_penalty_is_public_through_its_last_day_and_gone_the_day_after(session: Session) -> None:
    penalty = factories.add_penalty(session, on=D(2026, 1, 12), decision_on=D(2026, 1, 10))
    assert penalty.publicity_end_on == D(2027, 1, 10)
    assert not lifecycle.is_public(penalty, D(2026, 1, 11))  # before it was published
    assert lifecycle.is_public(penalty, D(2026, 1, 12))
    assert lifecycle.is_public(penalty, D(2027, 1, 10))
    assert not lifecycle.is_public(penalty, D(2027, 1, 11))
    assert lifecycle.ending(penalty, D(2027, 1, 11)) == lifecycle.Ending(D(2027, 1, 11), None)
    assert lifecycle.ending(penalty, D(2027, 1, 10)) is None


def test_minor_penalty_without_end_date_is_never_public(session: Session) -> None:
    penalty = factories.add_penalty(session, severity=models.Severity.MINOR, categories="警告")
    assert penalty.publicity_end_on is None
    assert not lifecycle.is_public(penalty, factories.DEFAULT_ON)
    assert lifecycle.ending(penalty, D(2030, 1, 1)) is None


def test_license_stays_public_past_its_validity(session: Session) -> None:
    license = factories.add_license(session, valid_to_on=D(2026, 6, 30))
    assert lifecycle.is_public(license, D(2035, 1, 1))


def test_list_entry_public_until_validity_end(session: Session) -> None:
    entry = factories.add_list_entry(session, decision_on=D(2026, 5, 29))
    assert entry.valid_until_on == D(2029, 5, 29)  # the list's default: 36 months
    assert lifecycle.is_public(entry, D(2029, 5, 29))
    assert not lifecycle.is_public(entry, D(2029, 5, 30))


dates = st.dates(min_value=D(2025, 1, 1), max_value=D(2028, 12, 31))
maybe_dates = st.none() | dates


@st.composite
def generated_records(draw: st.DrawFn) -> tuple[models.RecordKind, dict[str, object]]:
    """A record's kind and the dates that decide its visibility."""
    kind = draw(st.sampled_from(list(models.RecordKind)))
    fields: dict[str, object] = {"published_on": draw(dates), "ended_on": draw(maybe_dates)}
    if kind is models.RecordKind.PENALTY:
        fields["publicity_end_on"] = draw(maybe_dates)
    if kind is models.RecordKind.LIST_ENTRY:
        fields["valid_until_on"] = draw(maybe_dates)
    return kind, fields


def _unpublished(kind: models.RecordKind, number: int, parties: dict[str, Any]) -> models.Record:
    """A record of `kind` whose dates the test then sets (no workflow, no event)."""
    common: dict[str, Any] = {
        **parties,
        "decision_doc_no": f"doc-{number}",
        "decision_on": D(2025, 1, 1),
        "published_on": D(2025, 1, 1),
    }
    if kind is models.RecordKind.LICENSE:
        return models.License(
            **common,
            decision_doc_name="决定书",
            category=models.LicenseCategory.OTHER,
            content="许可",
            valid_from_on=D(2025, 1, 1),
        )
    if kind is models.RecordKind.PENALTY:
        return models.Penalty(
            **common,
            violation_type="违法",
            violation_facts="事实",
            legal_basis="依据",
            categories="警告",
            content="警告",
            severity=models.Severity.GENERAL,
        )
    return models.ListEntry(**common, reason="列入")


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(records=st.lists(generated_records(), min_size=40, max_size=60), on=dates)
def test_sql_predicate_equals_python_predicate(
    engine: sa.Engine, records: list[tuple[models.RecordKind, dict[str, object]]], on: dt.date
) -> None:
    with Session(engine) as session:
        unit = factories.add_department(session)
        parties = {
            "subject_id": factories.add_subject(session).id,
            "authority_id": unit.id,
            "source_unit_id": unit.id,
            "list_id": factories.add_list(session).id,
        }
        stored = []
        for number, (kind, fields) in enumerate(records):
            record = _unpublished(kind, number, parties)
            for name, value in fields.items():
                setattr(record, name, value)
            stored.append(record)
        session.add_all(stored)
        session.flush()
        for model in models.RECORD_MODELS.values():
            in_sql = set(
                session.exec(select(model.id).where(lifecycle.public_clause(model, on))).all()
            )
            in_python = {
                r.id for r in stored if isinstance(r, model) and lifecycle.is_public(r, on)
            }
            assert in_sql == in_python
        session.rollback()


def _events(session: Session, type: models.EventType) -> list[tuple[int, dt.date]]:
    return [
        (event.record_id, event.effective_on)
        for event in session.exec(
            select(models.Event)
            .where(col(models.Event.type) == type)
            .order_by(col(models.Event.record_id))
        )
    ]


def test_lifecycle_appends_each_lapse_once(session: Session) -> None:
    expiring = factories.add_penalty(session, on=D(2025, 3, 3), decision_on=D(2025, 3, 1))
    lasting = factories.add_penalty(
        session, on=D(2025, 3, 3), decision_on=D(2025, 3, 1), severity=models.Severity.SERIOUS
    )
    withdrawn = factories.add_penalty(session, on=D(2025, 3, 3), decision_on=D(2025, 3, 1))
    endings.withdraw(
        session,
        withdrawn,
        kind=models.WithdrawalKind.REVOKED,
        reason="复议撤销",
        ctx=factories.ctx(D(2025, 6, 1)),
    )
    factories.add_penalty(session, on=D(2025, 3, 3), severity=models.Severity.MINOR)
    entry = factories.add_list_entry(session, on=D(2023, 3, 3), decision_on=D(2023, 3, 1))
    factories.add_license(session, on=D(2020, 1, 5), valid_to_on=D(2021, 1, 1))

    assert lifecycle.run(session, as_of=D(2026, 3, 1)) == lifecycle.LifecycleReport(0, 0)
    report = lifecycle.run(session, as_of=D(2026, 3, 2))
    assert report == lifecycle.LifecycleReport(expired=1, exited=1)
    assert _events(session, models.EventType.EXPIRED) == [(expiring.id, D(2026, 3, 2))]
    assert _events(session, models.EventType.EXITED) == [(entry.id, D(2026, 3, 2))]
    assert lifecycle.run(session, as_of=D(2026, 3, 2)) == lifecycle.LifecycleReport(0, 0)
    assert lifecycle.run(session, as_of=D(2030, 1, 1)) == lifecycle.LifecycleReport(1, 0)
    assert [record_id for record_id, _ in _events(session, models.EventType.EXPIRED)] == [
        expiring.id,
        lasting.id,
    ]


def test_database_refuses_a_second_lapse_event(session: Session) -> None:
    penalty = factories.add_penalty(session, on=D(2025, 3, 3), decision_on=D(2025, 3, 1))
    lifecycle.run(session, as_of=D(2027, 1, 1))
    session.commit()
    with pytest.raises(sa.exc.IntegrityError):
        from disclosure import events

        events.append(
            session,
            penalty,
            models.EventType.EXPIRED,
            effective_on=D(2027, 1, 1),
            actor="twice",
        )
        session.flush()
