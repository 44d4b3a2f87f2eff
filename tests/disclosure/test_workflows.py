import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any, TypeVar

import pytest
import sqlalchemy as sa
from sqlmodel import Session, SQLModel, select

from disclosure import (
    endings,
    events,
    lifecycle,
    models,
    objections,
    privacy,
    repairs,
    tombstones,
    workflows,
)
from tests import factories

D = dt.date


def _history(session: Session, record: models.Record) -> list[tuple[str, dict[str, Any]]]:
    return [(event.type.value, event.payload) for event in events.history(session, record)]


def _state(engine: sa.Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, to show that a refused workflow changed nothing."""
    with engine.connect() as connection:
        return {
            table.name: sorted(
                (tuple(map(str, row)) for row in connection.execute(sa.select(table))), key=str
            )
            for table in SQLModel.metadata.sorted_tables
        }


def assert_refused(
    engine: sa.Engine,
    action: Callable[[Session], object],
    refusal: type[workflows.Refused],
    match: str,
) -> None:
    """Run `action` in a transaction: it must raise `refusal` and leave every table unchanged."""
    before = _state(engine)
    with pytest.raises(refusal, match=match), Session(engine) as session, session.begin():
        action(session)
    assert _state(engine) == before


@pytest.fixture
def penalty(engine: sa.Engine) -> models.Penalty:
    with Session(engine, expire_on_commit=False) as session, session.begin():
        return factories.add_penalty(session, on=D(2026, 5, 5), decision_on=D(2026, 5, 1))


R = TypeVar("R", bound=models.RecordBase)


def _load(session: Session, record: R) -> R:
    """`record` as stored, in `session`."""
    loaded = session.get(type(record), getattr(record, "id"))  # noqa: B009 (id is per table)
    assert loaded is not None
    return loaded


def test_publish_appends_published_with_the_natural_key(session: Session) -> None:
    penalty = factories.add_penalty(session, on=D(2026, 5, 5), decision_on=D(2026, 5, 1))
    assert penalty.published_on == D(2026, 5, 5)
    assert penalty.publicity_end_on == D(2027, 5, 1)
    assert _history(session, penalty) == [
        (
            "PUBLISHED",
            {"authority_id": penalty.authority_id, "decision_doc_no": penalty.decision_doc_no},
        )
    ]


def test_publish_refuses_a_taken_natural_key(engine: sa.Engine, penalty: models.Penalty) -> None:
    assert_refused(
        engine,
        lambda s: factories.add_penalty(s, decision_doc_no=penalty.decision_doc_no),
        workflows.AlreadyExists,
        "同一机关的文号已存在",
    )


def test_publish_refuses_a_future_decision(engine: sa.Engine) -> None:
    assert_refused(
        engine,
        lambda s: factories.add_penalty(s, on=D(2026, 5, 5), decision_on=D(2026, 5, 6)),
        workflows.InvalidChange,
        "decision date 2026-05-06 is after 2026-05-05",
    )


def test_publish_refuses_a_publicity_end_outside_the_window(engine: sa.Engine) -> None:
    assert_refused(
        engine,
        lambda s: factories.add_penalty(
            s, on=D(2026, 5, 5), decision_on=D(2026, 5, 1), publicity_end_on=D(2026, 6, 1)
        ),
        workflows.InvalidChange,
        r"publicity end 2026-06-01 is outside the window .* \(2026-08-01 to 2027-05-01",
    )


def test_correction_keeps_the_previous_values_in_history(
    engine: sa.Engine, penalty: models.Penalty
) -> None:
    with Session(engine) as session, session.begin():
        record = _load(session, penalty)
        diff = workflows.correct(
            session,
            record,
            {"content": "罚款3000元", "fine_amount_wan": Decimal("0.3")},
            factories.ctx(D(2026, 6, 1)),
        )
    assert diff == {
        "content": ("罚款2000元", "罚款3000元"),
        "fine_amount_wan": (Decimal("0.2"), Decimal("0.3")),
    }
    with Session(engine) as session:
        record = _load(session, penalty)
        assert (record.content, record.fine_amount_wan) == ("罚款3000元", Decimal("0.3"))
        assert _history(session, record)[1] == (
            "CORRECTED",
            {
                "before": {"content": "罚款2000元", "fine_amount_wan": "0.2"},
                "after": {"content": "罚款3000元", "fine_amount_wan": "0.3"},
            },
        )


def test_identical_correction_changes_nothing(engine: sa.Engine, penalty: models.Penalty) -> None:
    before = _state(engine)
    with Session(engine) as session, session.begin():
        record = _load(session, penalty)
        assert workflows.correct(session, record, {"content": "罚款2000元"}, factories.ctx()) == {}
    assert _state(engine) == before


def test_correcting_severity_resolves_the_window_again(
    engine: sa.Engine, penalty: models.Penalty
) -> None:
    with Session(engine) as session, session.begin():
        record = _load(session, penalty)
        diff = workflows.correct(
            session, record, {"severity": models.Severity.SERIOUS}, factories.ctx()
        )
    assert diff == {
        "severity": (models.Severity.GENERAL, models.Severity.SERIOUS),
        "publicity_end_on": (D(2027, 5, 1), D(2029, 5, 1)),
    }


@pytest.mark.parametrize(
    ("changes", "refusal", "match"),
    [
        ({"ended_on": D(2026, 6, 1)}, workflows.InvalidChange, "cannot be corrected: ended_on"),
        ({"nonsense": 1}, workflows.InvalidChange, "cannot be corrected: nonsense"),
        ({"publicity_end_on": D(2026, 8, 1)}, workflows.InvalidChange, "withdraw it instead"),
        ({"decision_on": D(2026, 7, 1)}, workflows.InvalidChange, "is after 2026-06-01"),
    ],
)
def test_correction_refusals_change_nothing(
    engine: sa.Engine,
    penalty: models.Penalty,
    changes: dict[str, Any],
    refusal: type[workflows.Refused],
    match: str,
) -> None:
    def act(session: Session) -> object:
        return workflows.correct(
            session,
            _load(session, penalty),
            changes,
            factories.ctx(D(2026, 9, 1))
            if "publicity_end_on" in changes
            else factories.ctx(D(2026, 6, 1)),
        )

    assert_refused(engine, act, refusal, match)


def test_correcting_an_expired_record_is_refused(
    engine: sa.Engine, penalty: models.Penalty
) -> None:
    assert_refused(
        engine,
        lambda s: workflows.correct(
            s, _load(s, penalty), {"content": "x"}, factories.ctx(D(2027, 5, 2))
        ),
        workflows.NotPublic,
        r"行政处罚 penalty #\d+ \(赤市监罚〔2026〕\d+号\): .* is not public on 2027-05-02",
    )


def test_withdrawal_ends_publication_with_a_public_reason(
    engine: sa.Engine, penalty: models.Penalty
) -> None:
    with Session(engine) as session, session.begin():
        endings.withdraw(
            session,
            _load(session, penalty),
            kind=models.WithdrawalKind.REVOKED,
            reason=" 原处罚决定经行政复议被撤销 ",
            ctx=factories.ctx(D(2026, 7, 1)),
        )
    with Session(engine) as session:
        record = _load(session, penalty)
        assert lifecycle.is_public(record, D(2026, 6, 30))
        assert not lifecycle.is_public(record, D(2026, 7, 1))
        assert tombstones.tombstone(record, D(2026, 7, 1)) == tombstones.Tombstone(
            id=record.id,
            kind=models.RecordKind.PENALTY,
            ended_on=D(2026, 7, 1),
            reason="withdrawn",
            label="依法撤回",
            explanation="原处罚决定经行政复议被撤销",
        )
        withdrawal = session.exec(select(models.Withdrawal)).one()
        assert (withdrawal.reason, withdrawal.kind) == (
            "原处罚决定经行政复议被撤销",
            models.WithdrawalKind.REVOKED,
        )
        assert _history(session, record)[-1] == (
            "WITHDRAWN",
            {"reason": "withdrawn", "withdrawal_kind": "revoked"},
        )


def test_a_withdrawal_reason_is_stored_with_identity_numbers_masked_and_no_record_details(
    engine: sa.Engine, penalty: models.Penalty
) -> None:
    with Session(engine) as session, session.begin():
        record = _load(session, penalty)
        endings.withdraw(
            session,
            record,
            kind=models.WithdrawalKind.CHANGED,
            reason=f"{record.subject.name}（440802199001011234）的{record.decision_doc_no}经复议变更",
            ctx=factories.ctx(D(2026, 7, 1)),
        )
    with Session(engine) as session:
        said = "当事人（440802********1234）的原决定经复议变更"
        assert session.exec(select(models.Withdrawal.reason)).one() == said
        record = _load(session, penalty)
        assert record.end_explanation == said
        tomb = tombstones.tombstone(record, D(2026, 7, 1))
        assert tomb is not None and tomb.explanation == said


@pytest.mark.parametrize(
    ("reason", "on", "refusal", "match"),
    [
        ("  ", D(2026, 7, 1), workflows.InvalidChange, "a withdrawal needs a reason"),
        (
            "撤" * 501,
            D(2026, 7, 1),
            workflows.InvalidChange,
            "the public reason may be at most 500 characters, not 501",
        ),
        ("撤销", D(2027, 6, 1), workflows.NotPublic, "cannot withdraw it"),
    ],
)
def test_withdrawal_refusals_change_nothing(
    engine: sa.Engine,
    penalty: models.Penalty,
    reason: str,
    on: dt.date,
    refusal: type[workflows.Refused],
    match: str,
) -> None:
    assert_refused(
        engine,
        lambda s: endings.withdraw(
            s,
            _load(s, penalty),
            kind=models.WithdrawalKind.REVOKED,
            reason=reason,
            ctx=factories.ctx(on),
        ),
        refusal,
        match,
    )


def test_withdrawing_twice_is_refused(engine: sa.Engine, penalty: models.Penalty) -> None:
    def withdraw(session: Session) -> object:
        return endings.withdraw(
            session,
            _load(session, penalty),
            kind=models.WithdrawalKind.CHANGED,
            reason="变更",
            ctx=factories.ctx(D(2026, 7, 1)),
        )

    with Session(engine) as session, session.begin():
        withdraw(session)
    assert_refused(engine, withdraw, workflows.NotPublic, "cannot withdraw it")


def test_objection_annotates_at_once_and_suspends_black_list_punishment(
    session: Session,
) -> None:
    entry = factories.add_list_entry(session, on=D(2026, 5, 5))
    objection = objections.open_objection(
        session, entry, grounds="列入依据的处罚决定已被撤销", ctx=factories.ctx(D(2026, 9, 28))
    )
    # 7 working days: National Day holidays 2026-10-01..07 do not count
    assert objection.due_on == D(2026, 10, 13)
    shown = privacy.list_entry(entry, D(2026, 9, 28))
    assert (shown.under_objection, shown.objection_opened_on, shown.punishment_suspended) == (
        True,
        D(2026, 9, 28),
        True,
    )
    assert not privacy.list_entry(entry, D(2026, 9, 27)).under_objection
    assert _history(session, entry)[-1] == (
        "OBJECTION_OPENED",
        {"objection_id": objection.id, "due_on": "2026-10-13"},
    )


def test_second_objection_while_one_is_open_is_refused(
    engine: sa.Engine, penalty: models.Penalty
) -> None:
    def object_to(session: Session) -> object:
        return objections.open_objection(
            session, _load(session, penalty), grounds="事实有误", ctx=factories.ctx()
        )

    with Session(engine) as session, session.begin():
        object_to(session)
    assert_refused(engine, object_to, workflows.WrongState, "an objection is already open")
    assert_refused(
        engine,
        lambda s: objections.open_objection(s, _load(s, penalty), grounds=" ", ctx=factories.ctx()),
        workflows.InvalidChange,
        "needs its grounds",
    )


def _objected(engine: sa.Engine, record: models.Record) -> int:
    with Session(engine) as session, session.begin():
        objection = objections.open_objection(
            session, _load(session, record), grounds="事实有误", ctx=factories.ctx(D(2026, 6, 1))
        )
        assert objection.id is not None
        return objection.id


def test_rejected_objection_removes_the_annotation(
    engine: sa.Engine, penalty: models.Penalty
) -> None:
    objection_id = _objected(engine, penalty)
    with Session(engine) as session, session.begin():
        objections.resolve_objection(
            session,
            objections.get_objection(session, objection_id),
            outcome=models.ObjectionOutcome.REJECTED,
            ctx=factories.ctx(D(2026, 6, 5)),
        )
    with Session(engine) as session:
        record = _load(session, penalty)
        assert not privacy.penalty(record, D(2026, 6, 5)).under_objection
        assert lifecycle.is_public(record, D(2026, 6, 5))
        assert [t for t, _ in _history(session, record)] == [
            "PUBLISHED",
            "OBJECTION_OPENED",
            "OBJECTION_CLOSED",
        ]


def test_upheld_objection_corrects_the_record(engine: sa.Engine, penalty: models.Penalty) -> None:
    objection_id = _objected(engine, penalty)
    with Session(engine) as session, session.begin():
        objections.resolve_objection(
            session,
            objections.get_objection(session, objection_id),
            outcome=models.ObjectionOutcome.CORRECTED,
            corrections={"violation_facts": "经核查更正：抽检样品为当事人库存商品"},
            ctx=factories.ctx(D(2026, 6, 5)),
        )
    with Session(engine) as session:
        record = _load(session, penalty)
        assert isinstance(record, models.Penalty)
        assert record.violation_facts == "经核查更正：抽检样品为当事人库存商品"
        assert [t for t, _ in _history(session, record)][-2:] == ["OBJECTION_CLOSED", "CORRECTED"]


def test_upheld_objection_withdraws_a_decision_and_exits_a_list_entry(engine: sa.Engine) -> None:
    with Session(engine, expire_on_commit=False) as session, session.begin():
        penalty = factories.add_penalty(session)
        entry = factories.add_list_entry(session)
    for record, last_event, said in (
        (penalty, "WITHDRAWN", "经核查，异议成立"),
        (entry, "EXITED", ""),
    ):
        objection_id = _objected(engine, record)
        with Session(engine) as session, session.begin():
            objections.resolve_objection(
                session,
                objections.get_objection(session, objection_id),
                outcome=models.ObjectionOutcome.WITHDRAWN,
                ctx=factories.ctx(D(2026, 6, 5)),
                reason=said,
            )
        with Session(engine) as session:
            loaded = _load(session, record)
            assert not lifecycle.is_public(loaded, D(2026, 6, 5))
            assert _history(session, loaded)[-1][0] == last_event
            # the end is the upheld objection, for a withdrawn decision as for a list entry
            assert loaded.end_reason is models.EndReason.OBJECTION_UPHELD
            tomb = tombstones.tombstone(loaded, D(2026, 6, 5))
            assert tomb is not None
            assert (tomb.reason, tomb.label, tomb.explanation) == (
                "objection_upheld",
                "异议成立",
                said or None,
            )


def test_objection_refusals_change_nothing(engine: sa.Engine, penalty: models.Penalty) -> None:
    objection_id = _objected(engine, penalty)
    assert_refused(
        engine,
        lambda s: objections.resolve_objection(
            s,
            objections.get_objection(s, objection_id),
            outcome=models.ObjectionOutcome.CORRECTED,
            ctx=factories.ctx(),
        ),
        workflows.InvalidChange,
        "needs the corrections",
    )
    assert_refused(
        engine,
        lambda s: objections.resolve_objection(
            s,
            objections.get_objection(s, objection_id),
            outcome=models.ObjectionOutcome.CORRECTED,
            corrections={"content": "罚款2000元"},
            ctx=factories.ctx(),
        ),
        workflows.InvalidChange,
        "the corrections change nothing",
    )
    assert_refused(
        engine,
        lambda s: objections.get_objection(s, 999),
        workflows.NotFound,
        "objection #999",
    )
    with Session(engine) as session, session.begin():
        objections.resolve_objection(
            session,
            objections.get_objection(session, objection_id),
            outcome=models.ObjectionOutcome.REJECTED,
            ctx=factories.ctx(),
        )
    assert_refused(
        engine,
        lambda s: objections.resolve_objection(
            s,
            objections.get_objection(s, objection_id),
            outcome=models.ObjectionOutcome.REJECTED,
            ctx=factories.ctx(),
        ),
        workflows.WrongState,
        "objection already closed",
    )


def _apply(engine: sa.Engine, record: models.Record, on: dt.date) -> int:
    with Session(engine) as session, session.begin():
        repair = repairs.apply_for_repair(
            session,
            _load(session, record),
            commitment="已整改并作出信用承诺",
            ctx=factories.ctx(on),
        )
        assert repair.id is not None
        return repair.id


def test_repair_after_the_minimum_period_ends_publication(
    engine: sa.Engine, penalty: models.Penalty
) -> None:
    # decided 2026-05-01, general: the minimum period's last day is 2026-08-01
    repair_id = _apply(engine, penalty, D(2026, 8, 2))
    with Session(engine) as session, session.begin():
        repairs.approve_repair(
            session, repairs.get_repair(session, repair_id), factories.ctx(D(2026, 8, 3))
        )
    with Session(engine) as session:
        record = _load(session, penalty)
        assert lifecycle.is_public(record, D(2026, 8, 2))
        assert not lifecycle.is_public(record, D(2026, 8, 3))
        assert _history(session, record)[-1] == (
            "REPAIRED",
            {"reason": "repaired", "repair_id": repair_id},
        )
        repair = repairs.get_repair(session, repair_id)
        assert (repair.status, repair.decided_on) == (models.RepairStatus.APPROVED, D(2026, 8, 3))


def test_repair_before_the_minimum_period_is_refused(
    engine: sa.Engine, penalty: models.Penalty
) -> None:
    assert_refused(
        engine,
        lambda s: repairs.apply_for_repair(
            s, _load(s, penalty), commitment="承诺", ctx=factories.ctx(D(2026, 8, 1))
        ),
        workflows.TooEarly,
        r"行政处罚 penalty #\d+ .*repair is possible from 2026-08-02",
    )


def test_repair_refusals_change_nothing(engine: sa.Engine) -> None:
    with Session(engine, expire_on_commit=False) as session, session.begin():
        license = factories.add_license(session)
        red = factories.add_list_entry(
            session, list_id=factories.add_list(session, kind=models.ListKind.RED).id
        )
        penalty = factories.add_penalty(session, on=D(2026, 5, 5), decision_on=D(2026, 5, 1))
    for record in (license, red):

        def apply(session: Session, record: models.Record = record) -> object:
            return repairs.apply_for_repair(
                session, _load(session, record), commitment="承诺", ctx=factories.ctx(D(2027, 1, 1))
            )

        assert_refused(engine, apply, workflows.InvalidChange, "not negative credit information")
    repair_id = _apply(engine, penalty, D(2026, 9, 1))
    assert_refused(
        engine,
        lambda s: repairs.apply_for_repair(
            s, _load(s, penalty), commitment="承诺", ctx=factories.ctx(D(2026, 9, 2))
        ),
        workflows.WrongState,
        f"repair application #{repair_id} is pending",
    )
    with Session(engine) as session, session.begin():
        repairs.refuse_repair(
            session,
            repairs.get_repair(session, repair_id),
            note="未履行罚款义务",
            ctx=factories.ctx(D(2026, 9, 3)),
        )
    assert_refused(
        engine,
        lambda s: repairs.approve_repair(
            s, repairs.get_repair(s, repair_id), factories.ctx(D(2026, 9, 4))
        ),
        workflows.WrongState,
        "is already refused",
    )


def test_black_list_entry_repairable_after_its_list_minimum(session: Session) -> None:
    entry = factories.add_list_entry(session, on=D(2025, 3, 3), decision_on=D(2025, 3, 1))
    assert repairs.repair_possible_from(entry, lifecycle.Rules()) == D(2026, 3, 2)


def test_exit_for_revocation_and_refused_reasons(engine: sa.Engine) -> None:
    with Session(engine, expire_on_commit=False) as session, session.begin():
        entry = factories.add_list_entry(session)
    assert_refused(
        engine,
        lambda s: endings.exit_list_entry(
            s,
            s.get(models.ListEntry, entry.id),  # type: ignore[arg-type]
            reason=models.EndReason.WITHDRAWN,
            ctx=factories.ctx(),
        ),
        workflows.InvalidChange,
        "exit reason must be one of objection_upheld, revoked, not withdrawn",
    )
    assert_refused(
        engine,
        lambda s: endings.withdraw(
            s,
            _load(s, entry),
            kind=models.WithdrawalKind.REVOKED,
            reason="撤销",
            ctx=factories.ctx(),
        ),
        workflows.InvalidChange,
        "list entries exit the list",
    )
    with Session(engine) as session, session.begin():
        loaded = session.get(models.ListEntry, entry.id)
        assert loaded is not None
        endings.exit_list_entry(
            session, loaded, reason=models.EndReason.REVOKED, ctx=factories.ctx(D(2026, 7, 1))
        )
    with Session(engine) as session:
        loaded = session.get(models.ListEntry, entry.id)
        assert loaded is not None
        assert tombstones.tombstone(loaded, D(2026, 7, 1)) == tombstones.Tombstone(
            id=entry.id,
            kind=models.RecordKind.LIST_ENTRY,
            ended_on=D(2026, 7, 1),
            reason="revoked",
            label="撤销认定",
            explanation=None,
        )
        assert _history(session, loaded)[-1] == ("EXITED", {"reason": "revoked"})


def test_unknown_record_is_not_found(session: Session) -> None:
    with pytest.raises(workflows.NotFound, match="行政处罚 penalty #42 不存在"):
        workflows.get_record(session, models.RecordKind.PENALTY, 42)
