"""What a mutation answers: its receipt on success, or one of the typed errors of its union."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import strawberry

from api import errors
from api.cursors import global_id
from api.types import describe_enum
from disclosure import models, upsert, validation

describe_enum(
    upsert.Outcome,
    "行结果 what became of a submitted row",
    ACCEPTED="已公示 a new record, now published",
    CORRECTED="已更正 the record of the same authority and document number, corrected",
    UNCHANGED="未变 the record as it stands: nothing to do",
    REJECTED="已退回 not taken: the reason names the column and the rule",
)
describe_enum(
    models.WithdrawalKind,
    "撤回类型 why a decision is withdrawn (行政处罚法 Art. 48)",
    CHANGED="变更 the decision was changed",
    REVOKED="撤销 the decision was revoked",
    CONFIRMED_ILLEGAL="确认违法 the decision was confirmed illegal",
    CONFIRMED_INVALID="确认无效 the decision was confirmed invalid",
    OBJECTION_UPHELD="异议成立 an objection to the record was upheld",
    OTHER="其他 another reason, given in the public reason",
)
describe_enum(
    models.EndReason,
    "停止公示原因 why publication ended before the record's own end",
    WITHDRAWN="撤回 the decision was withdrawn",
    REPAIRED="信用修复 the subject's credit was repaired",
    OBJECTION_UPHELD="异议成立 an objection to the record was upheld",
    REVOKED="撤销认定 the listing was revoked (list entries)",
)
describe_enum(
    models.ObjectionOutcome,
    "异议结果 how an objection was resolved",
    CORRECTED="更正 upheld: the record is corrected",
    WITHDRAWN="撤回 upheld: the record is withdrawn and publication ends",
    REJECTED="驳回 not upheld: the record stands, the annotation is removed",
)
describe_enum(
    models.RepairStatus,
    "修复状态 state of a credit repair application",
    APPLIED="已申请 applied for, awaiting the department's decision",
    APPROVED="已修复 approved: publication of the record ended",
    REFUSED="不予修复 refused, with the department's note",
)


@strawberry.interface(description="错误 why a mutation changed nothing")
class MutationError:
    code: str = strawberry.field(description="错误代码 a stable code to branch on")
    message: str = strawberry.field(description="说明 中文 / English")


@strawberry.type(description="未认证 the token is missing, unknown, revoked or expired")
class Unauthenticated(MutationError):
    pass


@strawberry.type(description="无权限 the token's role or department may not do this")
class Forbidden(MutationError):
    rows: list[int] | None = strawberry.field(
        default=None,
        description="行号 for a refused batch: its rows about another department's records",
    )


@strawberry.type(description="不存在 no such record, objection or repair application")
class NotFound(MutationError):
    pass


@strawberry.type(
    description="拒绝 a rule refused it: INVALID, ALREADY_EXISTS, NOT_PUBLIC, WRONG_STATE or "
    "TOO_EARLY"
)
class Refused(MutationError):
    field: str | None = strawberry.field(description="字段 the field it is about, if one")


@strawberry.type(
    description="行被拒收 a template row failed a check of `submit*` (code INVALID_ROW)"
)
class RowRejected(MutationError):
    column: str = strawberry.field(description="列 our key of the column, e.g. decision_date")
    header: str = strawberry.field(description="表头 the column's Chinese header")
    rule: str = strawberry.field(description="规则 the rule it broke, e.g. date, natural_key")


def unauthenticated(message: str) -> Unauthenticated:
    """The error of a request without a live token."""
    return Unauthenticated(code=errors.UNAUTHENTICATED, message=message)


def forbidden(message: str, rows: list[int] | None = None) -> Forbidden:
    """The error of an act outside the token's role or department."""
    return Forbidden(code=errors.FORBIDDEN, message=message, rows=rows)


def row_rejected(reason: validation.Reason) -> RowRejected:
    """The error of a row that fails the template's checks."""
    return RowRejected(
        code=errors.INVALID_ROW,
        message=str(reason),
        column=reason.column,
        header=reason.header,
        rule=reason.rule,
    )


@strawberry.type(description="行 one submitted row and what became of it")
class RowReport:
    row: int = strawberry.field(description="行号 the row's number in the batch, from 1")
    outcome: upsert.Outcome = strawberry.field(description="结果 what became of it")
    id: strawberry.ID | None = strawberry.field(description="globalId of the record it landed in")
    column: str | None = strawberry.field(description="列 the column a rejection is about")
    rule: str | None = strawberry.field(description="规则 the rule a rejection broke")
    reason: str | None = strawberry.field(description="原因 why the row was rejected")


@strawberry.type(description="报送结果 every row is accepted, corrected, unchanged or rejected")
class SubmitReport:
    accepted: int = strawberry.field(description="新增 rows published as new records")
    corrected: int = strawberry.field(description="更正 rows that corrected a record")
    unchanged: int = strawberry.field(description="未变 rows equal to their record")
    rejected: int = strawberry.field(description="拒收 rows rejected, each with its reason")
    rows: list[RowReport] = strawberry.field(description="逐行 every row, in order")


