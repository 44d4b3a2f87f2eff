"""Writes through the API: departments and the operator change records with a Bearer token.

A request's mutations run in one transaction, as the one writer (`db.lock_for_writing`),
committed when the request ends. Each acts in a savepoint and appends its audit entry beside it:
a refusal rolls its savepoint back and keeps only its audit entry, so the attempt is on record
and nothing else changed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
from collections.abc import Callable, Iterator
from typing import Annotated, Any, TypeVar

import strawberry
from sqlmodel import Session

from api import receipts
from api.cursors import parse_global_id
from api.errors import ApiError
from api.types import ContextInfo
from disclosure import (
    audit,
    db,
    endings,
    lifecycle,
    models,
    objections,
    repairs,
    submission,
    template,
    timeliness,
    tokens,
    upsert,
    workdays,
    workflows,
)

T = TypeVar("T")
Records = list[tuple[models.RecordKind, int]]


class _Forbidden(Exception):
    """The token's role or department may not do this; `rows`, for a batch, names the rows."""

    def __init__(self, message: str, rows: list[int] | None = None) -> None:
        super().__init__(message)
        self.rows = rows


@contextlib.contextmanager
def _own_rows(kind: models.RecordKind, touched: Records) -> Iterator[None]:
    """Rows about another department's records refuse the whole request, naming them; the
    records they name go to the audit entry."""
    try:
        yield
    except submission.ForeignRows as foreign:
        touched.extend((kind, record_id) for record_id in foreign.records)
        raise _Forbidden(str(foreign), foreign.rows) from foreign
    except template.TemplateError as error:
        raise workflows.InvalidChange(str(error)) from error


@dataclasses.dataclass(frozen=True)
class Actor:
    """Who writes: the token, and the workflow context it acts in."""

    token: models.Token
    ctx: workflows.Context

    def department(self) -> None:
        """Only a data-providing department edits decisions."""
        if self.token.role is not models.Role.DEPARTMENT:
            raise _Forbidden(
                "平台运营方只登记异议和修复申请，不能修改决定 / the operator records objections "
                "and repair applications but cannot edit decisions"
            )

    def operator(self) -> None:
        """Only the platform operator records a subject's objection or repair application."""
        if self.token.role is not models.Role.OPERATOR:
            raise _Forbidden(
                "异议和修复申请由平台运营方登记 / objections and repair applications are "
                "recorded by the platform operator"
            )

    def owns(self, record: models.Record) -> None:
        """A department acts only on records whose source unit is itself."""
        self.department()
        if record.source_unit_id != self.token.unit_id:
            raise _Forbidden(
                f"{workflows.label(record)}: 数据来源单位不是本单位 / the record's source unit "
                "is another department"
            )


def _write(
    info: ContextInfo,
    operation: str,
    act: Callable[[Session, Actor, Records], T],
) -> T | receipts.MutationError:
    """Authenticate, act and audit; a refusal is audited and changes nothing else."""
    context = info.context
    session = context.session
    db.lock_for_writing(session)
    context.writes = True
    touched: Records = []
    try:
        token = tokens.authenticate(session, context.bearer, context.on)
    except tokens.Unauthenticated as unknown:
        audit.append(session, operation=operation, outcome="unauthenticated")
        return receipts.unauthenticated(str(unknown))
    ctx = workflows.Context(
        actor=f"api token #{token.id} {token.unit.credit_code}",
        on=context.on,
        rules=lifecycle.load_rules(context.settings.rules_path),
        calendar=workdays.Calendar.load(context.settings.holidays_path),
        id_key=context.settings.id_key,
    )
    failure: receipts.MutationError
    savepoint = session.begin_nested()
    try:
        result = act(session, Actor(token, ctx), touched)
        session.flush()
    except _Forbidden as refusal:
        failure = receipts.forbidden(str(refusal), refusal.rows)
    except submission.RowRejected as refusal:
        failure = receipts.row_rejected(refusal.reason)
    except workflows.NotFound as refusal:
        failure = receipts.NotFound(code=refusal.code, message=str(refusal))
    except workflows.Refused as refusal:
        failure = receipts.Refused(code=refusal.code, message=str(refusal), field=refusal.field)
    except BaseException:
        savepoint.rollback()
        raise
    else:
        savepoint.commit()
        audit.append(session, operation=operation, outcome="ok", token=token, records=touched)
        return result
    savepoint.rollback()
    audit.append(
        session, operation=operation, outcome=failure.code.lower(), token=token, records=touched
    )
    return failure


def _record(session: Session, record_id: str, touched: Records) -> models.Record:
    try:
        kind, number = parse_global_id(record_id)
    except ApiError as error:
        raise workflows.NotFound(f"{record_id}: 不是记录ID / not a record ID") from error
    touched.append((kind, number))
    return workflows.get_record(session, kind, number)


