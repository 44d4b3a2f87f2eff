"""Standing in the API: the measures that apply to a subject today, for one subject or a batch
of bidders, and the measures list (措施清单)."""

from __future__ import annotations

import datetime as dt
import functools
from pathlib import Path
from typing import Annotated, Any

import strawberry
from sqlmodel import Session

from api.context import Context
from api.cursors import global_id
from api.errors import ApiError
from api.types import ContextInfo, describe_enum
from disclosure import (
    list_measures,
    measures,
    measures_file,
    models,
    privacy,
    standing,
    standing_sql,
    urls,
)
from disclosure.settings import Settings

MAX_CODES = 500  # credit codes one `standings` asks about: the bidders of a large tender

describe_enum(
    measures.MeasureKind,
    "措施类别 incentive or punishment",
    INCENTIVE="守信激励 an incentive for trustworthiness",
    PUNISHMENT="失信惩戒 a punishment of untrustworthiness",
)
describe_enum(
    standing.State,
    "状态 whether an applicable measure is carried out today",
    APPLIES="执行 carry it out",
    SUSPENDED="暂不执行 suspended: an objection to every triggering record is being verified",
)


@strawberry.type(description="触发记录 a public record that makes a measure apply")
class TriggerRef:
    global_id: strawberry.ID = strawberry.field(description="全局ID, for node(id:)")
    kind: models.RecordKind = strawberry.field(description="记录类型")
    url: str = strawberry.field(description="公示页面 the record's page on the public site")


@strawberry.type(description="适用措施 a measure that applies to the subject on the day")
class AppliedMeasure:
    code: str = strawberry.field(description="措施编码")
    text: str = strawberry.field(description="措施内容")
    kind: measures.MeasureKind = strawberry.field(description="激励或惩戒")
    mandatory: bool = strawberry.field(description="强制性 (true) or 推荐性")
    legal_basis: str = strawberry.field(description="依据 the law article or memorandum")
    implementing_departments: list[str] = strawberry.field(description="实施部门")
    reaches_legal_representative: bool = strawberry.field(
        description="(九) also applies to the legal representative and responsible persons"
    )
    state: standing.State = strawberry.field(description="状态")
    triggers: list[TriggerRef] = strawberry.field(
        description="触发记录 the public records that trigger it; empty for a clean record"
    )


@strawberry.type(description="联合奖惩 which measures apply to a subject on a day, and why")
class Standing:
    credit_code: str = strawberry.field(description="统一社会信用代码, or a person's key (P…)")
    as_of: dt.date = strawberry.field(description="日期 the day it holds for")
    found: bool = strawberry.field(description="whether anything about the subject is on record")
    measures: list[AppliedMeasure] = strawberry.field(description="适用措施, in the list's order")
    clean_since: dt.date | None = strawberry.field(
        description="无不良记录起始日 the day its last unfavourable public record ended; null "
        "while one is public, or when it never had one"
    )


@strawberry.type(description="措施 one measure of the measures list (措施清单)")
class Measure:
    code: str = strawberry.field(description="措施编码")
    text: str = strawberry.field(description="措施内容")
    kind: measures.MeasureKind = strawberry.field(description="激励或惩戒")
    mandatory: bool = strawberry.field(description="强制性 (true) or 推荐性")
    legal_basis: str = strawberry.field(description="依据")
    implementing_departments: list[str] = strawberry.field(description="实施部门")
    reaches_legal_representative: bool = strawberry.field(description="(九)")
    triggers: list[str] = strawberry.field(description="触发条件 what makes it apply, in words")
    effective_on: dt.date | None = strawberry.field(description="生效日期; null: always")
    until_on: dt.date | None = strawberry.field(description="失效日期; null: open")


@functools.lru_cache(maxsize=4)
def _configured(path: Path | None) -> measures.Catalogue:
    """The measures file, read once per node (a change takes a restart, like every setting)."""
    return measures_file.load(path)


def catalogue(settings: Settings, session: Session) -> measures.Catalogue:
    """The measures list the node applies."""
    return list_measures.catalogue(session, _configured(settings.measures_path))


def _of_request(context: Context) -> measures.Catalogue:
    """The measures list for a query, kept by the node for its data version when it has one."""
    if context.catalogues is None or context.version is None:
        return catalogue(context.settings, context.session)
    configured = _configured(context.settings.measures_path)
    return context.catalogues.catalogue(context.session, configured, context.version)


def _described(m: measures.Measure) -> dict[str, Any]:
    """What `Measure` and `AppliedMeasure` both tell of a measure."""
    return {
        "code": m.code,
        "text": m.text,
        "kind": m.kind,
        "mandatory": m.mandatory,
        "legal_basis": m.legal_basis,
        "implementing_departments": list(m.departments),
        "reaches_legal_representative": m.reaches_legal_representative,
    }


def _applied(found: standing.AppliedMeasure, site: urls.Urls) -> AppliedMeasure:
    return AppliedMeasure(
        **_described(found.measure),
        state=found.state,
        triggers=[
            TriggerRef(
                global_id=strawberry.ID(global_id(ref.kind, ref.id)),
                kind=ref.kind,
                url=site.record(ref.kind, ref.id),
            )
            for ref in found.triggers
        ],
    )


def standings_of(info: ContextInfo, keys: list[str], as_of: dt.date | None) -> list[Standing]:
    """The standing of each subject key, in their order; one not on record applies nothing."""
    if len(keys) > MAX_CODES:
        raise ApiError(f"standings: at most {MAX_CODES} credit codes, not {len(keys)}")
    stripped = [key.strip() for key in keys]
    ids = standing_sql.subject_ids(info.context.session, dict.fromkeys(stripped))
    return _standings(info, stripped, ids, as_of)


def of_subject(root: privacy.SubjectPublic, info: ContextInfo, as_of: dt.date | None) -> Standing:
    """The standing of one subject the API shows, by the id its lookup found when it did."""
    subject_id = info.context.subject_ids.get(root.key)
    if subject_id is None:
        return standings_of(info, [root.key], as_of)[0]
    return _standings(info, [root.key], {root.key: subject_id}, as_of)[0]


def _standings(
    info: ContextInfo, keys: list[str], ids: dict[str, int], as_of: dt.date | None
) -> list[Standing]:
    context = info.context
    on = as_of or context.on
    if on > context.on:
        raise ApiError(f"asOf {on} is after today ({context.on})")
    context.volatile = context.volatile or as_of is not None
    session = context.session
    found = standing.standings(session, list(ids.values()), on=on, catalogue=_of_request(context))
    site = context.settings.urls
    result = []
    for key in keys:
        subject_id = ids.get(key)
        state = found.get(subject_id) if subject_id is not None else None
        result.append(
            Standing(
                credit_code=key,
                as_of=on,
                found=state is not None,
                measures=[_applied(a, site) for a in state.measures] if state else [],
                clean_since=state.clean_since if state else None,
            )
        )
    return result


def measures_list(info: ContextInfo) -> list[Measure]:
    """The measures list in force today."""
    context = info.context
    return [
        Measure(
            **_described(m),
            triggers=[t.describe() for t in m.triggers],
            effective_on=None if m.effective_on == dt.date.min else m.effective_on,
            until_on=m.until_on,
        )
        for m in _of_request(context).in_force(context.on)
    ]


AsOf = Annotated[
    dt.date | None, strawberry.argument(description="日期 the day to ask about; default today")
]
