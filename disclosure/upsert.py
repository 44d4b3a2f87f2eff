"""Upsert: checked template rows applied by natural key (authority, document number), the core
that both doors of data in share: a file (`disclosure.ingest`) and a batch submitted through the
API (`disclosure.submission`).

Each row is checked by `validation.check_row` (`check_rows`), then applied by
`disclosure.batch`: new keys are published through
`workflows.settle_new` (the rules `publish` applies) and inserted in bulk with their PUBLISHED
events; changed rows go through `workflows.correct`; identical rows are left alone; a subject
stated differently has its details restated, and only the records of the rows that restated them
are corrected: each keeps its party's name as its decision gave it. Everything happens in the
caller's transaction.
"""

from __future__ import annotations

import dataclasses
import enum
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from sqlmodel import Session, select

from disclosure import models, validation

BATCH = 5_000


@dataclasses.dataclass
class IngestReport:
    """What one file did: every row read is accepted, corrected, unchanged or rejected."""

    path: Path | None  # None: a batch submitted through the API
    kind: models.RecordKind
    format: str = ""
    read: int = 0
    accepted: int = 0
    corrected: int = 0
    unchanged: int = 0
    rejected: int = 0
    late: int = 0  # accepted rows published more than 7 working days after their decision
    registered: list[validation.Party] = dataclasses.field(default_factory=list)
    rules: Counter[str] = dataclasses.field(default_factory=Counter)  # rejections by rule
    rejects_path: Path | None = None

    @property
    def balanced(self) -> bool:
        """rows read = accepted + corrected + unchanged + rejected."""
        return self.read == self.accepted + self.corrected + self.unchanged + self.rejected

    @property
    def changed(self) -> bool:
        """Whether the file changed anything in the database."""
        return bool(self.accepted or self.corrected or self.registered)


class Outcome(enum.StrEnum):
    """What became of one row."""

    ACCEPTED = "accepted"
    CORRECTED = "corrected"
    UNCHANGED = "unchanged"
    REJECTED = "rejected"


@dataclasses.dataclass(frozen=True)
class RowResult:
    """One row of a submitted batch: its outcome, the record it landed in, or why not."""

    row: int
    outcome: Outcome
    record_id: int | None = None
    reason: validation.Reason | None = None


SOURCE_COLUMNS = frozenset({"source_unit", "source_unit_uscc"})


Checked = tuple[int, list[str], validation.Valid | validation.Reason]


def check_rows(
    kind: models.RecordKind,
    keys: Sequence[str | None],
    rows: Iterable[tuple[int, list[str]]],
    lookups: validation.Lookups,
) -> Iterator[Checked]:
    """Each row with its number, its cells and what `validation.check_row` makes of it: the one
    check of both doors (and of a corrected row)."""
    width = len(keys)
    for number, cells in rows:
        if any(cell.strip() for cell in cells[width:]):
            yield (
                number,
                cells,
                validation.reason(
                    kind,
                    number,
                    "row",
                    "extra_cells",
                    f"有 {len(cells)} 个单元格，多于表头的 {width} 列",
                    f"has {len(cells)} cells, more than the header's {width} columns",
                ),
            )
            continue
        row = {key: cell for key, cell in zip(keys, cells, strict=False) if key}
        yield number, cells, validation.check_row(kind, number, row, lookups)


def lists(session: Session) -> dict[str, tuple[validation.ListRef, int | None]]:
    found: dict[str, tuple[validation.ListRef, int | None]] = {}
    for named in session.exec(select(models.List)):
        assert named.id is not None
        entry = (validation.ListRef(named.id, named.code), named.default_validity_months)
        found[named.code] = entry
        found.setdefault(named.name, entry)
    return found
