"""How much work a document asks of validation and execution, measured before either starts.

graphql-core validates a document and collects its fields by expanding every fragment spread
where it stands, so fragments that each spread the next twice double that work per level: 30
of them (1.2 KB, within the token, depth and alias limits) held the event loop for minutes,
before the time budget, which starts in the database, could. Here each fragment is measured
once (memoised), in time linear in the document, and a document whose expansion is over the
limit is refused before any validation rule runs. Introspection gets a depth limit of its own:
the depth rule leaves `__schema` and `__type` alone.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
)
from strawberry.extensions import SchemaExtension, ValidationCache

from api import errors

CODE = errors.VALIDATION_FAILED
INTROSPECTION = frozenset({"__schema", "__type"})


@dataclasses.dataclass(frozen=True)
class _Size:
    """A selection set expanded: how many fields it holds, and how deep its fields nest."""

    fields: int
    depth: int


class _Refused(Exception):
    """The document asks for more than the limits allow (the message says what)."""


class _Measure:
    """The expanded size of the selections of one document, each fragment counted once."""

    def __init__(
        self, fragments: Mapping[str, FragmentDefinitionNode], max_fields: int, max_depth: int
    ) -> None:
        self.fragments = fragments
        self.max_fields = max_fields
        self.max_depth = max_depth
        self.known: dict[str, _Size] = {}
        self.open: set[str] = set()  # fragments being measured: a cycle (validation reports it)

    def selections(self, selections: SelectionSetNode | None, level: int) -> _Size:
        """The size of a selection set at nesting `level` (how many fields lie around it)."""
        if selections is None:
            return _Size(0, 0)
        if level > self.max_depth:
            # deeper than any limit: the depth rule refuses it; stop here, before the stack ends
            return _Size(0, 0)
        fields = depth = 0
        for selection in selections.selections:
            if isinstance(selection, FieldNode):
                inner = self.selections(selection.selection_set, level + 1)
                fields, depth = fields + 1 + inner.fields, max(depth, 1 + inner.depth)
            elif isinstance(selection, InlineFragmentNode | FragmentSpreadNode):
                inner = self._fragment(selection, level)
                fields, depth = fields + inner.fields, max(depth, inner.depth)
            if fields > self.max_fields:
                raise _Refused(
                    f"the document expands to more than {self.max_fields} fields through its "
                    "fragments: spread each fragment fewer times"
                )
        return _Size(fields, depth)

    def _fragment(self, selection: InlineFragmentNode | FragmentSpreadNode, level: int) -> _Size:
        if isinstance(selection, InlineFragmentNode):
            return self.selections(selection.selection_set, level)
        name = selection.name.value
        known = self.known.get(name)
        if known is not None:
            return known
        if name not in self.fragments or name in self.open or len(self.open) > self.max_depth:
            return _Size(0, 0)  # unknown, a cycle, or a chain no limit lets through
        self.open.add(name)
        # measured from level 0: its size does not depend on where it is spread
        size = self.known[name] = self.selections(self.fragments[name].selection_set, 0)
        self.open.discard(name)
        return size


def check(document: DocumentNode, max_fields: int, max_introspection_depth: int) -> str | None:
    """Why the document may not be validated or run, or None when it may: more than
    `max_fields` fields once its fragments are expanded (every definition counted, as
    validation visits each), or introspection nested more than `max_introspection_depth`."""
    fragments = {
        definition.name.value: definition
        for definition in document.definitions
        if isinstance(definition, FragmentDefinitionNode)
    }
    measure = _Measure(fragments, max_fields, max_depth=max(64, 4 * max_introspection_depth))
    total = 0
    try:
        for definition in document.definitions:
            if isinstance(definition, OperationDefinitionNode | FragmentDefinitionNode):
                total += measure.selections(definition.selection_set, 0).fields
                if total > max_fields:
                    raise _Refused(
                        f"the document expands to more than {max_fields} fields through its "
                        "fragments: spread each fragment fewer times"
                    )
        deepest = max((_introspection_depth(document, measure)), default=0)
    except _Refused as refused:
        return str(refused)
    if deepest > max_introspection_depth:
        return (
            f"introspection nested {deepest} levels deep, over the limit of "
            f"{max_introspection_depth} (the standard introspection query fits)"
        )
    return None


def _introspection_depth(document: DocumentNode, measure: _Measure) -> Iterator[int]:
    """The depth of each `__schema` or `__type` selection of the document, that field counted."""
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode | FragmentDefinitionNode):
            yield from _introspections(definition.selection_set, measure, 0)


def _introspections(
    selections: SelectionSetNode | None, measure: _Measure, level: int
) -> Iterator[int]:
    # introspection fields stand at the root (of an operation or a fragment), or in a
    # fragment on its root: that is where the search goes, not through every record field
    if selections is None or level > 2:
        return
    for selection in selections.selections:
        if isinstance(selection, FieldNode):
            if selection.name.value in INTROSPECTION:
                yield 1 + measure.selections(selection.selection_set, 1).depth
        elif isinstance(selection, InlineFragmentNode):
            yield from _introspections(selection.selection_set, measure, level + 1)


class ExpansionLimit(SchemaExtension):
    """Refuses, before validation, a document that expands past the field limit or nests
    introspection past its depth limit (the validation rules would take exponential time)."""

    def __init__(self, max_fields: int, max_introspection_depth: int) -> None:
        super().__init__()
        self.max_fields = max_fields
        self.max_introspection_depth = max_introspection_depth

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        if document is not None:
            problem = check(document, self.max_fields, self.max_introspection_depth)
            if problem is not None:
                # set before validation: strawberry (and CheckedValidationCache) then skip it
                context.pre_execution_errors = [GraphQLError(problem, extensions={"code": CODE})]
        yield


class CheckedValidationCache(ValidationCache):
    """strawberry's validation cache, which leaves a document already refused unvalidated."""

    def on_validate(self) -> Iterator[None]:
        if self.execution_context.pre_execution_errors:
            yield
            return
        yield from super().on_validate()