def submit_report(
    kind: models.RecordKind, report: upsert.IngestReport, results: list[upsert.RowResult]
) -> SubmitReport:
    """The receipt of a submitted batch."""
    return SubmitReport(
        accepted=report.accepted,
        corrected=report.corrected,
        unchanged=report.unchanged,
        rejected=report.rejected,
        rows=[_row(kind, result) for result in results],
    )


def _row(kind: models.RecordKind, result: upsert.RowResult) -> RowReport:
    reason: validation.Reason | None = result.reason
    return RowReport(
        row=result.row,
        outcome=result.outcome,
        id=None if result.record_id is None else strawberry.ID(global_id(kind, result.record_id)),
        column=reason.column if reason else None,
        rule=reason.rule if reason else None,
        reason=str(reason) if reason else None,
    )


@strawberry.type(description="停止公示 a record whose publication ended")
class RecordEnded:
    id: strawberry.ID = strawberry.field(description="globalId")
    ended_on: dt.date = strawberry.field(description="停止公示日期 first day no longer public")
    reason: models.EndReason = strawberry.field(description="原因 why it ended")
    explanation: str | None = strawberry.field(
        description="说明理由 the public reason as published (identity numbers masked)"
    )
    due_on: dt.date | None = strawberry.field(
        description="撤回期限 last day of the 3-working-day withdrawal deadline (行政处罚法 "
        "Arts. 48, 85), when the decision's change day was given"
    )
    late: bool = strawberry.field(description="超期 withdrawn after that deadline")


def record_ended(record: models.Record, due_on: dt.date | None = None) -> RecordEnded:
    """The receipt of a record taken off publication (`due_on`: its withdrawal deadline)."""
    assert record.id is not None and record.ended_on and record.end_reason
    return RecordEnded(
        id=strawberry.ID(global_id(record.KIND, record.id)),
        ended_on=record.ended_on,
        reason=record.end_reason,
        explanation=record.end_explanation,
        due_on=due_on,
        late=due_on is not None and record.ended_on > due_on,
    )


@strawberry.type(description="异议 an objection to a record (its grounds stay internal)")
class Objection:
    id: int = strawberry.field(description="异议编号 pass to resolveObjection")
    record_id: strawberry.ID = strawberry.field(description="globalId of the record")
    opened_on: dt.date = strawberry.field(description="登记日期 the record is annotated from")
    due_on: dt.date = strawberry.field(description="办结期限 decision due (working days)")
    closed_on: dt.date | None = strawberry.field(description="办结日期 null while open")
    outcome: models.ObjectionOutcome | None = strawberry.field(description="结果 null while open")


def objection(found: models.Objection) -> Objection:
    """The receipt of an objection."""
    assert found.id is not None
    return Objection(
        id=found.id,
        record_id=strawberry.ID(global_id(found.record_kind, found.record_id)),
        opened_on=found.opened_on,
        due_on=found.due_on,
        closed_on=found.closed_on,
        outcome=found.outcome,
    )


@strawberry.type(description="信用修复申请 a repair application (its commitment stays internal)")
class Repair:
    id: int = strawberry.field(description="申请编号 pass to approveRepair / refuseRepair")
    record_id: strawberry.ID = strawberry.field(description="globalId of the record")
    applied_on: dt.date = strawberry.field(description="申请日期 the day it was recorded")
    due_on: dt.date | None = strawberry.field(description="办结期限 decision due (working days)")
    status: models.RepairStatus = strawberry.field(description="状态 applied, approved, refused")
    decided_on: dt.date | None = strawberry.field(description="决定日期 null while pending")


def repair(found: models.Repair) -> Repair:
    """The receipt of a repair application."""
    assert found.id is not None
    return Repair(
        id=found.id,
        record_id=strawberry.ID(global_id(found.record_kind, found.record_id)),
        applied_on=found.applied_on,
        due_on=found.due_on,
        status=found.status,
        decided_on=found.decided_on,
    )


Errors = Unauthenticated | Forbidden | NotFound | Refused
SubmitResult = Annotated[
    SubmitReport | Errors,
    strawberry.union(
        "SubmitResult", description="报送结果 the report of a batch, or why nothing changed"
    ),
]
EndResult = Annotated[
    RecordEnded | Errors,
    strawberry.union(
        "EndResult", description="停止公示结果 the ended record, or why nothing changed"
    ),
]
ObjectionResult = Annotated[
    Objection | Errors | RowRejected,
    strawberry.union(
        "ObjectionResult", description="异议结果 the objection, or why nothing changed"
    ),
]
RepairResult = Annotated[
    Repair | Errors,
    strawberry.union(
        "RepairResult", description="修复结果 the repair application, or why nothing changed"
    ),
]
