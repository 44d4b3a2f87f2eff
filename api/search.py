"""The `search` field: full-text hits from this node's index, shown only while public."""

from __future__ import annotations

import enum
from typing import Any

import strawberry
from strawberry.types.nodes import SelectedField

from api import cursors
from api.errors import ApiError
from api.types import ContextInfo, Department, PageInfo, Record, describe_enum
from disclosure import lifecycle, models, privacy
from disclosure.queries import directory, plain_rows
from search_index import search as index_search


class SearchOrder(enum.Enum):
    RELEVANCE = "relevance"
    DATE = "date"


describe_enum(
    SearchOrder,
    "排序 order of search hits",
    RELEVANCE="相关度 best matches first: exact codes, then names, then texts",
    DATE="日期 newest decision first",
)


@strawberry.type(description='匹配片段 a matching passage, with <b class="match"> marks')
class Highlight:
    field: str = strawberry.field(description="字段 name (相对人名称) or body (决定内容)")
    snippet: str = strawberry.field(description="片段 HTML with the matched words marked")


@strawberry.type(description="检索结果 one hit")
class SearchHit:
    record: Record = strawberry.field(description="记录 the record")
    score: float = strawberry.field(description="相关度 relevance score")
    highlights: list[Highlight] = strawberry.field(description="匹配片段 why it matched")


@strawberry.type(description="检索结果条目 a hit and its cursor")
class SearchEdge:
    cursor: str = strawberry.field(description="游标 pass as `after` to continue behind this")
    node: SearchHit = strawberry.field(description="检索结果 the hit")


@strawberry.type(description="按类型统计 matches of one record kind")
class KindFacet:
    kind: models.RecordKind = strawberry.field(description="记录类型 kind")
    count: int = strawberry.field(description="条数 matches")


@strawberry.type(description="按单位统计 matches supplied by one department")
class DepartmentFacet:
    department: Department = strawberry.field(description="单位 the department")
    count: int = strawberry.field(description="条数 matches")


@strawberry.type(description="检索 hits for a query, with counts by kind and department")
class SearchConnection:
    edges: list[SearchEdge] = strawberry.field(description="检索结果 the hits of this page")
    page_info: PageInfo = strawberry.field(description="分页信息 where this page stands")
    has_next_page: bool = strawberry.field(
        description="后面还有 more hits follow (as pageInfo.hasNextPage)",
        deprecation_reason="use pageInfo.hasNextPage, as in every other list",
    )
    end_cursor: str | None = strawberry.field(
        description="末条游标 pass as `after` (as pageInfo.endCursor)",
        deprecation_reason="use pageInfo.endCursor, as in every other list",
    )
    total_count: int = strawberry.field(
        description=(
            f"总数 all matches, counted up to {index_search.COUNT_LIMIT:,} per kind unless "
            "byDepartment is asked for (complete says whether it is all); counting costs: "
            "ask only when you show it"
        )
    )
    by_kind: list[KindFacet] = strawberry.field(description="按类型 matches by kind")
    by_department: list[DepartmentFacet] = strawberry.field(description="按单位 by department")
    complete: bool = strawberry.field(
        description=(
            "完整 false when the counts are partial: the time budget cut the search short, or "
            f"counting stopped at {index_search.COUNT_LIMIT:,} matches of a kind"
        )
    )


def _selects(selections: list[Any], name: str) -> bool:
    """Whether a field of this name is selected here, directly or through a fragment."""
    for selection in selections:
        if isinstance(selection, SelectedField):
            if selection.name == name:
                return True
        elif _selects(selection.selections, name):
            return True
    return False


def _counts(selections: list[Any]) -> index_search.Counts:
    """What to count: each level costs a pass over more of the matches, so only what the
    query selects (a page of hits alone counts nothing)."""
    if _selects(selections, "byDepartment"):
        return "departments"
    if any(_selects(selections, name) for name in ("totalCount", "byKind", "complete")):
        return "kinds"
    return "none"


def resolve(
    info: ContextInfo,
    query: str,
    kinds: list[models.RecordKind] | None,
    department: str | None,
    order: SearchOrder,
    first: int,
    after: str | None,
) -> SearchConnection:
    """Search this node's index, then show each hit from the database as public today (the
    index may lag a few seconds behind the change log, or a day behind the dates; the
    database never does), leaving out of hits and counts alike what the index holds but is
    no longer public."""
    context = info.context
    if context.searcher is None:
        raise ApiError("search is not available on this node: its index has not been built")
    # an index that follows the change log is not as of the data version alone
    context.volatile = context.searcher.lags
    offset = cursors.search_offset(after)
    # what the index still holds but the database no longer shows: neither a hit nor counted
    hidden = context.searcher.hidden(context.session, context.on)
    try:
        found = context.searcher.search(
            query,
            kinds=kinds,
            department=department,
            order=order.value,
            offset=offset,
            limit=first,
            counts=_counts(info.selected_fields[0].selections),
            on=context.on,
            hidden=hidden,
        )
    except index_search.QueryError as error:
        raise ApiError(str(error)) from error
    records: dict[tuple[models.RecordKind, int], models.Record] = {}
    for kind in {hit.kind for hit in found.hits}:
        ids = [hit.record_id for hit in found.hits if hit.kind is kind]
        for record_id, found_record in plain_rows.records_by_ids(
            context.session, kind, ids
        ).items():
            records[(kind, record_id)] = found_record
    edges = []
    for position, hit in enumerate(found.hits, start=offset + 1):
        record = records.get((hit.kind, hit.record_id))
        if record is None or not lifecycle.is_public(record, context.on):
            continue
        edges.append(
            SearchEdge(
                cursor=cursors.search_cursor(position),
                node=SearchHit(
                    record=privacy.project(record, context.on),  # type: ignore[arg-type]
                    score=hit.score,
                    highlights=[Highlight(field=f, snippet=s) for f, s in hit.highlights.items()],
                ),
            )
        )
    units = directory.departments_by_code(context.session, found.by_department)
    end_cursor = cursors.search_cursor(offset + len(found.hits)) if found.hits else None
    return SearchConnection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=found.more,
            has_previous_page=after is not None,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=end_cursor,
        ),
        has_next_page=found.more,
        end_cursor=end_cursor,
        total_count=found.total,
        by_kind=[KindFacet(kind=kind, count=count) for kind, count in found.by_kind.items()],
        by_department=[
            DepartmentFacet(department=privacy.department(units[code]), count=count)  # type: ignore[arg-type]
            for code, count in sorted(found.by_department.items(), key=lambda item: -item[1])
            if code in units
        ],
        complete=found.complete,
    )
