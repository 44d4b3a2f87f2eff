"""Toy schemas on which the short way (api.execution) is held equal to graphql-core's standard
way, and `answers`, which runs a query both ways."""

from __future__ import annotations

import enum
import typing
from typing import Any

import strawberry
from strawberry.schema.config import StrawberryConfig
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from api import execution


@strawberry.type
class Thing:
    name: str
    count: int
    note: str | None


@strawberry.type
class Things:
    @strawberry.field
    def things(self) -> list[Thing | None]:
        return [
            Thing(name="ok", count=1, note=None),
            Thing(name=None, count=2, note="x"),  # type: ignore[arg-type]
            Thing(name="bad", count="many", note="y"),  # type: ignore[arg-type]
        ]


@strawberry.type
class Inner:
    name: str
    count: int

    @strawberry.field
    async def later(self) -> str:
        if self.count < 0:
            raise ValueError("no later")
        return self.name


def answers(query: str, query_type: type, **options: Any) -> tuple[Any, list[Any]]:
    """The answer of `query` by the short way, held equal to graphql-core's standard way's:
    its data and its formatted errors."""
    answers: list[tuple[Any, list[Any]]] = []
    for context_class in (execution.ExecutionContext, StrawberryGraphQLCoreExecutionContext):
        graphql = strawberry.Schema(
            query=query_type, execution_context_class=context_class, **options
        )
        answer = execution.run(graphql.execute(query))
        answers.append((answer.data, [error.formatted for error in answer.errors or []]))
    assert answers[0] == answers[1]
    return answers[0]


def paths(errors: list[Any]) -> list[tuple[str, ...]]:
    return sorted(tuple(map(str, error["path"])) for error in errors)


@strawberry.type
class Box:
    """Lists of objects of each nullability, as the short way completes them itself."""

    optional: list[Inner | None]  # a null item is null
    some: list[Inner] | None  # a failing item nulls the list
    children: list[Inner]  # a failing item nulls the box
    inner: Inner | None
    labels: list[str]


def box(**changes: object) -> Box:
    fields: dict[str, object] = {
        "optional": [Inner(name="o", count=1)],
        "some": [Inner(name="s", count=2)],
        "children": [Inner(name="c", count=3)],
        "inner": Inner(name="i", count=4),
        "labels": ["a"],
    }
    return Box(**{**fields, **changes})  # type: ignore[arg-type]


@strawberry.type
class Gadget:
    name: str
    size: int


class BrokenGadget:
    """A value whose attribute raises when it is read."""

    size = 1

    @property
    def name(self) -> str:
        raise ValueError("the name cannot be read")


@strawberry.enum
class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


Nothing = typing.NewType("Nothing", str)  # a scalar that serialises every value to null


NOTHING = StrawberryConfig(
    scalar_map={
        Nothing: strawberry.scalar(
            name="Nothing", serialize=lambda value: None, parse_value=lambda value: value
        )
    }
)


@strawberry.type
class Paint:
    color: Color
    note: Nothing | None


@strawberry.type
class Shop:
    @strawberry.field
    def gadgets(self) -> list[Gadget | None]:
        return [Gadget(name="g", size=2), BrokenGadget()]  # type: ignore[list-item]

    @strawberry.field
    def paints(self) -> list[Paint | None]:
        return [
            Paint(color=Color.RED, note=None),
            Paint(color=[], note=None),  # type: ignore[arg-type]  # not even a dict key
            Paint(color=Color.BLUE, note=Nothing("x")),  # serialised to null: an error
        ]
