"""GraphQL documents that tests in more than one module send, and the variables they take."""

from __future__ import annotations

from typing import Any

from disclosure import template

# The template's columns a department submits: the source unit is the token's department.
KEYS = [
    column.key
    for column in template.PENALTY
    if column.key not in {"source_unit", "source_unit_uscc"}
]

SUBMIT = """mutation($columns: [String!]!, $rows: [[String!]!]!) {
  submitPenalties(columns: $columns, rows: $rows) {
    __typename
    ... on SubmitReport { accepted corrected unchanged rejected
                          rows { row outcome id column rule reason } }
    ... on MutationError { code message }
  }
}"""

WITHDRAW = """mutation($id: ID!, $reason: String!, $changed: Date) {
  withdrawRecord(id: $id, reason: $reason, kind: REVOKED, decisionChangedOn: $changed) {
    __typename
    ... on RecordEnded { id endedOn reason }
    ... on MutationError { code message }
    ... on Refused { field }
  }
}"""


def rows(*cells: dict[str, str]) -> dict[str, Any]:
    """SUBMIT's variables for penalty rows given as cells by column key."""
    return {"columns": KEYS, "rows": [[row.get(key, "") for key in KEYS] for row in cells]}


def doubling_fragments(levels: int) -> str:
    """Fragments that each spread the next twice: 2**levels fields once expanded, in ~40
    bytes a level."""
    chain = " ".join(f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }}" for i in range(levels))
    return f"query {{ ...F0 }} {chain} fragment F{levels} on Query {{ __typename }}"
