"""Every error the API answers with, and the stable code a client branches on.

A GraphQL error carries its code in `extensions.code` (Apollo's names where it has one); a
request refused before GraphQL runs gets an HTTP status and the same shape of body; a refused
mutation answers with a typed payload error whose `code` says why. The codes, by where they
arise:

    HTTP (BadRequest: the request is not a GraphQL request this API answers)
    ├── BAD_REQUEST             400 no query, bad JSON, batching, several operations unnamed
    ├── METHOD_NOT_ALLOWED      405 a mutation sent by GET
    ├── PAYLOAD_TOO_LARGE       413 a body over Limits.max_body_bytes
    └── UNSUPPORTED_MEDIA_TYPE  415 a POST that is not application/json
    RATE_LIMITED                429 the client has spent its budget (api.ratelimit), Retry-After
    GraphQL (extensions.code of each error)
    ├── GRAPHQL_PARSE_FAILED        the document does not parse
    ├── GRAPHQL_VALIDATION_FAILED   validation, depth, aliases, expansion (api.expansion)
    ├── COST_LIMIT_EXCEEDED         more records than Limits.max_cost (api.cost)
    ├── RATE_LIMITED                as above, when the query's cost overflows the bucket
    ├── BAD_USER_INPUT              ApiError: an argument the caller can fix
    │   └── TIME_BUDGET_EXCEEDED    TimeBudgetExceeded: the database ran out of time
    └── INTERNAL_SERVER_ERROR       anything else, masked as "Unexpected error."
    Mutation payload errors (api.receipts)
    ├── UNAUTHENTICATED   no live token
    ├── FORBIDDEN         an act outside the token's role or department
    ├── INVALID_ROW       a template row fails a check
    └── the refusals of disclosure's workflows, by their own codes: REFUSED, NOT_FOUND,
        INVALID, ALREADY_EXISTS, NOT_PUBLIC, WRONG_STATE, TOO_EARLY

A 503 (the database unreachable, or the node busy) has no code: it is the node's state, not the
request's, and Retry-After says when to come back.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from graphql import ExecutionResult, GraphQLError
from strawberry.extensions import SchemaExtension
from strawberry.types.execution import ExecutionResult as StrawberryResult

from disclosure import privacy

PARSE_FAILED = "GRAPHQL_PARSE_FAILED"
VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"
BAD_USER_INPUT = "BAD_USER_INPUT"
COST_EXCEEDED = "COST_LIMIT_EXCEEDED"
TIME_BUDGET = "TIME_BUDGET_EXCEEDED"
RATE_LIMITED = "RATE_LIMITED"
INTERNAL = "INTERNAL_SERVER_ERROR"
UNAUTHENTICATED = "UNAUTHENTICATED"
FORBIDDEN = "FORBIDDEN"
INVALID_ROW = "INVALID_ROW"
MASKED = "Unexpected error."  # all an unexpected error shows; the log keeps its traceback

_HTTP_CODES = {
    405: "METHOD_NOT_ALLOWED",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
}


class ApiError(Exception):
    """An error the caller made and can fix; its message is shown as it is."""

    code = BAD_USER_INPUT


class TimeBudgetExceeded(ApiError):
    """The request ran out of its time budget in the database."""

    code = TIME_BUDGET


class BadRequest(Exception):
    """A request that is not a GraphQL request this API answers; carries its HTTP status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status

    def body(self) -> dict[str, Any]:
        """The response: one error with its message and a stable code."""
        code = _HTTP_CODES.get(self.status, "BAD_REQUEST")
        return {"errors": [{"message": str(self), "extensions": {"code": code}}]}


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
