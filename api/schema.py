"""The API: read fields over the queries module, with the limits of `api.limits`, and the
mutations of `api.mutations`."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import strawberry
from graphql import GraphQLError
from strawberry.extensions import (
    AddValidationRules,
    MaxTokensLimiter,
    ParserCache,
)
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext, ExecutionResult
from strawberry.types.graphql import OperationType

from api import changes, execution, expansion, feedback, mutations, stats
from api import match as screening
from api import search as full_text
from api import standing as standing_api
from api.cost import CostLimit
from api.cursors import Cursor, parse_global_id
from api.errors import CodedErrors, coded, should_mask
from api.limits import Limits, page_size
from api.nul import NulText
from api.types import (
    ChangePage,
    Connection,
    ContextInfo,
    DepartmentCount,
    Edge,
    License,
    LicenseFilter,
    ListCount,
    ListEntry,
    ListEntryFilter,
    PageInfo,
    Penalty,
    PenaltyFilter,
    Record,
    RecordFilter,
    Stats,
    Subject,
    public,
)
from disclosure import models, privacy
from disclosure.queries import figures, record_pages

R = TypeVar("R", models.License, models.Penalty, models.ListEntry)
QUERIES_ONLY = frozenset({OperationType.QUERY})
QUERIES_AND_MUTATIONS = frozenset({OperationType.QUERY, OperationType.MUTATION})


def _where(filters: RecordFilter | None) -> record_pages.RecordFilter:
    if filters is None:
        return record_pages.RecordFilter()
    return record_pages.RecordFilter(
        source_unit=filters.department,
        authority=filters.authority,
        subject_category=filters.subject_category,
        category=getattr(filters, "category", None),
        severity=getattr(filters, "severity", None),
        decided_from=filters.decided_from,
        decided_to=filters.decided_to,
        list_code=getattr(filters, "list", None),
        list_kind=getattr(filters, "list_kind", None),
        under_objection=filters.under_objection,
    )


def _connection(
    info: ContextInfo,
    model: type[R],
    field: str,
    first: int,
    after: str | None,
    filters: RecordFilter | None,
) -> Connection[Any]:
    context = info.context
    size = page_size(first, field)
    position = None
    if after is not None:
        cursor = Cursor.decode(after)
        position = (cursor.decision_on, cursor.record_id)
    where = _where(filters)
    page = record_pages.list_records(
        context.session,
        model,
        on=context.on,
        where=where,
        first=size,
        after=position,
        since=context.since(model),
    )
    edges = [
        Edge(
            cursor=Cursor(*page.position(row)).encode(),
            node=public(row, context.on),
        )
        for row in page.records
    ]
    return Connection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=page.has_next,
            has_previous_page=after is not None,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
        count=lambda: record_pages.count_records(
            context.session, model, on=context.on, where=where
        ),
    )


FIRST = "条数 how many (at most 100; default 20)"
FILTER = "筛选 only records passing every filter given"
AFTER = "游标 continue behind this cursor (endCursor of the previous page)"


@strawberry.type(
    description="查询 public credit information as of today (Asia/Shanghai), for everyone"
)
class Query:
    @strawberry.field(
        description="一站式查询 one subject and all its public records, by credit code"
    )
    async def subject(
        self,
        info: ContextInfo,
        credit_code: Annotated[
            str,
            strawberry.argument(
                description="统一社会信用代码, or the key of a person's subject (P…)"
            ),
        ],
    ) -> Subject | None:
        context = info.context
        found = record_pages.subject_by_key(context.session, credit_code.strip())
        if found is None:
            return None
        public = privacy.subject(found)
        context.subject_ids[public.key] = found.id  # for its standing, if asked
        # a subject whose records all ended is no longer shown anywhere ("stop sharing")
        if not any(await context.subjects.load(public.key)):
            return None
        return public  # type: ignore[return-value]

    @strawberry.field(description="行政许可 public licenses, newest decision first")
    def licenses(
        self,
        info: ContextInfo,
        first: Annotated[int, strawberry.argument(description=FIRST)] = 20,
        after: Annotated[str | None, strawberry.argument(description=AFTER)] = None,
        filter: Annotated[LicenseFilter | None, strawberry.argument(description=FILTER)] = None,
    ) -> Connection[License]:
        return _connection(info, models.License, "licenses", first, after, filter)

    @strawberry.field(description="行政处罚 public penalties, newest decision first")
    def penalties(
        self,
        info: ContextInfo,
        first: Annotated[int, strawberry.argument(description=FIRST)] = 20,
        after: Annotated[str | None, strawberry.argument(description=AFTER)] = None,
        filter: Annotated[PenaltyFilter | None, strawberry.argument(description=FILTER)] = None,
    ) -> Connection[Penalty]:
        return _connection(info, models.Penalty, "penalties", first, after, filter)

    @strawberry.field(description="名单条目 public list entries, newest decision first")
    def list_entries(
        self,
        info: ContextInfo,
        first: Annotated[int, strawberry.argument(description=FIRST)] = 20,
        after: Annotated[str | None, strawberry.argument(description=AFTER)] = None,
        filter: Annotated[ListEntryFilter | None, strawberry.argument(description=FILTER)] = None,
    ) -> Connection[ListEntry]:
        return _connection(info, models.ListEntry, "listEntries", first, after, filter)

    @strawberry.field(
        description="全文检索 names, credit codes, document numbers and words of the decisions"
    )
    def search(
        self,
        info: ContextInfo,
        query: Annotated[str, strawberry.argument(description="检索词 what to look for")],
        kinds: Annotated[
            list[models.RecordKind] | None,
            strawberry.argument(description="记录类型 only these kinds"),
        ] = None,
        department: Annotated[
            str | None, strawberry.argument(description="单位 a department's credit code")
        ] = None,
        order: Annotated[
            full_text.SearchOrder, strawberry.argument(description="排序 relevance or date")
        ] = full_text.SearchOrder.RELEVANCE,
        first: Annotated[int, strawberry.argument(description=FIRST)] = 20,
        after: Annotated[str | None, strawberry.argument(description=AFTER)] = None,
    ) -> full_text.SearchConnection:
        return full_text.resolve(
            info, query, kinds, department, order, page_size(first, "search"), after
        )

    @strawberry.field(description="按ID查询 a public record by its global ID")
    def node(
        self,
        info: ContextInfo,
        id: Annotated[strawberry.ID, strawberry.argument(description="globalId")],
    ) -> Record | None:
        kind, record_id = parse_global_id(id)
        record = record_pages.public_record(info.context.session, kind, record_id, info.context.on)
        return None if record is None else privacy.project(record, info.context.on)  # type: ignore[return-value]

    @strawberry.field(description="名单 every named list with its count of public entries")
    def lists(self, info: ContextInfo) -> list[ListCount]:
        return [
            ListCount(
                list=privacy.ListPublic(  # type: ignore[arg-type]
                    code=found.list.code, kind=found.list.kind, name=found.list.name
                ),
                active=found.active,
            )
            for found in figures.lists(info.context.session, info.context.on)
        ]

    @strawberry.field(description="单位 every department with its public record counts")
    def departments(self, info: ContextInfo) -> list[DepartmentCount]:
        return stats.department_counts(info.context)

    @strawberry.field(description="统计 counts, on-time publication rates, objections")
    def stats(self, info: ContextInfo) -> Stats:
        return stats.stats(info.context)

    @strawberry.field(
        description="联合奖惩 the standing of up to 500 subjects at once (the bidders of a "
        "tender), in the order of their codes"
    )
    def standings(
        self,
        info: ContextInfo,
        credit_codes: Annotated[
            list[str], strawberry.argument(description="统一社会信用代码 or a person's key (P…)")
        ],
        as_of: standing_api.AsOf = None,
    ) -> list[standing_api.Standing]:
        return standing_api.standings_of(info, credit_codes, as_of)

    @strawberry.field(
        description="名单筛查 screen up to 100 names (a customer or supplier list) against the "
        "public subjects: for each, in their order, the subjects it may be, scored"
    )
    def match(
        self,
        info: ContextInfo,
        candidates: screening.Candidates,
        threshold: screening.Threshold = screening.DEFAULT_THRESHOLD,
    ) -> list[screening.MatchResult]:
        return screening.match(info, candidates, threshold)

    @strawberry.field(description="措施清单 every joint incentive and punishment in force")
    def measures(self, info: ContextInfo) -> list[standing_api.Measure]:
        return standing_api.measures_list(info)

    @strawberry.field(
        description="待撤销 (implementing department) reports of measures to be undone: their "
        "triggering record was withdrawn, repaired or found wrong"
    )
    def pending_reversals(self, info: ContextInfo) -> feedback.PendingReversalsResult:
        return feedback.pending(info)

    @strawberry.field(
        description="变更流 the change log, oldest first: replay it to keep an exact copy"
    )
    def changes(
        self,
        info: ContextInfo,
        after: Annotated[
            str | None,
            strawberry.argument(description="游标 endCursor of your last page; omit to start"),
        ] = None,
        first: Annotated[
            int, strawberry.argument(description="条数 how many events (at most 1000; default 100)")
        ] = 100,
    ) -> ChangePage:
        return changes.page(info.context, after, page_size(first, "changes"))


class Schema(strawberry.Schema):
    """The schema, logging errors without the request: a document quoted in a log would carry
    the values of a mutation's rows (identity numbers among them)."""

    async def execute(self, *args: Any, **kwargs: Any) -> ExecutionResult:
        result = await super().execute(*args, **kwargs)
        if result.errors:
            # an error raised while parsing skips the operation's extensions (CodedErrors too)
            result.errors = [coded(error, parsed=False) for error in result.errors]
        return result

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        for error in errors:
            original = error.original_error
            where = ".".join(map(str, error.path or ())) or "-"
            if not should_mask(error):
                # the caller's own mistake, answered as such: no server error, no traceback,
                # and its message (which may quote what was sent) scrubbed
                _log.info("refused at %s: %s", where, privacy.scrub(error.message))
                continue
            # the traceback as text, scrubbed: an exception's message may quote a value
            trace = "".join(traceback.format_exception(original)) if original else ""
            _log.error("%s at %s\n%s", type(original).__name__, where, privacy.scrub(trace))


_log = logging.getLogger("gongshi.graphql")


def build(limits: Limits | None = None) -> strawberry.Schema:
    """The schema with the limits, caches and error masking of a public API node."""
    limits = limits or Limits()
    rules = limits.validation_rules()  # built once: see the module docstring of api.limits
    extensions: list[Callable[[], Any] | type[Any]] = [
        lambda: MaxTokensLimiter(limits.max_tokens),
        lambda: ParserCache(maxsize=1024),
        lambda: AddValidationRules(rules),
        # before validation, whose rules take exponential time on some documents
        lambda: expansion.ExpansionLimit(limits.max_fields, limits.max_introspection_depth),
        lambda: expansion.CheckedValidationCache(maxsize=1024),
        NulText,
        CostLimit,
        CodedErrors,
    ]
    return Schema(
        query=Query,
        mutation=mutations.Mutation,
        extensions=extensions,
        config=StrawberryConfig(disable_field_suggestions=True),
        execution_context_class=None if limits.standard_executor else execution.ExecutionContext,
    )
