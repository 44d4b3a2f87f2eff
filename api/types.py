"""GraphQL types: each record type is the privacy module's public shape, field for field.

Resolvers return the public shapes themselves (strawberry's pydantic types accept them), so no
field of a table row can reach a response unless `disclosure.privacy` put it in the shape.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any, Generic, TypeVar

import strawberry
from strawberry.types import Info

from api import execution
from api.context import Context
from api.cursors import global_id
from api.limits import MAX_PAGE, page_size
from disclosure import models, privacy, tombstones
from disclosure.queries import record_pages

if TYPE_CHECKING:
    from api.feedback import FeedbackRow
    from api.standing import Standing


def describe_enum(kind: type[enum.Enum], description: str, **values: str) -> None:
    """Make `kind` a GraphQL enum with its own and each of its values' 中文 English words."""
    if set(values) != set(kind.__members__):  # agencies must be told what each code means
        raise ValueError(f"{kind.__name__}: describe exactly {', '.join(kind.__members__)}")
    strawberry.enum(kind, description=description)
    for value in kind.__strawberry_definition__.values:  # type: ignore[attr-defined]
        value.description = values[value.name]


describe_enum(
    models.SubjectCategory,
    "行政相对人类别 subject category",
    LEGAL_PERSON="法人及非法人组织 a legal person or other organisation, by credit code",
    INDIVIDUAL_BUSINESS="个体工商户 an individual business, by credit code",
    NATURAL_PERSON="自然人 a natural person: no credit code, the ID number masked",
)
describe_enum(
    models.Severity,
    "失信程度 severity of a penalty: it sets the publicity period",
    MINOR="轻微 minor: published only if the authority sets an end, at most 3 months",
    GENERAL="一般 general: published 3 months to 1 year from the decision",
    SERIOUS="严重 serious: published 1 to 3 years from the decision",
)
describe_enum(
    models.LicenseCategory,
    "许可类别 license category (XK_XKLB)",
    ORDINARY="普通 ordinary license",
    FRANCHISE="特许 franchise: the right to use a limited public resource",
    RECOGNITION="认可 recognition of a qualification",
    APPROVAL="核准 approval of equipment, products or goods against a standard",
    REGISTRATION="登记 registration establishing a subject's status",
    OTHER="其他 other",
)
describe_enum(
    models.ListKind,
    "名单类型 kind of named list",
    RED="红名单 red list: exemplary trustworthy subjects (诚信典型), incentives apply",
    BLACK="黑名单 black list: seriously untrustworthy subjects, punishments apply",
    WATCH="重点关注名单 watch list: subjects under closer supervision",
)
describe_enum(
    models.RecordKind,
    "记录类型 kind of public record",
    LICENSE="行政许可 a licensing decision",
    PENALTY="行政处罚 a penalty decision",
    LIST_ENTRY="名单条目 an entry on a named list",
)
describe_enum(
    models.EventType,
    "变更类型 what happened to a record",
    PUBLISHED="公示 first published: add it to your copy",
    CORRECTED="更正 corrected: replace your copy with the record",
    WITHDRAWN="撤回 withdrawn (decision changed, revoked or annulled): delete your copy",
    EXPIRED="到期 its publicity period ended: delete your copy",
    EXITED="移出 the entry left its list: delete your copy",
    OBJECTION_OPENED="异议处理中 an objection is under verification: annotate the record",
    OBJECTION_CLOSED="异议办结 the objection was resolved: the annotation is removed",
    REPAIRED="信用修复 credit repaired: publication ends, delete your copy",
)

ContextInfo = Info[Context, None]


def _url_of(root: privacy.RecordPublic, context: Context) -> str:
    return context.settings.urls.record(root.kind, root.id)


def _global_id_of(root: privacy.RecordPublic, _context: Context) -> strawberry.ID:
    return strawberry.ID(global_id(root.kind, root.id))


# The two fields every record type adds to its public shape.
def _url_field() -> Any:
    return execution.direct(_url_of, description="公示页面 the record's page on the public site")


def _global_id_field() -> Any:
    return execution.direct(_global_id_of, description="全局ID global ID, for node(id:)")


@strawberry.experimental.pydantic.type(
    model=privacy.DepartmentPublic, all_fields=True, description="单位 a government department"
)
class Department:
    pass


@strawberry.experimental.pydantic.type(
    model=privacy.ListPublic, all_fields=True, description="名单 a named list"
)
class List:
    pass


@strawberry.experimental.pydantic.type(
    model=tombstones.Tombstone,
    all_fields=True,
    description="停止公示 what remains of a record no longer public: delete your copy",
)
class Tombstone:
    pass


def public(row: record_pages.RecordRow, on: dt.date) -> privacy.RecordPublic:
    """The public shape of a record read with its parties."""
    parts = privacy.parties_of(row.subject, row.authority, row.source_unit, row.named_list)
    return privacy.project(row.record, on, parts)


