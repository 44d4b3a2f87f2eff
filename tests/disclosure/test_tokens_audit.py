import datetime as dt

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from disclosure import audit, endings, models, objections, repairs, timeliness, tokens, workdays
from disclosure.queries import figures
from tests import factories

D = dt.date


def test_token_secret_is_shown_once_and_kept_as_digest(session: Session) -> None:
    unit = factories.add_department(session)
    token, secret = tokens.create(session, unit_code=unit.credit_code, role=models.Role.DEPARTMENT)
    assert len(secret) >= 43 + 3  # 256 random bits, base64url, behind "gs_"
    stored = session.exec(select(models.Token)).one()
    assert stored.digest == tokens.digest(secret) != secret
    assert secret not in repr(stored.model_dump())
    assert tokens.authenticate(session, secret, D(2026, 6, 1)) == token


@pytest.mark.parametrize("case", ["missing", "unknown", "revoked", "expired"])
def test_bad_tokens_are_unauthenticated(session: Session, case: str) -> None:
    unit = factories.add_department(session)
    token, secret = tokens.create(
        session, unit_code=unit.credit_code, role=models.Role.OPERATOR, expires_on=D(2026, 6, 1)
    )
    on = D(2026, 6, 1)
    presented: str | None = secret
    if case == "missing":
        presented = None
    elif case == "unknown":
        presented = secret + "x"
    elif case == "revoked":
        tokens.revoke(session, token.id or 0)
    else:
        on = D(2026, 6, 2)
    with pytest.raises(tokens.Unauthenticated):
        tokens.authenticate(session, presented, on)


def test_token_for_an_unknown_unit_is_refused(session: Session) -> None:
    with pytest.raises(tokens.TokenError, match="no department with credit code 11440802X"):
        tokens.create(session, unit_code="11440802X", role=models.Role.DEPARTMENT)


def test_audit_is_append_only(engine: sa.Engine) -> None:
    with Session(engine, expire_on_commit=False) as session, session.begin():
        unit = factories.add_department(session)
        token, _secret = tokens.create(
            session, unit_code=unit.credit_code, role=models.Role.DEPARTMENT
        )
        audit.append(
            session,
            operation="withdrawRecord",
            outcome="ok",
            token=token,
            records=[(models.RecordKind.PENALTY, 7)],
        )
    with Session(engine) as session:
        (entry,) = audit.since(session, dt.datetime.now(dt.UTC).date())
        assert (entry.operation, entry.records, entry.outcome, entry.unit_id) == (
            "withdrawRecord",
            ["penalty:7"],
            "ok",
            unit.id,
        )
    for statement in ("UPDATE audit_entry SET outcome = 'x'", "DELETE FROM audit_entry"):
        with pytest.raises(sa.exc.DatabaseError, match="append-only"), engine.begin() as conn:
            conn.exec_driver_sql(statement)


def test_overdue_objections_repairs_and_late_withdrawals(session: Session) -> None:
    penalty = factories.add_penalty(session, on=D(2025, 3, 5), decision_on=D(2025, 3, 1))
    objection = objections.open_objection(
        session, penalty, grounds="事实有误", ctx=factories.ctx(D(2025, 9, 1))
    )
    assert objection.due_on == D(2025, 9, 10)
    repair = repairs.apply_for_repair(
        session, penalty, commitment="已整改", ctx=factories.ctx(D(2025, 9, 1))
    )
    assert repair.due_on == D(2025, 9, 4)
    assert figures.overdue(session, D(2025, 9, 4)) == figures.Overdue([], [])
    assert figures.overdue(session, D(2025, 9, 5)) == figures.Overdue([], [repair])
    assert figures.overdue(session, D(2025, 9, 11)) == figures.Overdue([objection], [repair])

    on_time = factories.add_penalty(session, on=D(2025, 3, 5))
    late = factories.add_penalty(session, on=D(2025, 3, 5))
    # 行政处罚法 Art. 85: three working days; Thursday 08-28 to Monday 09-01 is two
    for record, changed in ((on_time, D(2025, 8, 28)), (late, D(2025, 8, 26))):
        endings.withdraw(
            session,
            record,
            kind=models.WithdrawalKind.REVOKED,
            reason="复议撤销",
            ctx=factories.ctx(D(2025, 9, 1)),
            decision_changed_on=changed,
        )
    assert [w.record_id for w in figures.late_withdrawals(session, workdays.Calendar())] == [
        late.id
    ]


@pytest.mark.parametrize(
    ("withdrawn_on", "late"),
    [(D(2026, 4, 17), False), (D(2026, 4, 20), False), (D(2026, 4, 21), True)],
)
def test_the_withdrawal_deadline_counts_working_days(
    session: Session, withdrawn_on: dt.date, late: bool
) -> None:
    """A decision changed on Wednesday 2026-04-15 is withdrawn in time up to Monday 04-20."""
    penalty = factories.add_penalty(session, on=D(2026, 3, 2))
    endings.withdraw(
        session,
        penalty,
        kind=models.WithdrawalKind.REVOKED,
        reason="经复议撤销原处罚决定",
        ctx=factories.ctx(withdrawn_on),
        decision_changed_on=D(2026, 4, 15),
    )
    assert timeliness.withdrawal_due_on(D(2026, 4, 15), workdays.Calendar()) == D(2026, 4, 20)
    found = figures.late_withdrawals(session, workdays.Calendar())
    assert [w.record_id for w in found] == ([penalty.id] if late else [])
