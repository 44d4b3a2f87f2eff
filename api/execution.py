"""Query execution with a short way through plain fields.

A page of 20 penalties with every public field is ~700 fields, and graphql-core spends most of
a cold request completing them one by one (a path, a resolve info, the resolver chain, value
completion) even though nearly all are an attribute read and a scalar's serialisation. Here a
field that strawberry resolves by attribute (no resolver, no extension, no arguments) is read
directly, and completed directly when its type is a scalar, an enum, an object, or a list of one
of these: a leaf is serialised, an object's fields are executed here again (the short way again
for its plain fields). A field with a resolver that is a function of its parent and the request's
context alone may say so (`direct`): the short way calls that function. Anything else, and any
value the short way cannot complete before it has started (null in a non-null field, a value the
scalar refuses, an object of another type), goes the standard way, so results and errors are
exactly graphql-core's.

An object whose fields are all plain, and whose objects' fields are too, is completed by one
function written for its selection (`_compiled`); where that function meets a value it cannot
complete it gives up, and the object's fields go one by one as above.
"""

from __future__ import annotations

import asyncio
import builtins
import dataclasses
import functools
import keyword
import threading
import typing
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar, cast

import strawberry
from graphql import (
    ExecutionResult,
    GraphQLBoolean,
    GraphQLEnumType,
    GraphQLID,
    GraphQLLeafType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLResolveInfoHelpers,
    GraphQLString,
    is_leaf_type,
    is_object_type,
)
from graphql.execution.executor import to_nodes
from graphql.pyutils import Path, Undefined, gather_with_cancel
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types import Info
from strawberry.types.cast import get_strawberry_type_cast
from strawberry.types.field import StrawberryField

DIRECT = "gongshi.direct"


def direct(compute: Callable[[Any, Any], Any], **field: Any) -> Any:
    """A strawberry field (of the keywords `field`) that answers `compute(parent, context)`:
    its resolver for the standard way, called as it is by the short way (the field's extensions
    and permissions, if any, go the standard way). Its type is what `compute` returns."""

    def resolve(root: Any, info: Info[Any, Any]) -> Any:
        return compute(root, info.context)

    resolve.__annotations__ = {"info": Info, "return": typing.get_type_hints(compute)["return"]}
    resolve.__name__ = resolve.__qualname__ = compute.__name__.strip("_")
    return strawberry.field(resolver=resolve, metadata={DIRECT: compute}, **field)


@dataclasses.dataclass(frozen=True, eq=False)  # one per field of a type (_plans): by identity
class _Plain:
    """A plain field: read `attribute` (or `compute` it); its type is `named` (a leaf or an
    object), held in a list when `many`; `required` for the field, `items_required` for the
    list's items."""

    attribute: str
    compute: Callable[[Any, Any], Any] | None
    named: GraphQLLeafType | GraphQLObjectType
    required: bool
    many: bool
    items_required: bool
    type: GraphQLOutputType

    @functools.cached_property
    def leaf(self) -> bool:
        """A leaf read from an attribute: the plan of most fields."""
        return self.compute is None and not self.many and is_leaf_type(self.named)

    @functools.cached_property
    def same(self) -> builtins.type | None:
        """The class of values the field's scalar serialises as they are (a str for a String)."""
        return _SAME.get(self.named)  # type: ignore[arg-type]


# scalar → the class of values it serialises unchanged (graphql-core's serialize_string,
# serialize_id and serialize_boolean return an instance of it as it is)
_SAME: dict[GraphQLLeafType, type] = {GraphQLString: str, GraphQLID: str, GraphQLBoolean: bool}


# object type → field name → how to read the field, or None for the standard way (a few
# dozen types per schema; a process builds one schema, its tests a few hundred)
_plans: dict[GraphQLObjectType, dict[str, _Plain | None]] = {}