def _records_of(index: int, model_name: str) -> Callable[..., Any]:
    async def resolve(
        root: privacy.SubjectPublic,
        info: ContextInfo,
        first: Annotated[
            int, strawberry.argument(description=f"条数 how many (at most {MAX_PAGE}, the default)")
        ] = MAX_PAGE,
    ) -> Any:
        page_size(first, model_name)
        rows = (await info.context.subjects.load(root.key))[index]
        return [public(row, info.context.on) for row in rows[:first]]

    return resolve


def _subject_url(root: privacy.SubjectPublic, context: Context) -> str:
    return context.settings.urls.subject(root.key)


@strawberry.experimental.pydantic.type(
    model=privacy.SubjectPublic,
    all_fields=True,
    description="信用主体 the organisation or person records are about",
)
class Subject:
    licenses: list[Annotated[License, strawberry.lazy("api.types")]] = strawberry.field(
        resolver=_records_of(0, "licenses"),
        description="行政许可 the subject's public licenses, newest first",
    )
    penalties: list[Annotated[Penalty, strawberry.lazy("api.types")]] = strawberry.field(
        resolver=_records_of(1, "penalties"),
        description="行政处罚 the subject's public penalties, newest first",
    )
    list_entries: list[Annotated[ListEntry, strawberry.lazy("api.types")]] = strawberry.field(
        resolver=_records_of(2, "listEntries"),
        description="名单条目 the subject's public list entries, newest first",
    )

    url: str = execution.direct(
        _subject_url, description="主体页面 the subject's page on the public site"
    )

    @strawberry.field(description="联合奖惩 the measures that apply to the subject, and why")
    def standing(
        root: privacy.SubjectPublic,
        info: ContextInfo,
        as_of: Annotated[
            dt.date | None, strawberry.argument(description="日期 default today")
        ] = None,
    ) -> Annotated[Standing, strawberry.lazy("api.standing")]:
        from api import standing  # here: api.standing builds on these types

        return standing.of_subject(root, info, as_of)


@strawberry.experimental.pydantic.type(
    model=privacy.LicensePublic, all_fields=True, description="行政许可 a licensing decision"
)
class License:
    url: str = _url_field()
    global_id: strawberry.ID = _global_id_field()


@strawberry.experimental.pydantic.type(
    model=privacy.PenaltyPublic, all_fields=True, description="行政处罚 a penalty decision"
)
class Penalty:
    url: str = _url_field()
    global_id: strawberry.ID = _global_id_field()


@strawberry.experimental.pydantic.type(
    model=privacy.ListEntryPublic, all_fields=True, description="名单条目 an entry on a named list"
)
class ListEntry:
    url: str = _url_field()
    global_id: strawberry.ID = _global_id_field()


Record = Annotated[
    License | Penalty | ListEntry,
    strawberry.union("Record", description="记录 any public record"),
]

N = TypeVar("N")


@strawberry.type(description="分页信息 where a page stands")
class PageInfo:
    has_next_page: bool = strawberry.field(description="后面还有 more records follow")
    has_previous_page: bool = strawberry.field(description="前面还有 this page follows a cursor")
    start_cursor: str | None = strawberry.field(description="首条游标 cursor of the first edge")
    end_cursor: str | None = strawberry.field(
        description="末条游标 cursor of the last edge: pass as `after` for the next page"
    )


@strawberry.type(description="记录条目 a record of the page and its cursor")
class Edge(Generic[N]):
    cursor: str = strawberry.field(description="游标 pass as `after` to continue behind this")
    node: N = strawberry.field(description="记录 the record")


@strawberry.type(description="记录列表 a page of records, where it stands and how many pass")
class Connection(Generic[N]):
    edges: list[Edge[N]] = strawberry.field(description="记录 the records of this page")
    page_info: PageInfo = strawberry.field(description="分页信息 where this page stands")
    count: strawberry.Private[Callable[[], int]]

    @strawberry.field(description="总数 how many records pass the filters (costs a count)")
    def total_count(self) -> int:
        return self.count()


@strawberry.input(description="筛选 filters of every record list; omitted means any")
class RecordFilter:
    department: str | None = strawberry.field(
        default=None, description="数据来源单位 credit code of the supplying department"
    )
    authority: str | None = strawberry.field(
        default=None, description="决定机关 credit code of the issuing authority"
    )
    subject_category: models.SubjectCategory | None = strawberry.field(
        default=None, description="行政相对人类别 subject category"
    )
    decided_from: dt.date | None = strawberry.field(
        default=None, description="决定日期起 decided on or after"
    )
    decided_to: dt.date | None = strawberry.field(
        default=None, description="决定日期止 decided on or before"
    )
    under_objection: bool | None = strawberry.field(
        default=None, description="异议处理中 only records under (or not under) objection"
    )


