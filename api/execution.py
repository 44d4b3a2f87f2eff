"""Query execution with a short way through plain leaf fields.

A page of 20 penalties with every public field is ~700 fields, and graphql-core spends most of
a cold request completing them one by one (a path, a resolve info, the resolver chain, value
completion) even though nearly all are an attribute read and a scalar's serialisation. Here a
field that strawberry resolves by attribute (no resolver, no extension, no arguments) and whose
type is a scalar or an enum is read and serialised directly; anything else, and any value the
short way cannot complete (null in a non-null field, a value the scalar refuses), goes the
standard way, so results and errors are exactly graphql-core's.
"""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

from graphql import (
    GraphQLLeafType,
    GraphQLNonNull,
    GraphQLObjectType,
    Undefined,
    is_leaf_type,
)
from graphql.pyutils import Path
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.field import StrawberryField


@dataclasses.dataclass(frozen=True)
class _Leaf:
    attribute: str
    type: GraphQLLeafType
    required: bool


# object type → field name → how to read the field, or None for the standard way (a few
# dozen types per schema; a process builds one schema, its tests a few hundred)
_plans: dict[GraphQLObjectType, dict[str, _Leaf | None]] = {}


def _plan(parent: GraphQLObjectType, name: str) -> _Leaf | None:
    plans = _plans.get(parent)
    if plans is None:
        plans = _plans[parent] = {}
    elif name in plans:
        return plans[name]
    field = parent.fields.get(name)
    plan = None
    definition = field.extensions.get(GraphQLCoreConverter.DEFINITION_BACKREF) if field else None
    if (
        field is not None
        and isinstance(definition, StrawberryField)
        and definition.is_basic_field
        and definition.default_resolver is getattr
        and getattr(field.resolve, "_is_default", False)
        and not field.args
    ):
        required = isinstance(field.type, GraphQLNonNull)
        inner = field.type.of_type if isinstance(field.type, GraphQLNonNull) else field.type
        if is_leaf_type(inner):
            plan = _Leaf(definition.python_name, inner, required)
    plans[name] = plan
    return plan


class ExecutionContext(StrawberryGraphQLCoreExecutionContext):
    """strawberry's execution context, completing plain leaf fields directly."""

    def execute_fields(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Path | None,
        grouped_field_set: Any,
        position_context: Any,
    ) -> Any:
        plain: dict[str, Any] = {}
        rest: dict[str, Any] = {}
        for response_name, details in grouped_field_set.items():
            leaf = _plan(parent_type, details[0].node.name.value)
            value = _read(leaf, source_value) if leaf is not None else Undefined
            if value is Undefined:
                rest[response_name] = details
            else:
                plain[response_name] = value
        if not rest:
            return plain
        standard = super().execute_fields(parent_type, source_value, path, rest, position_context)
        if not plain:
            return standard
        order = list(grouped_field_set)
        if isinstance(standard, dict):
            return _merge(order, plain, standard)

        async def merged() -> dict[str, Any]:
            return _merge(order, plain, await standard)

        return merged()


def _merge(order: list[str], plain: dict[str, Any], standard: dict[str, Any]) -> dict[str, Any]:
    """Both parts in the order of the selection set (a field the schema lacks is in neither)."""
    return {
        name: standard[name] if name in standard else plain[name]
        for name in order
        if name in standard or name in plain
    }


def _read(leaf: _Leaf, source: Any) -> Any:
    """The completed value of a plain leaf field, or Undefined for the standard way."""
    try:
        value = getattr(source, leaf.attribute)
        if value is None:
            return Undefined if leaf.required else None
        completed = leaf.type.coerce_output_value(value)
    except Exception:  # the standard way raises it again, as a located field error
        return Undefined
    return Undefined if completed is None else completed


T = TypeVar("T")


class _OwnLoop:
    """An event loop closed when its last holder lets go (its thread ends)."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()

    def __del__(self) -> None:
        self.loop.close()


class _Loops(threading.local):
    def __init__(self) -> None:
        self.own = _OwnLoop()


_loops = _Loops()


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run `coroutine` to its end on this thread's event loop (asyncio.run would make and tear
    down a loop for each request: ~0.2 ms), cancelling what it leaves behind, as asyncio.run
    does, so nothing of one request runs during the next."""
    loop = _loops.own.loop
    try:
        return loop.run_until_complete(coroutine)
    finally:
        if left := asyncio.all_tasks(loop):
            for task in left:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*left, return_exceptions=True))
