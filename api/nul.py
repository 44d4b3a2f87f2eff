"""The check that no text a request sends holds NUL, before it touches the database."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from graphql import (
    BREAK,
    DocumentNode,
    ExecutionResult,
    GraphQLError,
    StringValueNode,
    Visitor,
    visit,
)
from strawberry.extensions import SchemaExtension

from api.errors import BAD_USER_INPUT

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
