"""What one request may ask of the API: depth, aliases, tokens, page sizes, cost and time.

Validation rules are built once per schema, never per request: strawberry's validation cache
keys on the rule classes, so a rule class made afresh for each request would never hit it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from typing import Any

from graphql import (
    BREAK,
    DocumentNode,
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    IntValueNode,
    ListValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    StringValueNode,
    VariableNode,
    Visitor,
    visit,
)
from graphql.validation import ASTValidationRule, NoSchemaIntrospectionCustomRule
from strawberry.extensions import SchemaExtension
from strawberry.extensions.max_aliases import create_validator as alias_validator
from strawberry.extensions.query_depth_limiter import create_validator as depth_validator
from strawberry.types.execution import ExecutionResult as StrawberryResult

from api import ratelimit
from disclosure import privacy

MAX_PAGE = 100  # records per page of every record list
MAX_CHANGES = 1000  # events per page of the change stream: agencies catching up read many
DEFAULT_PAGE = 20


# The stable `extensions.code` of every GraphQL error (Apollo's names where it has one).
PARSE_FAILED = "GRAPHQL_PARSE_FAILED"
VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"
BAD_USER_INPUT = "BAD_USER_INPUT"
COST_EXCEEDED = "COST_LIMIT_EXCEEDED"
INTERNAL = "INTERNAL_SERVER_ERROR"
MASKED = "Unexpected error."  # all an unexpected error shows; the log keeps its traceback


class ApiError(Exception):
    """An error the caller made and can fix; its message is shown as it is."""

    code = BAD_USER_INPUT


class TimeBudgetExceeded(ApiError):
    """The request ran out of its time budget in the database."""

    code = "TIME_BUDGET_EXCEEDED"


@dataclasses.dataclass(frozen=True)
class Limits:
    """The limits of one API node; the defaults fit every documented query with room to spare."""

    max_depth: int = 10
    max_aliases: int = 15
    max_tokens: int = 2000
    # fields once fragments are expanded (api.expansion): the standard introspection query is
    # ~470, a page with every field of a record and its subject's lists ~300
    max_fields: int = 5000
    max_introspection_depth: int = 16  # the standard introspection query nests 15
    max_cost: int = 2000  # records a query may return at most, counted before it runs
    max_body_bytes: int = 64 * 1024
    time_budget_seconds: float = 5.0
    introspection: bool = True  # this is a public, documented API: GraphiQL and introspection on
    graphiql: bool = True
    max_in_flight: int | None = None  # requests served at once; more get a fast 503
    # threads running queries; 0: queries run on the event loop (mutations always in a thread,
    # as they may wait for the database's write lock). Python runs one thread at a time, and
    # handing a query to a thread and back costs more than it frees: a page of 20 penalties at
    # 8 connections, alternated, on the event loop 386-430 req/s, in 1 thread 352-384 (and 2 or
    # 4 threads less again). A node whose clients mix slow searches with lookups may want 2, so
    # a search holds up only one lookup at a time, not all of them.
    query_threads: int = 0
    rate_bucket: int = 10_000  # cost units a client may spend at once (api.ratelimit)
    rate_leak: float = 1_000.0  # cost units a second a client's budget refills by
    # cost units a second of a query's work costs (api.ratelimit): twice the refill, so a client
    # keeping the node busy more than half the time runs dry within bucket / (work - leak)
    # seconds (10 s at the defaults), while a sequential client waiting for each answer spends
    # at most a few hundred units a second of its own time (a full sync of the change stream)
    rate_work: float = 2_000.0
    rate_clients: int = 100_000  # clients remembered at most
    trusted_proxies: tuple[str, ...] = ()  # addresses whose X-Forwarded-For is believed
    cache_entries: int = 4096
    cache_bytes: int = 64 * 1024 * 1024

    def validation_rules(self) -> list[type[ASTValidationRule]]:
        """The extra validation rules, as classes built once."""
        rules: list[type[ASTValidationRule]] = [
            depth_validator(self.max_depth, None),
            alias_validator(self.max_aliases),
        ]
        if not self.introspection:
            rules.append(NoSchemaIntrospectionCustomRule)
        return rules


# Fields returning many records, the argument bounding how many, its default and its cap.
PAGED_FIELDS: dict[str, tuple[int, int]] = {
    "licenses": (DEFAULT_PAGE, MAX_PAGE),
    "penalties": (DEFAULT_PAGE, MAX_PAGE),
    "listEntries": (DEFAULT_PAGE, MAX_PAGE),
    "changes": (100, MAX_CHANGES),
    "search": (DEFAULT_PAGE, MAX_PAGE),
}

SUBJECT_LISTS = frozenset({"licenses", "penalties", "listEntries"})  # the lists of a Subject

# root lists a client is charged for by the time they take, not their page size: a page of the
# change stream is one indexed range read, and a sync reads 500 events a page back to back
TIMED_FIELDS = frozenset({"changes"})


def page_size(first: int, field: str) -> int:
    """`first` checked against the cap of `field` (raises ApiError outside 0 … cap)."""
    _, cap = PAGED_FIELDS[field]
    if not 0 <= first <= cap:
        raise ApiError(f"{field}: first must be between 0 and {cap}, not {first}")
    return first


def cost(
    document: Any,
    variables: Mapping[str, Any] | None,
    operation_name: str | None,
    *,
    charged: bool = False,
) -> int:
    """How many records the operation may return at most: each list field counts its page size
    times the page sizes of the lists around it (GitHub's node limit); other fields are free.
    `charged`: what its client is charged up front, the TIMED_FIELDS counting a page of one."""
    fragments = {
        definition.name.value: definition
        for definition in document.definitions
        if isinstance(definition, FragmentDefinitionNode)
    }
    operations = [
        definition
        for definition in document.definitions
        if isinstance(definition, OperationDefinitionNode)
        and (
            operation_name is None or (definition.name and definition.name.value == operation_name)
        )
    ]
    if not operations:
        return 0
    return _selection_cost(
        operations[0].selection_set,
        1,
        fragments,
        variables or {},
        nested=False,
        charged=charged,
    )


def _selection_cost(
    selections: SelectionSetNode | None,
    multiplier: int,
    fragments: Mapping[str, FragmentDefinitionNode],
    variables: Mapping[str, Any],
    *,
    nested: bool,
    charged: bool = False,
) -> int:
    total = 0
    for node in _fields(selections, fragments, frozenset()):
        name = node.name.value
        size = 1
        if name in (SUBJECT_LISTS if nested else PAGED_FIELDS):
            # the root lists default to a short page, a subject's lists to all (at most 100)
            default = MAX_PAGE if nested else PAGED_FIELDS[name][0]
            first = _first(node, variables)
            size = page_size(default if first is None else first, name)
            if charged and not nested and name in TIMED_FIELDS:
                size = 1
            total += multiplier * size
        elif name == BATCH_FIELD and not nested:
            size = _list_length(node, "creditCodes", variables)
            total += size
        if node.selection_set is not None and not name.startswith("__"):
            total += _selection_cost(
                node.selection_set,
                multiplier * size,
                fragments,
                variables,
                nested=True,
                charged=charged,
            )
    return total


def _fields(
    selections: SelectionSetNode | None,
    fragments: Mapping[str, FragmentDefinitionNode],
    seen: frozenset[str],
) -> Iterator[FieldNode]:
    """The fields of a selection set, through fragments (validation has ruled out cycles)."""
    if selections is None:
        return
    for selection in selections.selections:
        if isinstance(selection, FieldNode):
            yield selection
        elif isinstance(selection, InlineFragmentNode):
            yield from _fields(selection.selection_set, fragments, seen)
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            if name in fragments and name not in seen:
                yield from _fields(fragments[name].selection_set, fragments, seen | {name})


BATCH_FIELD = "standings"  # charged one record per credit code asked about


def _list_length(node: FieldNode, argument_name: str, variables: Mapping[str, Any]) -> int:
    for argument in node.arguments or ():
        if argument.name.value != argument_name:
            continue
        value = argument.value
        if isinstance(value, ListValueNode):
            return len(value.values)
        if isinstance(value, VariableNode):
            found = variables.get(value.name.value)
            return len(found) if isinstance(found, list) else 1
    return 1


def _first(node: FieldNode, variables: Mapping[str, Any]) -> int | None:
    for argument in node.arguments or ():
        if argument.name.value != "first":
            continue
        value = argument.value
        if isinstance(value, IntValueNode):
            return int(value.value)
        if isinstance(value, VariableNode):
            found = variables.get(value.name.value)
            return found if isinstance(found, int) else None
    return None


class CostLimit(SchemaExtension):
    """Refuses an operation whose cost is over the budget, or over what its client may spend
    now, before it touches the database; notes the cost for the access log."""

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        limits: Limits = context.context.limits
        try:
            spent = cost(context.graphql_document, context.variables, context.operation_name)
        except ApiError as error:
            refused = GraphQLError(str(error), extensions={"code": error.code})
            context.result = ExecutionResult(data=None, errors=[refused])
            yield
            return
        context.context.cost = spent
        if spent > limits.max_cost:
            message = (
                f"query cost {spent} exceeds the budget of {limits.max_cost} records: "
                "ask for smaller pages (first) or fewer nested lists"
            )
            refused = GraphQLError(message, extensions={"code": COST_EXCEEDED})
            context.result = ExecutionResult(data=None, errors=[refused])
        elif context.context.meter is not None and not context.context.meter.charge(
            cost(
                context.graphql_document,
                context.variables,
                context.operation_name,
                charged=True,
            )
        ):
            limit = ratelimit.error(context.context.meter.refused)
            limited = GraphQLError(limit["message"], extensions=limit["extensions"])
            context.result = ExecutionResult(data=None, errors=[limited])
        yield


NUL_TEXT = "文本不能含有NUL字符 / text may not hold NUL (\\u0000) characters"


class NulText(SchemaExtension):
    """Refuses an operation with a NUL character in any text it sends (PostgreSQL cannot hold
    one, and no document number, name or reason has one), before it touches the database."""

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        document, text = context.graphql_document, context.query or ""
        # a literal holds NUL only where the text has one or writes it as an escape (\u…)
        literal = "\\u" in text or "\x00" in text
        if _holds_nul(context.variables) or (
            literal and document is not None and _literal_nul(document)
        ):
            refused = GraphQLError(NUL_TEXT, extensions={"code": BAD_USER_INPUT})
            context.result = ExecutionResult(data=None, errors=[refused])
        yield


def _holds_nul(value: object) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, Mapping):
        return any(_holds_nul(item) for item in value.values())
    if isinstance(value, list):
        return any(_holds_nul(item) for item in value)
    return False


class _NulFinder(Visitor):
    found = False

    def enter_string_value(self, node: StringValueNode, *_: Any) -> Any:
        if "\x00" in node.value:
            self.found = True
            return BREAK
        return None


def _literal_nul(document: DocumentNode) -> bool:
    finder = _NulFinder()
    visit(document, finder)
    return finder.found


class CodedErrors(SchemaExtension):
    """Masks unexpected errors as "Unexpected error." (as strawberry's MaskErrors does, see
    `should_mask`) and gives every error a stable `extensions.code`, so a client branches on
    the code, never on the wording."""

    def on_operation(self) -> Iterator[None]:
        yield
        context = self.execution_context
        result = context.result
        if isinstance(result, ExecutionResult | StrawberryResult) and result.errors:
            parsed = context.graphql_document is not None
            result.errors = [coded(error, parsed=parsed) for error in result.errors]


def coded(error: GraphQLError, *, parsed: bool) -> GraphQLError:
    """The error with its `extensions.code`; masked if it is not the caller's own mistake.
    (`parsed`: whether the document parsed, which tells a syntax error from a validation one.)
    A message shown quotes what the caller sent: an identity number in it is masked."""
    error.message = privacy.scrub(error.message) or error.message
    if "code" in (error.extensions or {}):
        return error
    original = error.original_error
    if original is not None and should_mask(error):
        return GraphQLError(
            MASKED, nodes=error.nodes, path=error.path, extensions={"code": INTERNAL}
        )
    if isinstance(original, ApiError):
        code = original.code
    else:
        code = VALIDATION_FAILED if parsed else PARSE_FAILED
    error.extensions = {**(error.extensions or {}), "code": code}
    return error


def should_mask(error: GraphQLError) -> bool:
    """Whether an error is hidden behind "Unexpected error.": all but the caller's own mistakes
    (parse, validation, limits, ApiError)."""
    original = error.original_error
    return original is not None and not isinstance(original, ApiError)
