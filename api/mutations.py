"""Writes through the API: departments and the operator change records with a Bearer token.

A request's mutations run in one transaction, as the one writer (`db.lock_for_writing`),
committed when the request ends. Each acts in a savepoint and appends its audit entry beside it:
a refusal rolls its savepoint back and keeps only its audit entry, so the attempt is on record
and nothing else changed.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import strawberry
from sqlmodel import Session
from strawberry.utils.str_converters import to_snake_case

from api import receipts
from api.limits import ApiError
from api.types import ROW_IDS, ContextInfo, parse_global_id
from disclosure import (
    audit,
    db,
    ingest,
    lifecycle,
    models,
    template,
    tokens,
    validation,
    workdays,
    workflows,
)

T = TypeVar("T")
Records = list[tuple[models.RecordKind, int]]


class _Forbidden(Exception):
    """The token's role or department may not do this."""


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
    )
    failure: receipts.MutationError
    savepoint = session.begin_nested()
    try:
        result = act(session, Actor(token, ctx), touched)
        session.flush()
    except _Forbidden as refusal:
        failure = receipts.forbidden(str(refusal))
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
        try:
            report, results = ingest.submit(
                session, kind=kind, columns=columns, rows=rows, unit=actor.token.unit, ctx=actor.ctx
            )
        except template.TemplateError as error:
            raise workflows.InvalidChange(str(error)) from error
        foreign = [r.row for r in results if r.reason and r.reason.rule == ingest.FORBIDDEN_RULE]
        if foreign:
            raise _Forbidden(
                f"第 {', '.join(map(str, foreign))} 行属于其他单位 / rows "
                f"{', '.join(map(str, foreign))} are about another department's records; "
                "nothing was written"
            )
        touched.extend(
            (kind, r.record_id)
            for r in results
            if r.record_id is not None and r.outcome is not ingest.Outcome.UNCHANGED
        )
        return receipts.submit_report(kind, report, results)

    return _write(info, operation, act)


COLUMNS = "列 the template columns of the rows (中文表头, XK_*/CF_* codes or our keys)"
ROWS = "行 the rows, one list of cells per row, in the order of the columns"
RECORD = "globalId of the record"


@strawberry.input(description="更正 one field of the record and its new value (null: empty)")
class Correction:
    field: str = strawberry.field(description="字段 the record field, e.g. content, fineAmountWan")
    value: str | None = strawberry.field(description="新值 the new value (dates YYYY-MM-DD)")


def _corrections(record: models.Record, given: list[Correction]) -> dict[str, Any]:
    """The corrections as the record's own field values, parsed by the column types."""
    columns = type(record).__table__.c  # type: ignore[union-attr]
    changes: dict[str, Any] = {}
    for correction in given:
        name = to_snake_case(correction.field)
        if name not in columns:
            raise workflows.InvalidChange(
                f"{workflows.label(record)}: 没有字段 {correction.field} / no field "
                f"{correction.field}",
                field=name,
            )
        changes[name] = _parse(record, name, columns[name], correction.value)
    return changes


