"""An incremental publish renders what changed since the last one (`change_log.changed_records`)
and links the rest: whatever the records' dates, and whatever happened in between, it must
write exactly the site a full publish of the same day writes."""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import tempfile
from pathlib import Path

import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import Session, SQLModel

from disclosure import endings, lifecycle, models, objections, workflows
from tests import conftest, factories
from tests.publishers import site_helpers as helpers

D = dt.date
FIRST_DAY = D(2026, 1, 1)
days = st.integers(min_value=-40, max_value=400).map(lambda n: FIRST_DAY + dt.timedelta(days=n))
maybe_days = st.none() | days


@dataclasses.dataclass(frozen=True)
class Dated:
    """A record of `kind` with the dates that decide what its page shows."""

    kind: models.RecordKind
    published_on: dt.date
    ended_on: dt.date | None
    last_day: dt.date | None  # a penalty's publicity end, an entry's or a license's validity
    objection_opened_on: dt.date | None


dated = st.builds(
    Dated,
    kind=st.sampled_from(list(models.RecordKind)),
    published_on=days,
    ended_on=maybe_days,
    last_day=maybe_days,
    objection_opened_on=maybe_days,
)


def _store(session: Session, record: Dated) -> models.Record:
    """`record` stored through the workflows as of its publication day, then given its dates."""
    on = record.published_on
    decided = record.published_on - dt.timedelta(days=3)
    stored: models.Record
    if record.kind is models.RecordKind.LICENSE:
        stored = factories.add_license(session, on, decision_on=decided)
        if record.last_day is not None:
            stored.valid_to_on = record.last_day
    elif record.kind is models.RecordKind.PENALTY:
        stored = factories.add_penalty(session, on, decision_on=decided)
        stored.publicity_end_on = record.last_day
    else:
        stored = factories.add_list_entry(session, on, decision_on=decided)
        stored.valid_until_on = record.last_day
    stored.published_on = record.published_on
    stored.objection_opened_on = record.objection_opened_on
    if record.ended_on is not None:
        stored.ended_on, stored.end_reason = record.ended_on, models.EndReason.WITHDRAWN
    session.add(stored)
    return stored


def _empty(engine: sa.Engine) -> None:
    """Every table of the records emptied (the audit trail, append-only, is never written here)."""
    tables = [t for t in SQLModel.metadata.sorted_tables if t.name != "audit_entry"]
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            names = ", ".join(t.name for t in tables)
            connection.exec_driver_sql(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
        else:
            for table in reversed(tables):
                connection.execute(table.delete())


def _tree(folder: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(folder)): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


@settings(
    max_examples=conftest.examples(40),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    records=st.lists(dated, min_size=2, max_size=6),
    since=days,
    gap=st.integers(min_value=0, max_value=400),
    acts=st.lists(st.sampled_from(["withdraw", "object", "correct"]), max_size=3),
)
def test_an_incremental_publish_over_random_dates_writes_what_a_full_one_does(
    engine: sa.Engine,
    records: list[Dated],
    since: dt.date,
    gap: int,
    acts: list[str],
) -> None:
    on = since + dt.timedelta(days=gap)
    _empty(engine)
    with Session(engine, expire_on_commit=False) as session:
        stored = [_store(session, record) for record in records]
        session.commit()
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder)
        helpers.publish(engine, out / "site", since)
        # what happens between the two publishes, through the workflows, as of `on`
        with Session(engine, expire_on_commit=False) as session:
            for act, old in zip(acts, itertools.cycle(stored), strict=False):
                # read back, not merged: merging the detached copy would write its stale state
                # over an act of this loop (a withdrawal undone, then withdrawn twice)
                record: models.Record = session.get_one(type(old), old.id)  # type: ignore[assignment]
                if not lifecycle.is_public(record, on):
                    continue
                if act == "withdraw" and not isinstance(record, models.ListEntry):
                    endings.withdraw(
                        session,
                        record,
                        kind=models.WithdrawalKind.CHANGED,
                        reason="决定变更",
                        ctx=factories.ctx(on),
                    )
                elif act == "object" and record.objection_opened_on is None:
                    objections.open_objection(
                        session, record, grounds="事实有误", ctx=factories.ctx(on)
                    )
                elif act == "correct":
                    remarks = {"remarks": f"更正于{on}"}
                    workflows.correct(session, record, remarks, factories.ctx(on))
            session.commit()
        built, report = helpers.publish(engine, out / "site", on)
        assert report.incremental is True
        full, full_report = helpers.publish(engine, out / "fresh", on)
        assert full_report.incremental is False
        assert _tree(built.folder) == _tree(full.folder)