def _plan(parent: GraphQLObjectType, name: str) -> _Plain | None:
    plans = _plans.get(parent)
    if plans is None:
        plans = _plans[parent] = {}
    elif name in plans:
        return plans[name]
    field = parent.fields.get(name)
    plan = None
    definition = field.extensions.get(GraphQLCoreConverter.DEFINITION_BACKREF) if field else None
    if field is not None and isinstance(definition, StrawberryField) and not field.args:
        inner, required = _unwrap(field.type)
        many = isinstance(inner, GraphQLList)
        items_required = False
        if many:
            inner, items_required = _unwrap(inner.of_type)
        compute = definition.metadata.get(DIRECT)
        if compute is not None:
            if not (definition.extensions or definition.is_async or many) and is_leaf_type(inner):
                plan = _Plain("", compute, inner, required, many, items_required, field.type)
        elif (
            definition.is_basic_field
            and definition.default_resolver is getattr
            and getattr(field.resolve, "_is_default", False)
            and (is_leaf_type(inner) or is_object_type(inner))
        ):
            plan = _Plain(
                definition.python_name, None, inner, required, many, items_required, field.type
            )
    plans[name] = plan
    return plan


@dataclasses.dataclass(frozen=True)
class _Selection:
    """The fields of a selection with their plans, and the function completing an object's
    selection at once where there is one."""

    fields: list[tuple[str, Any, _Plain | None]]
    complete: Callable[[Any, Any], dict[str, Any]] | None


Shape = tuple[tuple[str, _Plain, Callable[[Any, Any], dict[str, Any]] | None], ...]


@functools.lru_cache(maxsize=1024)
def _compiled(
    parent_type: GraphQLObjectType, shape: Shape
) -> Callable[[Any, Any], dict[str, Any]] | None:
    """A function `complete(source, context)` giving what ExecutionContext.execute_fields gives
    for a selection of plain fields of `parent_type` when no field needs the standard way, and
    raising otherwise (the caller then goes field by field, which completes or reports each).
    `shape` holds each field's response name, plan, and for an object its own selection's
    function. Written for the selection, as dataclasses writes __init__: a page of 20 penalties
    with their parties is 100 objects and 600 fields, and going field by field through
    execute_fields, _plain and _object was a third of the page's cost. None where an
    attribute is no Python name."""
    names: dict[str, Any] = {"_leaf": _leaf, "_Standard": _Standard, "_types_of": _types_of}
    lines = ["def complete(source, context):"]
    for number, (_, plan, sub) in enumerate(shape):
        value = f"v{number}"
        if plan.compute is not None:
            names[f"compute{number}"] = plan.compute
            lines.append(f"    {value} = compute{number}(source, context)")
        elif plan.attribute.isidentifier() and not keyword.iskeyword(plan.attribute):
            lines.append(f"    {value} = source.{plan.attribute}")
        else:
            return None
        lines.append(f"    if {value} is None:")
        lines.append("        raise _Standard" if plan.required else "        pass")
        if sub is None and plan.many:  # a list of leaves, each serialised
            names[f"kind{number}"] = plan.named
            item = f"_leaf(kind{number}, item)"
            if not plan.items_required:
                item = f"None if item is None else {item}"
            lines.append(f"    elif not isinstance({value}, list):")
            lines.append("        raise _Standard")
            lines.append("    else:")
            lines.append(f"        {value} = [{item} for item in {value}]")
            continue
        if sub is None:  # a leaf: serialised, unless it is its own serialisation
            names[f"kind{number}"], names[f"same{number}"] = plan.named, plan.same
            lines.append(f"    elif type({value}) is not same{number}:")
            lines.append(f"        {value} = _leaf(kind{number}, {value})")
            continue
        # an object: of the field's type (as is_type_of answered for its class before), and
        # completed by its selection's function
        names[f"sub{number}"] = sub
        lines.append("    else:")
        if plan.named.is_type_of is not None:  # type: ignore[union-attr]
            names[f"named{number}"] = plan.named
            lines.append(f"        if _types_of.get((named{number}, type({value}))) is not True:")
            lines.append("            raise _Standard")
        lines.append(f"        {value} = sub{number}({value}, context)")
    fields = ", ".join(f"{name!r}: v{number}" for number, (name, _, _) in enumerate(shape))
    lines.append(f"    return {{{fields}}}")
    exec("\n".join(lines), names)  # what it runs: the names above, and checked attributes
    return cast(Callable[[Any, Any], dict[str, Any]], names["complete"])


