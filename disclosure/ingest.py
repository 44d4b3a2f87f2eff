"""Ingestion of a template file: read as a stream, each row checked, applied in batches by
`disclosure.upsert` in the caller's transaction, so a file lands whole or not at all. Rejected
rows go to FILE.rejects.csv in the file's own columns plus `row` and `reason`.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from sqlmodel import Session, col, select

from disclosure import (
    batch,
    checkers,
    models,
    readers,
    spreadsheet,
    template,
    upsert,
    validation,
    workflows,
)


class IngestError(ValueError):
    """The run cannot start: an option names something that does not exist."""


def rejects_path(path: Path) -> Path:
    """Where the rejected rows of `path` go: beside it, as FILE.rejects.csv."""
    return path.with_name(path.name + ".rejects.csv")


class _Rejects:
    """FILE.rejects.csv, written beside the input as the rows are rejected, kept on success."""

    def __init__(self, path: Path, header: list[str], keep: list[int]) -> None:
        self.path, self.header, self.keep = path, header, keep
        self.part = path.with_name(path.name + ".part")
        self.file: IO[str] | None = None
        self.writer: Any = None

    def write(self, cells: list[str], reason: validation.Reason) -> None:
        if self.writer is None:
            # UTF-8 with BOM: Excel on a Chinese Windows opens it without garbling
            self.file = self.part.open("w", encoding="utf-8-sig", newline="")
            self.writer = csv.writer(self.file)
            header = spreadsheet.neutralise_row([self.header[i] for i in self.keep])
            self.writer.writerow([*header, "row", "reason"])
        padded = cells + [""] * (len(self.header) - len(cells))
        # the cells as sent, but none that a spreadsheet would run as a formula
        kept = spreadsheet.neutralise_row([padded[i] for i in self.keep])
        self.writer.writerow([*kept, reason.row, spreadsheet.neutralise(str(reason))])

    def finish(self, success: bool) -> Path | None:
        if self.file is not None:
            self.file.close()
        if not success:
            self.part.unlink(missing_ok=True)
            return None
        if self.file is None:
            self.path.unlink(missing_ok=True)  # a stale list from an earlier run would mislead
            return None
        self.part.replace(self.path)
        return self.path


@contextmanager
def _rejects(path: Path, header: list[str], keep: list[int]) -> Iterator[_Rejects]:
    rejects = _Rejects(path, header, keep)
    try:
        yield rejects
    except BaseException:
        rejects.finish(False)
        raise


def ingest(
    session: Session,
    path: Path,
    *,
    kind: models.RecordKind,
    ctx: workflows.Context,
    source_unit: str | None = None,
    encoding: str | None = None,
    sheet: str | None = None,
    progress: Callable[[int], None] | None = None,
    batch_size: int = upsert.BATCH,
    workers: int = 1,
) -> upsert.IngestReport:
    """Ingest the template file at `path` in the session's transaction, its rows checked by
    `workers` processes (`checkers`) and applied here in file order.

    Raises readers.ReadError or template.TemplateError, before writing or (for a file damaged
    further down) with everything written so far to be rolled back by the caller's transaction.
    """
    default_source = _source_unit(session, source_unit)
    optional = upsert.SOURCE_COLUMNS if default_source else frozenset()
    lists = upsert.lists(session)
    lookups = validation.Lookups(
        lists={key: ref for key, (ref, _months) in lists.items()},
        source_unit_given=default_source is not None,
        id_key=ctx.id_key,
    )
    report = upsert.IngestReport(path, kind)
    with readers.open_table(path, encoding=encoding, sheet=sheet) as table:
        report.format = table.format
        keys = template.match_header(kind, table.header, optional=optional)
        keep = [i for i, key in enumerate(keys) if key is not None]
        writer = batch.Batch(
            session, kind, ctx, report, default_source, lists, f"ingest {path.name}"
        )
        with _rejects(rejects_path(path), table.header, keep) as rejects:
            writer.rejects = rejects
            checked = checkers.check_rows(kind, keys, table.rows, lookups, workers=workers)
            batch.apply_checked(writer, checked, batch_size, progress)
            report.rejects_path = rejects.finish(True)
    assert report.balanced, report
    return report


def _source_unit(session: Session, code: str | None) -> models.Department | None:
    if code is None:
        return None
    unit = session.exec(
        select(models.Department).where(col(models.Department.credit_code) == code.upper())
    ).first()
    if unit is None:
        raise IngestError(
            f"没有统一社会信用代码为 {code} 的单位 / no department has the credit code {code}"
        )
    return unit
