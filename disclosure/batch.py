"""The batch writer of an upsert: checked rows applied a batch at a time, with one query per
lookup and one bulk insert per table, in the caller's transaction (see `disclosure.upsert`)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Protocol

import sqlalchemy as sa
from sqlmodel import Session, col

from disclosure import db, events, models, timeliness, upsert, validation, workflows

# Record fields a workflow refusal may name, to the template column a clerk fixes.
_FIELD_COLUMN = {"decision_on": "decision_date", "publicity_end_on": "publicity_end_date"}


def apply_checked(
    batch: Batch,
    checked: Iterable[upsert.Checked],
    batch_size: int,
    progress: Callable[[int], None] | None,
) -> None:
    """Reject the rows that failed and apply the others in batches."""
    for _number, cells, valid in checked:
        batch.report.read += 1
        if isinstance(valid, validation.Reason):
            batch.reject(cells, valid)
        else:
            batch.add(valid, cells)
        if len(batch.rows) >= batch_size:
            _advance(progress, batch.apply())
    _advance(progress, batch.apply())


def _advance(progress: Callable[[int], None] | None, count: int) -> None:
    if progress is not None and count:
        progress(count)


class RejectSink(Protocol):
    """Where rejected rows go as they are rejected (a file's FILE.rejects.csv)."""

    def write(self, cells: list[str], reason: validation.Reason) -> None: ...


class Batch:
    """Rows of one batch, applied with one query per lookup and one bulk insert per table."""

    def __init__(
        self,
        session: Session,
        kind: models.RecordKind,
        ctx: workflows.Context,
        report: upsert.IngestReport,
        default_source: models.Department | None,
        lists: dict[str, tuple[validation.ListRef, int | None]],
        actor: str,
    ) -> None:
        self.session, self.kind, self.ctx, self.report = session, kind, ctx, report
        self.model = models.RECORD_MODELS[kind]
        self.table: sa.Table = self.model.__table__  # type: ignore[union-attr]
        self.default_source = default_source
        self.validity = {ref.id: months for ref, months in lists.values()}
        self.departments: dict[str, int] = {}
        self.rows: list[tuple[validation.Valid, list[str]]] = []
        self.rejects: RejectSink | None = None
        self.results: list[upsert.RowResult] | None = None  # kept for a submitted batch
        self.compared = [c.key for c in self.table.c if c.key not in workflows.MANAGED]
        # Records stored before this run have ids up to here; a key found above it, or one
        # already touched, repeats an earlier row of the file.
        self.first_new_id = session.execute(
            sa.select(sa.func.coalesce(sa.func.max(self.table.c.id), 0))
        ).scalar_one()
        self.touched: set[int] = set()
        # subjects whose details rows of this run restated: their details before the run
        self.restated: dict[int, dict[str, Any]] = {}
        self.actor = actor

    def add(self, valid: validation.Valid, cells: list[str]) -> None:
        self.rows.append((valid, cells))

    def reject(self, cells: list[str], reason: validation.Reason) -> None:
        self.report.rejected += 1
        self.report.rules[reason.rule] += 1
        if self.rejects is not None:
            self.rejects.write(cells, reason)
        self._result(reason.row, upsert.Outcome.REJECTED, reason=reason)

    def _result(
        self,
        row: int,
        outcome: upsert.Outcome,
        record_id: int | None = None,
        reason: validation.Reason | None = None,
    ) -> None:
        if self.results is not None:
            self.results.append(upsert.RowResult(row, outcome, record_id, reason))

    def _refused(self, cells: list[str], row: int, refusal: workflows.Refused) -> None:
        self.reject(cells, refusal_reason(self.kind, row, refusal))

    def fields(
        self, valid: validation.Valid, subjects: dict[tuple[str, str], int]
    ) -> dict[str, Any]:
        """The record's columns from a checked row, with what publishing decides about it
        (`workflows.settle_new`, which raises workflows.Refused)."""
        record = valid.record
        settled = workflows.settle_new(
            self.kind,
            record,
            self.ctx,
            default_validity_months=self.validity.get(record.get("list_id", -1)),
        )
        source = valid.source_unit
        source_id = (
            self.departments[source.credit_code]
            if source is not None
            else self.default_source.id
            if self.default_source is not None
            else None
        )
        return (
            record
            | {
                "subject_id": subjects[subject_key(valid.subject)],
                "party_name": valid.subject["name"],  # as this decision names it
                "authority_id": self.departments[valid.authority.credit_code],
                "source_unit_id": source_id,
            }
            | settled
        )

    def apply(self) -> int:
        """Apply the batch; returns how many rows it held."""
        rows, self.rows = self.rows, []
        if not rows:
            return 0
        subjects = self.parties([valid for valid, _cells in rows])
        existing = self._existing([valid for valid, _cells in rows])
        new: list[tuple[int, dict[str, Any]]] = []
        seen: set[tuple[int, str]] = set()
        for valid, cells in rows:
            try:
                fields = self.fields(valid, subjects)
            except workflows.Refused as refusal:
                self._refused(cells, valid.row, refusal)
                continue
            key = (fields["authority_id"], fields["decision_doc_no"])
            stored = existing.get(key)
            if key in seen or (
                stored is not None
                and (stored["id"] > self.first_new_id or stored["id"] in self.touched)
            ):
                self.reject(cells, _duplicate(self.kind, valid.row))
                continue
            seen.add(key)
            if stored is None:
                new.append((valid.row, fields))
                continue
            self.touched.add(stored["id"])
            self._upsert(stored, fields, cells, valid.row, self._subject_diff(valid, fields))
        self._insert(new)
        return len(rows)

    def _subject_diff(
        self, valid: validation.Valid, fields: dict[str, Any]
    ) -> dict[str, tuple[Any, Any]]:
        """The subject's details this row restated, against what they were before the run."""
        before = self.restated.get(fields["subject_id"], {})
        return {
            name: (old, valid.subject[name])
            for name, old in before.items()
            if name in valid.subject and valid.subject[name] != old
        }

    def _upsert(
        self,
        stored: dict[str, Any],
        fields: dict[str, Any],
        cells: list[str],
        row: int,
        subject_diff: dict[str, tuple[Any, Any]],
    ) -> None:
        changes = {k: fields[k] for k in self.compared if k in fields and fields[k] != stored[k]}
        if not changes and not subject_diff:
            self.report.unchanged += 1
            self._result(row, upsert.Outcome.UNCHANGED, stored["id"])
            return
        record = workflows.get_record(self.session, self.kind, stored["id"])
        try:  # a refusal restores the record before it raises: nothing to roll back
            workflows.correct(self.session, record, changes, self.ctx, subject_diff=subject_diff)
        except workflows.Refused as refusal:
            self._refused(cells, row, refusal)
            return
        self.report.corrected += 1
        self._result(row, upsert.Outcome.CORRECTED, stored["id"])

    def _insert(self, numbered: list[tuple[int, dict[str, Any]]]) -> None:
        if not numbered:
            return
        rows = [row for _number, row in numbered]
        connection = self.session.connection()
        ids = db.reserve_ids(connection, self.table, len(rows))
        db.bulk_insert(
            connection, self.table, [{"id": i} | r for i, r in zip(ids, rows, strict=True)]
        )
        occurred_at = models.now_utc()
        events.append_many(
            self.session,
            (
                events.row(
                    self.kind,
                    record_id,
                    models.EventType.PUBLISHED,
                    effective_on=self.ctx.on,
                    actor=self.actor,
                    payload=events.published_payload(row),
                    occurred_at=occurred_at,
                )
                for record_id, row in zip(ids, rows, strict=True)
            ),
        )
        self.report.accepted += len(rows)
        for (number, _row), record_id in zip(numbered, ids, strict=True):
            self._result(number, upsert.Outcome.ACCEPTED, record_id)
        self.report.late += sum(
            timeliness.is_late(row["decision_on"], self.ctx.on, self.ctx.calendar) for row in rows
        )

    def parties(self, rows: list[validation.Valid]) -> dict[tuple[str, str], int]:
        """Find or register the departments the rows name; returns their subjects' ids (found
        or inserted) by `_subject_key`."""
        self._departments(rows)
        return self._subjects(rows)

    def _departments(self, rows: Iterable[validation.Valid]) -> None:
        named: dict[str, str] = {}
        for valid in rows:
            for party in (valid.authority, valid.source_unit):
                if party is not None and party.credit_code not in self.departments:
                    named.setdefault(party.credit_code, party.name)
        if not named:
            return
        found = self.session.execute(
            sa.select(col(models.Department.credit_code), col(models.Department.id)).where(
                col(models.Department.credit_code).in_(named)
            )
        )
        self.departments.update(dict(found.all()))
        for code, name in named.items():
            if code not in self.departments:
                unit = models.Department(credit_code=code, name=name)
                self.session.add(unit)
                self.session.flush()
                assert unit.id is not None
                self.departments[code] = unit.id
                self.report.registered.append(validation.Party(code, name))

    def _subjects(self, rows: Iterable[validation.Valid]) -> dict[tuple[str, str], int]:
        """Subject ids by key, registering new subjects and restating the details of known ones
        that a row states differently (the last row about a subject wins; each record keeps the
        name its own row gave)."""
        wanted = {subject_key(valid.subject): valid.subject for valid in rows}
        table: sa.Table = models.Subject.__table__  # type: ignore[attr-defined]
        found: dict[tuple[str, str], int] = {}
        for column in ("credit_code", "id_number_digest"):
            values = [value for name, value in wanted if name == column]
            if not values:
                continue
            for stored in self.session.execute(
                sa.select(table).where(table.c[column].in_(values))
            ).mappings():
                key = (column, stored[column])
                found[key] = stored["id"]
                details = wanted[key]
                if any(stored[f] != details[f] for f in workflows.SUBJECT_DETAILS if f in details):
                    subject = self.session.get_one(models.Subject, stored["id"])
                    diff = workflows.restate_subject(self.session, subject, details)
                    before = self.restated.setdefault(stored["id"], {})
                    for name, (old, _new) in diff.items():
                        before.setdefault(name, old)
        missing = [key for key in wanted if key not in found]
        if missing:
            columns = [c.key for c in table.c if c.key != "id"]
            ids = db.reserve_ids(self.session.connection(), table, len(missing))
            db.bulk_insert(
                self.session.connection(),
                table,
                [
                    {"id": i}
                    | {c: wanted[key].get(c) for c in columns}
                    | models.name_keys(wanted[key]["name"])
                    for i, key in zip(ids, missing, strict=True)
                ],
            )
            found |= dict(zip(missing, ids, strict=True))
        return found

    def _existing(self, rows: list[validation.Valid]) -> dict[tuple[int, str], dict[str, Any]]:
        numbers = {valid.record["decision_doc_no"] for valid in rows}
        authorities = {self.departments[valid.authority.credit_code] for valid in rows}
        query = sa.select(self.table).where(
            self.table.c.decision_doc_no.in_(numbers), self.table.c.authority_id.in_(authorities)
        )
        return {
            (row["authority_id"], row["decision_doc_no"]): dict(row)
            for row in self.session.execute(query).mappings()
        }


def subject_key(subject: dict[str, Any]) -> tuple[str, str]:
    if subject.get("credit_code"):
        return ("credit_code", subject["credit_code"])
    return ("id_number_digest", subject["id_number_digest"])


def _duplicate(kind: models.RecordKind, row: int) -> validation.Reason:
    return validation.reason(
        kind,
        row,
        "decision_doc_no",
        "duplicate",
        "与本文件前面的行是同一机关的同一文号",
        "repeats the authority and document number of an earlier row of this file",
    )


def refusal_reason(
    kind: models.RecordKind, row: int, refusal: workflows.Refused
) -> validation.Reason:
    """A workflow's refusal of a row, naming the template column a clerk fixes."""
    column = _FIELD_COLUMN.get(refusal.field or "", refusal.field or "row")
    zh, _, en = str(refusal).partition(" / ")
    rule = refusal.code.lower() if refusal.field is None else refusal.field
    return validation.reason(kind, row, column, rule, zh, en or zh)