@strawberry.input(description="行政许可筛选 filters of the license list")
class LicenseFilter(RecordFilter):
    category: models.LicenseCategory | None = strawberry.field(
        default=None, description="许可类别 license category"
    )


@strawberry.input(description="行政处罚筛选 filters of the penalty list")
class PenaltyFilter(RecordFilter):
    category: str | None = strawberry.field(
        default=None, description="处罚类别 one Art. 9 label, e.g. 罚款"
    )
    severity: models.Severity | None = strawberry.field(
        default=None, description="失信程度 severity"
    )


@strawberry.input(description="名单条目筛选 filters of the list entry list")
class ListEntryFilter(RecordFilter):
    list: str | None = strawberry.field(default=None, description="名单代码 code of the list")
    list_kind: models.ListKind | None = strawberry.field(
        default=None, description="名单类型 red, black or watch"
    )


@strawberry.type(description="单位统计 a department and its public records")
class DepartmentCount:
    department: Department = strawberry.field(description="单位 the department")
    licenses: int = strawberry.field(description="公示中的行政许可数 public licenses")
    penalties: int = strawberry.field(description="公示中的行政处罚数 public penalties")
    list_entries: int = strawberry.field(description="公示中的名单条目数 public list entries")


@strawberry.type(description="名单统计 a named list and its public entries")
class ListCount:
    list: List = strawberry.field(description="名单 the list")
    active: int = strawberry.field(description="公示中的条目数 public entries")


@strawberry.type(description="类型统计 public records of one kind")
class KindCount:
    kind: models.RecordKind = strawberry.field(description="记录类型 record kind")
    public: int = strawberry.field(description="公示中 public today")
    under_objection: int = strawberry.field(description="异议处理中 under objection")


@strawberry.type(description="按时公示率 publication within 7 working days of the decision")
class OnTime:
    department: Department | None = strawberry.field(description="单位 null for all together")
    published: int = strawberry.field(description="已公示 records published so far")
    on_time: int = strawberry.field(description="按时公示 published within 7 working days")
    rate: float | None = strawberry.field(description="按时公示率 on_time / published")


@strawberry.type(description="超期 deadlines missed, as of the day of the figures")
class Deadlines:
    objections: int = strawberry.field(
        description="异议超期 objections open past their due day (7 working days)"
    )
    repairs: int = strawberry.field(
        description="修复超期 repair applications undecided past their due day (3 working days)"
    )
    late_withdrawals: int = strawberry.field(
        description="撤回超时 withdrawals made more than 3 working days after the decision changed"
    )


@strawberry.type(description="统计 figures for the supervising bureau")
class Stats:
    as_of: dt.date = strawberry.field(description="统计日期 the day the figures hold for")
    kinds: list[KindCount] = strawberry.field(description="按类型 per record kind")
    departments: list[DepartmentCount] = strawberry.field(
        description="按单位 per department (as data source)"
    )
    on_time: list[OnTime] = strawberry.field(
        description="按时公示率 overall first, then per department (as data source)"
    )
    overdue: Deadlines = strawberry.field(description="超期 deadlines missed")

    @strawberry.field(description="触发反馈 the month's measures triggered, applied, undone")
    def feedback(
        self, info: ContextInfo, month: Annotated[str, strawberry.argument(description="YYYY-MM")]
    ) -> list[Annotated[FeedbackRow, strawberry.lazy("api.feedback")]]:
        from api import feedback  # here: api.feedback builds on these types

        return feedback.month_rows(info, month)


@strawberry.type(description="变更 one event of the change stream")
class Change:
    cursor: str = strawberry.field(description="游标 pass as `after` to read behind this event")
    type: models.EventType = strawberry.field(description="变更类型 what happened")
    kind: models.RecordKind = strawberry.field(description="记录类型 the record's kind")
    record_id: int = strawberry.field(description="记录编号 the record's id within its kind")
    effective_on: dt.date = strawberry.field(description="生效日期 the day it took effect")
    occurred_at: dt.datetime = strawberry.field(description="记录时间 when it was recorded")
    record: Record | None = strawberry.field(
        description="记录 the record as public today; null once it is no longer public"
    )
    tombstone: Tombstone | None = strawberry.field(
        description="停止公示 set when the record is no longer public: delete your copy"
    )


@strawberry.type(description="变更页 a page of the change stream, oldest first")
class ChangePage:
    changes: list[Change] = strawberry.field(description="变更 the events, oldest first")
    end_cursor: str | None = strawberry.field(
        description="游标 pass as `after` next time (null: nothing read, keep your cursor)"
    )
    has_more: bool = strawberry.field(description="更多 more events follow right away")
