"""The site's joint incentives and punishments: the measures list page (措施清单) and, for each
subject page, the measures that apply to it on the publish day with their triggering records."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from sqlmodel import Session, col, select

from disclosure import measures, models, standing, urls

KIND_NAMES = {
    measures.MeasureKind.INCENTIVE: "守信激励",
    measures.MeasureKind.PUNISHMENT: "失信惩戒",
}
STATE_NAMES = {standing.State.APPLIES: "执行", standing.State.SUSPENDED: "异议核实期间暂不执行"}
BATCH = 500


def measure_rows(catalogue: measures.Catalogue, on: dt.date) -> list[dict[str, Any]]:
    """The measures in force on `on`, as the 措施清单 page shows them."""
    return [
        {
            "code": m.code,
            "text": m.text,
            "kind": KIND_NAMES[m.kind],
            "mandatory": "强制性" if m.mandatory else "推荐性",
            "legal_basis": m.legal_basis,
            "departments": "、".join(m.departments),
            "triggers": "；".join(t.describe() for t in m.triggers),
            "legal_rep": m.reaches_legal_representative,
        }
        for m in catalogue.in_force(on)
    ]


def subject_measures(
    session: Session, keys: Iterable[str], on: dt.date, catalogue: measures.Catalogue
) -> dict[str, list[dict[str, Any]]]:
    """For each subject key, the measures that apply on `on`, each with the paths of its
    triggering records' pages."""
    wanted = list(keys)
    people = {int(k[1:]): k for k in wanted if k.startswith("P") and k[1:].isdigit()}
    codes = [k for k in wanted if k not in people.values()]
    ids: dict[int, str] = dict(people)
    for start in range(0, len(codes), BATCH):
        chunk = codes[start : start + BATCH]
        statement = select(models.Subject.id, models.Subject.credit_code).where(
            col(models.Subject.credit_code).in_(chunk)
        )
        ids |= {i: code for i, code in session.exec(statement) if i is not None and code}
    found: dict[str, list[dict[str, Any]]] = {}
    order = list(ids)
    for start in range(0, len(order), BATCH):
        batch = order[start : start + BATCH]
        for subject_id, state in standing.standings(
            session, batch, on=on, catalogue=catalogue
        ).items():
            if state.measures:
                found[ids[subject_id]] = [_applied(a) for a in state.measures]
    return found


def _applied(applied: standing.AppliedMeasure) -> dict[str, Any]:
    m = applied.measure
    return {
        "code": m.code,
        "text": m.text,
        "kind": KIND_NAMES[m.kind],
        "mandatory": "强制性" if m.mandatory else "推荐性",
        "departments": "、".join(m.departments),
        "state": STATE_NAMES[applied.state],
        "triggers": [urls.record_path(ref.kind, ref.id) for ref in applied.triggers],
    }