def _submit(
    info: ContextInfo, kind: models.RecordKind, columns: list[str], rows: list[list[str]]
) -> receipts.SubmitReport | receipts.MutationError:
    operation = f"submit {kind.value}"

    def act(session: Session, actor: Actor, touched: Records) -> receipts.SubmitReport:
        actor.department()
        with _own_rows(kind, touched):
            report, results = submission.submit(
                session, kind=kind, columns=columns, rows=rows, unit=actor.token.unit, ctx=actor.ctx
            )
        touched.extend(
            (kind, r.record_id)
            for r in results
            if r.record_id is not None and r.outcome is not upsert.Outcome.UNCHANGED
        )
        return receipts.submit_report(kind, report, results)

    return _write(info, operation, act)


COLUMNS = "列 the template columns of the rows (中文表头, XK_*/CF_* codes or our keys)"
ROWS = "行 the rows, one list of cells per row, in the order of the columns"
RECORD = "globalId of the record"
OBJECTION = "异议编号 the objection's id, from openObjection"
REPAIR = "修复申请编号 the repair application's id, from applyForRepair"


CORRECTED_COLUMNS = "更正后的列 for CORRECTED: the template columns of `row`, as in submit*"
CORRECTED_ROW = (
    "更正后的行 for CORRECTED: the whole corrected record as one template row, checked like a "
    "submitted row; it keeps the record's authority and document number"
)


def _corrected(
    session: Session,
    actor: Actor,
    record: models.Record,
    outcome: models.ObjectionOutcome,
    columns: list[str] | None,
    row: list[str] | None,
    touched: Records,
) -> dict[str, Any] | None:
    """The corrections of a CORRECTED outcome, from its template row; None without a row."""
    if columns is None and row is None:
        return None
    if outcome is not models.ObjectionOutcome.CORRECTED or columns is None or row is None:
        raise workflows.InvalidChange(
            f"{workflows.label(record)}: 更正后的行只用于 CORRECTED，且须同时给出列和行 / "
            "a corrected row goes with CORRECTED only, with both its columns and its cells",
            field="row",
        )
    with _own_rows(record.KIND, touched):
        return submission.correction(
            session, record, columns=columns, cells=row, unit=actor.token.unit, ctx=actor.ctx
        )


