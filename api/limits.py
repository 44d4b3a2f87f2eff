"""What one request may ask of the API: depth, aliases, tokens, page sizes, cost and time.

Validation rules are built once per schema, never per request: strawberry's validation cache
keys on the rule classes, so a rule class made afresh for each request would never hit it.
"""

from __future__ import annotations

import dataclasses

from graphql.validation import ASTValidationRule, NoSchemaIntrospectionCustomRule
from strawberry.extensions.max_aliases import create_validator as alias_validator
from strawberry.extensions.query_depth_limiter import create_validator as depth_validator

from api.errors import ApiError
from disclosure.queries.record_pages import MAX_PAGE as MAX_PAGE

MAX_CHANGES = 1000  # events per page of the change stream: agencies catching up read many
DEFAULT_PAGE = 20


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
    # handing a query to a thread and back costs more than it frees (BENCHMARKS.md, "Figures
    # behind the code's choices"). A node whose clients mix slow searches with lookups may want
    # 2, so a search holds up only one lookup at a time, not all of them.
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
    # graphql-core's own executor instead of api.execution's short way through plain fields:
    # the same answers, slower; for a node that meets a strawberry or graphql-core the short
    # way has not been checked against (tests compare the two)
    standard_executor: bool = False
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