def _parse(record: models.Record, name: str, column: Any, value: str | None) -> Any:
    if value is None:
        return None
    python_type = column.type.python_type
    if isinstance(column.type, models.WanYuan):
        try:
            return validation.parse_amount(value)
        except validation.AmountError as error:
            raise workflows.InvalidChange(
                f"{workflows.label(record)}: {name} {error.zh} / {error.en}", field=name
            ) from error
    try:
        if python_type is dt.date:
            return dt.date.fromisoformat(value.replace("/", "-"))
        if issubclass(python_type, enum.Enum):
            return python_type(value)
        if python_type is int:
            if int(value) not in ROW_IDS:  # the int columns a correction may set are row ids
                raise ValueError(value)
            return int(value)
    except ValueError as error:
        raise workflows.InvalidChange(
            f"{workflows.label(record)}: {name} 的值无效 / {value!r} is not a valid {name}",
            field=name,
        ) from error
    length = getattr(column.type, "length", None)
    if length is not None and len(value) > length:
        raise workflows.InvalidChange(
            f"{workflows.label(record)}: {name} 超过 {length} 个字符 / {name} is longer than "
            f"{length} characters",
            field=name,
        )
    return value


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
        kind: models.WithdrawalKind = models.WithdrawalKind.REVOKED,
        decision_changed_on: Annotated[
            dt.date | None,
            strawberry.argument(description="决定变更日期 starts the 3-day withdrawal deadline"),
        ] = None,
    ) -> receipts.EndResult:
        def act(session: Session, actor: Actor, touched: Records) -> receipts.RecordEnded:
            record = _record(session, id, touched)
            actor.owns(record)
            workflows.withdraw(
                session,
                record,
                kind=kind,
                reason=reason,
                ctx=actor.ctx,
                decision_changed_on=decision_changed_on,
            )
            return receipts.record_ended(record)

        return _write(info, "withdrawRecord", act)  # type: ignore[return-value]

    @strawberry.mutation(description="移出 take an own entry off its list")
    def exit_list_entry(
        self,
        info: ContextInfo,
        id: Annotated[strawberry.ID, strawberry.argument(description=RECORD)],
        reason: models.EndReason = models.EndReason.REVOKED,
    ) -> receipts.EndResult:
        def act(session: Session, actor: Actor, touched: Records) -> receipts.RecordEnded:
            record = _record(session, id, touched)
            actor.owns(record)
            if not isinstance(record, models.ListEntry):
                raise workflows.InvalidChange(
                    f"{workflows.label(record)}: 只有名单条目可移出 / only list entries exit"
                )
            workflows.exit_list_entry(session, record, reason=reason, ctx=actor.ctx)
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
            found = workflows.open_objection(session, record, grounds=grounds, ctx=actor.ctx)
            return receipts.objection(found)

        return _write(info, "openObjection", act)  # type: ignore[return-value]

    @strawberry.mutation(description="处理异议 (the record's department) resolve an objection")
    def resolve_objection(
        self,
        info: ContextInfo,
        objection_id: int,
        outcome: models.ObjectionOutcome,
        corrections: Annotated[
            list[Correction] | None,
            strawberry.argument(description="更正内容 for CORRECTED: the fields to change"),
        ] = None,
        reason: Annotated[
            str, strawberry.argument(description="理由 public reason when WITHDRAWN")
        ] = "",
    ) -> receipts.ObjectionResult:
        def act(session: Session, actor: Actor, touched: Records) -> receipts.Objection:
            found = workflows.get_objection(session, objection_id)
            touched.append((found.record_kind, found.record_id))
            record = workflows.get_record(session, found.record_kind, found.record_id)
            actor.owns(record)
            changes = _corrections(record, corrections or [])
            workflows.resolve_objection(
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
            found = workflows.apply_for_repair(
                session, record, commitment=commitment, ctx=actor.ctx
            )
            return receipts.repair(found)

        return _write(info, "applyForRepair", act)  # type: ignore[return-value]

    @strawberry.mutation(description="准予修复 (the record's department) end its publication")
    def approve_repair(self, info: ContextInfo, repair_id: int) -> receipts.RepairResult:
        def act(session: Session, actor: Actor, touched: Records) -> receipts.Repair:
            found = workflows.get_repair(session, repair_id)
            touched.append((found.record_kind, found.record_id))
            actor.owns(workflows.get_record(session, found.record_kind, found.record_id))
            workflows.approve_repair(session, found, actor.ctx)
            return receipts.repair(found)

        return _write(info, "approveRepair", act)  # type: ignore[return-value]

    @strawberry.mutation(description="不予修复 (the record's department) refuse with a reason")
    def refuse_repair(
        self,
        info: ContextInfo,
        repair_id: int,
        note: Annotated[str, strawberry.argument(description="理由 why not")],
    ) -> receipts.RepairResult:
        def act(session: Session, actor: Actor, touched: Records) -> receipts.Repair:
            found = workflows.get_repair(session, repair_id)
            touched.append((found.record_kind, found.record_id))
            actor.owns(workflows.get_record(session, found.record_kind, found.record_id))
            workflows.refuse_repair(session, found, note=note, ctx=actor.ctx)
            return receipts.repair(found)

        return _write(info, "refuseRepair", act)  # type: ignore[return-value]