@strawberry.type(description="写入 changes by data-providing departments and the operator")
class Mutation:
    @strawberry.mutation(description="报送行政许可 submit license rows (as the source unit)")
    def submit_licenses(
        self,
        info: ContextInfo,
        columns: Annotated[list[str], strawberry.argument(description=COLUMNS)],
        rows: Annotated[list[list[str]], strawberry.argument(description=ROWS)],
    ) -> receipts.SubmitResult:
        return _submit(info, models.RecordKind.LICENSE, columns, rows)  # type: ignore[return-value]

    @strawberry.mutation(description="报送行政处罚 submit penalty rows (as the source unit)")
    def submit_penalties(
        self,
        info: ContextInfo,
        columns: Annotated[list[str], strawberry.argument(description=COLUMNS)],
        rows: Annotated[list[list[str]], strawberry.argument(description=ROWS)],
    ) -> receipts.SubmitResult:
        return _submit(info, models.RecordKind.PENALTY, columns, rows)  # type: ignore[return-value]

    @strawberry.mutation(description="报送名单条目 submit list entry rows (as the source unit)")
    def submit_list_entries(
        self,
        info: ContextInfo,
        columns: Annotated[list[str], strawberry.argument(description=COLUMNS)],
        rows: Annotated[list[list[str]], strawberry.argument(description=ROWS)],
    ) -> receipts.SubmitResult:
        return _submit(info, models.RecordKind.LIST_ENTRY, columns, rows)  # type: ignore[return-value]

    @strawberry.mutation(description="撤回 withdraw an own decision with its public reason")
    def withdraw_record(
        self,
        info: ContextInfo,
        id: Annotated[strawberry.ID, strawberry.argument(description=RECORD)],
        reason: Annotated[str, strawberry.argument(description="撤回理由 public reason")],
        kind: Annotated[
            models.WithdrawalKind, strawberry.argument(description="撤回类型 why (default REVOKED)")
        ] = models.WithdrawalKind.REVOKED,
        decision_changed_on: Annotated[
            dt.date | None,
            strawberry.argument(
                description="决定变更日期 starts the 3-working-day withdrawal deadline"
            ),
        ] = None,
    ) -> receipts.EndResult:
        def act(session: Session, actor: Actor, touched: Records) -> receipts.RecordEnded:
            record = _record(session, id, touched)
            actor.owns(record)
            endings.withdraw(
                session,
                record,
                kind=kind,
                reason=reason,
                ctx=actor.ctx,
                decision_changed_on=decision_changed_on,
            )
            due_on = None
            if decision_changed_on is not None:
                due_on = timeliness.withdrawal_due_on(decision_changed_on, actor.ctx.calendar)
            return receipts.record_ended(record, due_on)

        return _write(info, "withdrawRecord", act)  # type: ignore[return-value]

    @strawberry.mutation(description="移出 take an own entry off its list")
    def exit_list_entry(
        self,
        info: ContextInfo,
        id: Annotated[strawberry.ID, strawberry.argument(description=RECORD)],
        reason: Annotated[
            models.EndReason, strawberry.argument(description="移出原因 why (default REVOKED)")
        ] = models.EndReason.REVOKED,
        explanation: Annotated[
            str, strawberry.argument(description="说明理由 the public reason (optional)")
        ] = "",
    ) -> receipts.EndResult:
        def act(session: Session, actor: Actor, touched: Records) -> receipts.RecordEnded:
            record = _record(session, id, touched)
            actor.owns(record)
            if not isinstance(record, models.ListEntry):
                raise workflows.InvalidChange(
                    f"{workflows.label(record)}: 只有名单条目可移出 / only list entries exit"
                )
            endings.exit_list_entry(
                session, record, reason=reason, ctx=actor.ctx, explanation=explanation
            )
            return receipts.record_ended(record)

        return _write(info, "exitListEntry", act)  # type: ignore[return-value]

    @strawberry.mutation(description="登记异议 (operator) record a subject's objection")
    def open_objection(
        self,
        info: ContextInfo,
        id: Annotated[strawberry.ID, strawberry.argument(description=RECORD)],
        grounds: Annotated[str, strawberry.argument(description="异议理由 (internal)")],
    ) -> receipts.ObjectionResult:
        def act(session: Session, actor: Actor, touched: Records) -> receipts.Objection:
            record = _record(session, id, touched)
            actor.operator()
            found = objections.open_objection(session, record, grounds=grounds, ctx=actor.ctx)
            return receipts.objection(found)

        return _write(info, "openObjection", act)  # type: ignore[return-value]

    @strawberry.mutation(description="处理异议 (the record's department) resolve an objection")
    def resolve_objection(
        self,
        info: ContextInfo,
        objection_id: Annotated[int, strawberry.argument(description=OBJECTION)],
        outcome: Annotated[
            models.ObjectionOutcome, strawberry.argument(description="异议结果 the outcome")
        ],
        columns: Annotated[
            list[str] | None, strawberry.argument(description=CORRECTED_COLUMNS)
        ] = None,
        row: Annotated[list[str] | None, strawberry.argument(description=CORRECTED_ROW)] = None,
        reason: Annotated[
            str, strawberry.argument(description="理由 public reason when WITHDRAWN")
        ] = "",
    ) -> receipts.ObjectionResult:
        def act(session: Session, actor: Actor, touched: Records) -> receipts.Objection:
            found = objections.get_objection(session, objection_id)
            touched.append((found.record_kind, found.record_id))
            record = workflows.get_record(session, found.record_kind, found.record_id)
            actor.owns(record)
            changes = _corrected(session, actor, record, outcome, columns, row, touched)
            objections.resolve_objection(
                session, found, outcome=outcome, ctx=actor.ctx, corrections=changes, reason=reason
            )
            return receipts.objection(found)

        return _write(info, "resolveObjection", act)  # type: ignore[return-value]

    @strawberry.mutation(
        description="登记修复申请 (operator) record a subject's repair application"
    )
    def apply_for_repair(
        self,
        info: ContextInfo,
        id: Annotated[strawberry.ID, strawberry.argument(description=RECORD)],
        commitment: Annotated[str, strawberry.argument(description="信用承诺 (internal)")],
    ) -> receipts.RepairResult:
        def act(session: Session, actor: Actor, touched: Records) -> receipts.Repair:
            record = _record(session, id, touched)
            actor.operator()
            found = repairs.apply_for_repair(session, record, commitment=commitment, ctx=actor.ctx)
            return receipts.repair(found)

        return _write(info, "applyForRepair", act)  # type: ignore[return-value]

    @strawberry.mutation(description="准予修复 (the record's department) end its publication")
    def approve_repair(
        self, info: ContextInfo, repair_id: Annotated[int, strawberry.argument(description=REPAIR)]
    ) -> receipts.RepairResult:
        def act(session: Session, actor: Actor, touched: Records) -> receipts.Repair:
            found = repairs.get_repair(session, repair_id)
            touched.append((found.record_kind, found.record_id))
            actor.owns(workflows.get_record(session, found.record_kind, found.record_id))
            repairs.approve_repair(session, found, actor.ctx)
            return receipts.repair(found)

        return _write(info, "approveRepair", act)  # type: ignore[return-value]

    @strawberry.mutation(description="不予修复 (the record's department) refuse with a reason")
    def refuse_repair(
        self,
        info: ContextInfo,
        repair_id: Annotated[int, strawberry.argument(description=REPAIR)],
        note: Annotated[str, strawberry.argument(description="理由 why not")],
    ) -> receipts.RepairResult:
        def act(session: Session, actor: Actor, touched: Records) -> receipts.Repair:
            found = repairs.get_repair(session, repair_id)
            touched.append((found.record_kind, found.record_id))
            actor.owns(workflows.get_record(session, found.record_kind, found.record_id))
            repairs.refuse_repair(session, found, note=note, ctx=actor.ctx)
            return receipts.repair(found)

        return _write(info, "refuseRepair", act)  # type: ignore[return-value]
