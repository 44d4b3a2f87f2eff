"""Rows submitted through the API by a department (its token's unit is the source unit): the
same checks and upsert as a file, refused whole when a row is about another department's
records; and an objection's corrected record, checked as a submitted row.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col

from disclosure import batch, idkey, models, template, upsert, validation, workflows


class RowRejected(workflows.InvalidChange):
    """A row that cannot be accepted; `reason` names its row, column and rule."""

    def __init__(self, reason: validation.Reason) -> None:
        super().__init__(str(reason), field=reason.column)
        self.reason = reason


class ForeignRows(Exception):
    """Rows about another department's records (their source unit, or the natural key of a
    record another unit supplied): the batch is refused whole. `rows` are their numbers,
    `records` the ids of the other units' records they name."""

    def __init__(self, rows: Sequence[int], records: Sequence[int]) -> None:
        numbers = ", ".join(map(str, rows))
        super().__init__(
            f"第 {numbers} 行是其他单位的记录，整批未写入 / rows {numbers} are about another "
            "department's records (another source unit, or the document number of a record "
            "another unit supplied); nothing was written"
        )
        self.rows, self.records = list(rows), list(records)


def submit(
    session: Session,
    *,
    kind: models.RecordKind,
    columns: Sequence[str],
    rows: Iterable[Sequence[str]],
    unit: models.Department,
    ctx: workflows.Context,
) -> tuple[upsert.IngestReport, list[upsert.RowResult]]:
    """Apply a batch of template rows on behalf of the department `unit`, in the session's
    transaction: the same checks and upsert as a file, and the outcome of each row (numbered
    from 1). Raises template.TemplateError for columns that do not match, and ForeignRows,
    before writing anything, when a row is about another department's records.
    """
    keys = template.match_header(kind, list(columns), optional=upsert.SOURCE_COLUMNS)
    lists = upsert.lists(session)
    checked = list(
        upsert.check_rows(
            kind,
            keys,
            ((number, list(cells)) for number, cells in enumerate(rows, start=1)),
            _submitted_lookups(lists, ctx.id_key),
        )
    )
    _refuse_foreign(session, kind, unit, [valid for _n, _c, valid in checked])
    report = upsert.IngestReport(None, kind, format="api")
    writer = batch.Batch(session, kind, ctx, report, unit, lists, ctx.actor)
    writer.results = []
    batch.apply_checked(writer, checked, upsert.BATCH, None)
    assert report.balanced, report
    return report, sorted(writer.results, key=lambda result: result.row)


def correction(
    session: Session,
    record: models.Record,
    *,
    columns: Sequence[str],
    cells: Sequence[str],
    unit: models.Department,
    ctx: workflows.Context,
) -> dict[str, Any]:
    """The changes a corrected template row makes to `record`'s own fields, for
    `workflows.correct`: the row is checked as a submitted one (by the department `unit`), and
    must keep the record's natural key. Its subject is found, registered or has its details
    restated as in a submitted batch (its name also changes the record's `party_name`), so the
    changes may be empty when only the subject's other details change. Raises
    template.TemplateError, RowRejected naming the column and rule,
    ForeignRows for a row naming another source unit, or workflows.InvalidChange for a row that
    changes nothing.
    """
    kind = record.KIND
    keys = template.match_header(kind, list(columns), optional=upsert.SOURCE_COLUMNS)
    lists = upsert.lists(session)
    ((_number, _cells, valid),) = upsert.check_rows(
        kind, keys, [(1, list(cells))], _submitted_lookups(lists, ctx.id_key)
    )
    if isinstance(valid, validation.Reason):
        raise RowRejected(valid)
    _refuse_foreign(session, kind, unit, [valid])
    if valid.authority.credit_code != record.authority.credit_code:
        raise RowRejected(_rekeyed(kind, "authority_uscc"))
    if valid.record["decision_doc_no"] != record.decision_doc_no:
        raise RowRejected(_rekeyed(kind, "decision_doc_no"))
    writer = batch.Batch(
        session, kind, ctx, upsert.IngestReport(None, kind, format="api"), unit, lists, ""
    )
    subjects = writer.parties([valid])
    try:
        fields = writer.fields(valid, subjects)
    except workflows.Refused as refusal:
        raise RowRejected(batch.refusal_reason(kind, valid.row, refusal)) from refusal
    stored = workflows.snapshot(record)
    changes = {
        key: fields[key] for key in writer.compared if key in fields and fields[key] != stored[key]
    }
    if not changes and not writer.restated:
        raise workflows.InvalidChange(
            f"{workflows.label(record)}: 更正后的行与原记录相同 / the corrected row changes nothing"
        )
    return changes


def _submitted_lookups(
    lists: dict[str, tuple[validation.ListRef, int | None]], id_key: idkey.IdKey | None
) -> validation.Lookups:
    """A submitted row's source unit defaults to the department that submits it."""
    return validation.Lookups(
        lists={key: ref for key, (ref, _months) in lists.items()},
        source_unit_given=True,
        id_key=id_key,
    )


def _refuse_foreign(
    session: Session,
    kind: models.RecordKind,
    unit: models.Department,
    rows: Sequence[validation.Valid | validation.Reason],
) -> None:
    """Raise ForeignRows if a valid row names another source unit than `unit`, or the natural
    key of a record whose source unit is another department."""
    valid = [row for row in rows if isinstance(row, validation.Valid)]
    foreign = {
        row.row
        for row in valid
        if row.source_unit is not None and row.source_unit.credit_code != unit.credit_code
    }
    records: set[int] = set()
    if valid:
        model = models.RECORD_MODELS[kind]
        theirs = session.execute(
            sa.select(col(models.Department.credit_code), col(model.decision_doc_no), col(model.id))
            .join(models.Department, col(models.Department.id) == col(model.authority_id))
            .where(
                col(model.decision_doc_no).in_({row.record["decision_doc_no"] for row in valid}),
                col(models.Department.credit_code).in_(
                    {row.authority.credit_code for row in valid}
                ),
                col(model.source_unit_id) != unit.id,
            )
        )
        owned_elsewhere = {(code, number): record_id for code, number, record_id in theirs}
        for row in valid:
            found = owned_elsewhere.get((row.authority.credit_code, row.record["decision_doc_no"]))
            if found is not None:
                foreign.add(row.row)
                records.add(found)
    if foreign:
        raise ForeignRows(sorted(foreign), sorted(records))


def _rekeyed(kind: models.RecordKind, column: str) -> validation.Reason:
    return validation.reason(
        kind,
        1,
        column,
        "natural_key",
        "更正不能改变记录的机关和文号",
        "a correction keeps the record's authority and document number",
    )
