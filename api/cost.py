"""What a query costs before it runs: the records it may return at most, and the extension
that refuses an operation over the budget or over what its client may spend now."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from graphql import (
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
    VariableNode,
)
from strawberry.extensions import SchemaExtension

from api import ratelimit
from api.errors import COST_EXCEEDED, ApiError
from api.limits import MAX_PAGE, PAGED_FIELDS, SUBJECT_LISTS, TIMED_FIELDS, Limits, page_size
from disclosure import matching


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
        elif name in BATCH_FIELDS and not nested:
            argument, per_item = BATCH_FIELDS[name]
            size = _list_length(node, argument, variables) * per_item
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


# Root fields charged per item of a list argument: (the argument, records per item at most).
BATCH_FIELDS = {
    "standings": ("creditCodes", 1),
    "match": ("candidates", matching.MAX_RESULTS),
}


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