def _ended(_values: Any) -> Any:
    raise RuntimeError("the execution has ended: no resolver runs on its context any more")


# what an execution context holds in place of graphql-core's helpers once it has answered
_SPENT_HELPERS = GraphQLResolveInfoHelpers(gather=_ended, track=_ended)

# (object type, class of a value) → whether the type's is_type_of accepts values of that class
_types_of: dict[tuple[GraphQLObjectType, type], bool] = {}


def _unwrap(kind: Any) -> tuple[Any, bool]:
    if isinstance(kind, GraphQLNonNull):
        return kind.of_type, True
    return kind, False


class _Standard(Exception):
    """The short way cannot complete this value: the standard way will."""


class ExecutionContext(StrawberryGraphQLCoreExecutionContext):
    """strawberry's execution context, completing plain fields directly."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._selections: dict[tuple[GraphQLObjectType, int], tuple[Any, _Selection]] = {}
        # an extension that sees each field resolved (a middleware) leaves no field plain
        manager = self.middleware_manager
        self._wrapped = manager is not None and bool(manager.middlewares)

    def build_response(self, data: dict[str, Any] | None) -> Any:
        response = super().build_response(data)
        if isinstance(response, ExecutionResult):
            # the whole answer: nothing more runs on this context. graphql-core's helpers for
            # resolvers hold two of its bound methods, a cycle that would leave the context,
            # with the request's fields and plans, to the cyclic garbage collector, whose full
            # collections pause the node (BENCHMARKS.md, "Figures behind the code's choices")
            self.async_helpers = _SPENT_HELPERS
        return response

    def execute_fields(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Path | None,
        grouped_field_set: Any,
        position_context: Any,
    ) -> Any:
        if position_context is not None or self._wrapped:  # a deferred fragment's fields…
            return super().execute_fields(
                parent_type, source_value, path, grouped_field_set, position_context
            )
        selection = self._planned(parent_type, grouped_field_set)
        if selection.complete is not None:
            try:
                return selection.complete(source_value, self.context_value)
            except Exception:  # a value only the loop below completes, or reports: it will
                pass
        plain: dict[str, Any] = {}
        rest: dict[str, Any] = {}
        awaiting: list[str] = []  # plain fields whose value is still to come
        try:
            for response_name, details, plan in selection.fields:
                try:
                    if plan is None:
                        raise _Standard
                    if plan.leaf:  # most fields: inline
                        try:
                            value = getattr(source_value, plan.attribute)
                        except Exception:
                            raise _Standard from None
                        if value is None:
                            if plan.required:
                                raise _Standard
                        elif type(value) is not plan.same:
                            value = _leaf(plan.named, value)  # type: ignore[arg-type]
                    else:
                        value = self._plain(
                            plan, parent_type, source_value, path, response_name, details
                        )
                except _Standard:
                    rest[response_name] = details
                    continue
                plain[response_name] = value
                if not plan.leaf and self.is_awaitable(value):
                    awaiting.append(response_name)
            standard: Any = {}
            if rest:
                standard = super().execute_fields(
                    parent_type, source_value, path, rest, position_context
                )
        except Exception:  # a null bubbling up: what is still to come is not waited for
            self.settle_in_background([plain[name] for name in awaiting])
            raise
        if not (awaiting or self.is_awaitable(standard)):
            if not standard:
                return plain
            return _merge(list(grouped_field_set), plain, standard) if plain else standard
        order = list(grouped_field_set)

        async def merged() -> dict[str, Any]:
            later = [plain[name] for name in awaiting]
            whole = self.is_awaitable(standard)
            values = await gather_with_cancel(*later, *([standard] if whole else []))
            plain.update(zip(awaiting, values, strict=False))
            return _merge(order, plain, values[-1] if whole else standard)

        return merged()

    def _planned(self, parent_type: GraphQLObjectType, grouped_field_set: Any) -> _Selection:
        """The fields of a selection with their plans, worked out once per request for each
        selection (graphql-core collects the fields of a list's items once for them all)."""
        key = (parent_type, id(grouped_field_set))
        known = self._selections.get(key)
        if known is not None:
            return known[1]
        planned = [
            (response_name, details, _plan(parent_type, details[0].node.name.value))
            for response_name, details in grouped_field_set.items()
        ]
        selection = _Selection(planned, self._completer(parent_type, planned))
        # the selection is kept with its plans, so that its id is not another's meanwhile
        self._selections[key] = (grouped_field_set, selection)
        return selection

    def _completer(
        self, parent_type: GraphQLObjectType, planned: list[tuple[str, Any, _Plain | None]]
    ) -> Callable[[Any, Any], dict[str, Any]] | None:
        """The function completing an object's selection at once, where every field is a plain
        leaf or a plain object whose own selection has one; else None."""
        shape = []
        for response_name, details, plan in planned:
            if plan is None:
                return None
            sub = None
            if isinstance(plan.named, GraphQLObjectType):
                if plan.many:
                    return None
                grouped, deferred, _ = self.collect_subfields(plan.named, details)
                sub = None if deferred else self._planned(plan.named, grouped).complete
                if sub is None:
                    return None
            shape.append((response_name, plan, sub))
        return _compiled(parent_type, tuple(shape))

    def _plain(
        self,
        plan: _Plain,
        parent_type: GraphQLObjectType,
        source: Any,
        path: Path | None,
        response_name: str,
        details: Any,
    ) -> Any:
        """The completed value of a plain field; raises _Standard, before anything is
        executed or any error recorded, for a value only the standard way completes."""
        try:
            if plan.compute is not None:
                value = plan.compute(source, self.context_value)
            else:
                value = getattr(source, plan.attribute)
        except Exception:  # the standard way raises it again, as a located field error
            raise _Standard from None
        if value is None:
            if plan.required:
                raise _Standard
            return None
        named = plan.named
        if isinstance(named, GraphQLObjectType):
            if plan.many and any(node.directives for node in to_nodes(details)):
                raise _Standard  # @stream, say
            field_path = Path(path, response_name, parent_type.name)
            if plan.many:
                return self._objects(plan, parent_type, field_path, details, value)
            return self._object(plan, parent_type, field_path, details, value)
        if not plan.many:
            return _leaf(named, value)
        if not isinstance(value, list):
            raise _Standard
        items = [
            None if item is None and not plan.items_required else _leaf(named, item)
            for item in value
        ]
        return items

    def _is_type_of(
        self,
        named: GraphQLObjectType,
        item: Any,
        parent_type: GraphQLObjectType,
        details: Any,
        path: Path,
    ) -> bool:
        """`named.is_type_of(item)`, answered once per class of values: strawberry's answers
        depend on the class alone (an isinstance check), unless the value was cast."""
        assert named.is_type_of is not None
        key = (named, type(item))
        known = _types_of.get(key)
        if known is not None:
            return known
        info = self.build_resolve_info(
            parent_type.fields[details[0].node.name.value], to_nodes(details), parent_type, path
        )
        answer = named.is_type_of(item, info) is True
        if get_strawberry_type_cast(item) is None:
            _types_of[key] = answer
        return answer

    def _object(
        self,
        plan: _Plain,
        parent_type: GraphQLObjectType,
        path: Path,
        details: Any,
        value: Any,
    ) -> Any:
        """An object field executed here (errors as the standard way records them, nulling
        the nearest nullable field)."""
        named = plan.named
        assert isinstance(named, GraphQLObjectType)
        if isinstance(value, list) or (
            named.is_type_of is not None
            and not self._is_type_of(named, value, parent_type, details, path)
        ):
            raise _Standard
        grouped, deferred, _ = self.collect_subfields(named, details)
        if deferred:
            raise _Standard
        try:
            completed = self.execute_fields(named, value, path, grouped, None)
        except Exception as error:
            self.handle_field_error(error, plan.type, details, path)
            return None
        if not self.is_awaitable(completed):
            return completed

        async def awaited() -> Any:
            try:
                return await completed
            except Exception as error:
                self.handle_field_error(error, plan.type, details, path)
                return None

        return awaited()

    def _objects(
        self,
        plan: _Plain,
        parent_type: GraphQLObjectType,
        path: Path,
        details: Any,
        value: Any,
    ) -> Any:
        """A list of objects executed here (errors as the standard way records them, nulling
        the nearest nullable item or field)."""
        named = plan.named
        assert isinstance(named, GraphQLObjectType)
        if not isinstance(value, list):
            raise _Standard
        for item in value:
            if item is None:
                if plan.items_required:
                    raise _Standard
            elif named.is_type_of is not None and not self._is_type_of(
                named, item, parent_type, details, path
            ):
                raise _Standard
        grouped, deferred, _ = self.collect_subfields(named, details)
        if deferred:
            raise _Standard
        item_type = GraphQLNonNull(named) if plan.items_required else named
        completed: list[Any] = []
        try:
            for index, item in enumerate(value):
                if item is None:
                    completed.append(None)
                    continue
                item_path = Path(path, index, None)
                try:
                    completed.append(self.execute_fields(named, item, item_path, grouped, None))
                except Exception as error:
                    self.handle_field_error(error, item_type, details, item_path)
                    completed.append(None)
        except Exception as error:
            self.settle_in_background([item for item in completed if self.is_awaitable(item)])
            self.handle_field_error(error, plan.type, details, path)
            return None
        if not any(self.is_awaitable(item) for item in completed):
            return completed

        async def settled(index: int, item: Any) -> Any:
            try:
                return await item
            except Exception as error:
                self.handle_field_error(error, item_type, details, Path(path, index, None))
                return None

        async def awaited() -> Any:
            try:
                return await gather_with_cancel(
                    *(
                        settled(index, item) if self.is_awaitable(item) else _ready(item)
                        for index, item in enumerate(completed)
                    )
                )
            except Exception as error:
                self.handle_field_error(error, plan.type, details, path)
                return None

        return awaited()


async def _ready(value: Any) -> Any:
    return value


def _merge(order: list[str], plain: dict[str, Any], standard: dict[str, Any]) -> dict[str, Any]:
    """Both parts in the order of the selection set (a field the schema lacks is in neither)."""
    return {
        name: standard[name] if name in standard else plain[name]
        for name in order
        if name in standard or name in plain
    }


def _leaf(kind: GraphQLLeafType, value: Any) -> Any:
    """The serialised value of a leaf; _Standard where the standard way raises an error."""
    if value is None:
        raise _Standard
    enum = kind if isinstance(kind, GraphQLEnumType) else None
    if enum is not None:
        try:
            known = _enum_names.get((enum, value))
        except TypeError:  # a value that cannot be a key
            known = enum = None
        if known is not None:
            return known
    try:
        completed = kind.coerce_output_value(value)
    except Exception:
        raise _Standard from None
    if completed is None or completed is Undefined:
        raise _Standard
    if enum is not None:
        _enum_names[(enum, value)] = completed
    return completed


# (enum type, value) → the value's name: an enum serialises each of its few values alike
_enum_names: dict[tuple[GraphQLEnumType, Any], str] = {}


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
    down a loop for each request, which costs more than many a query), cancelling what it
    leaves behind, as asyncio.run does, so nothing of one request runs during the next."""
    loop = _loops.own.loop
    try:
        return loop.run_until_complete(coroutine)
    finally:
        if left := asyncio.all_tasks(loop):
            for task in left:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*left, return_exceptions=True))
