"""The opaque strings a client hands back: record IDs and the cursors of every list.

Each is the URL-safe base64 of a tag and its numbers joined by ":", so a client can store and
pass it on but has no reason to build one; each decoder refuses, with ApiError, anything its own
encoder did not make:

- a record's global ID, `<kind>:<id>`, for `node(id:)` and the mutations;
- a record list's keyset position, `k:<decision day>:<id>`;
- a search's position, `search:<offset>`;
- the change stream's position, `e:<event id>`.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import datetime as dt

from api.errors import ApiError
from disclosure import models

# The ids a database row may have: INTEGER columns (PostgreSQL's int4), counted from 1.
ROW_IDS = range(1, 2**31)
EVENT_IDS = range(2**63)  # the change log's ids are BIGINT; 0 stands before the first


def _encode(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode()


def _decode(value: str) -> str:
    """The text behind an encoded value (raises binascii.Error or UnicodeError)."""
    return base64.urlsafe_b64decode(value.encode()).decode()


def global_id(kind: models.RecordKind, record_id: int) -> str:
    """The opaque global ID of a record, for `node(id:)`."""
    return _encode(f"{kind.value}:{record_id}")


def parse_global_id(value: str) -> tuple[models.RecordKind, int]:
    """The record kind and id behind a global ID (raises ApiError when it is not one)."""
    try:
        kind, _, number = _decode(value).partition(":")
        if int(number) not in ROW_IDS:
            raise ValueError(number)
        return models.RecordKind(kind), int(number)
    except (binascii.Error, UnicodeError, ValueError) as error:
        raise ApiError(f"not a record ID: {value!r}") from error


@dataclasses.dataclass(frozen=True)
class Cursor:
    """A keyset position in a record list, opaque to callers."""

    decision_on: dt.date
    record_id: int

    def encode(self) -> str:
        return _encode(f"k:{self.decision_on.isoformat()}:{self.record_id}")

    @classmethod
    def decode(cls, value: str) -> Cursor:
        try:
            tag, day, number = _decode(value).split(":")
            if tag != "k" or int(number) not in ROW_IDS:
                raise ValueError(tag)
            return cls(dt.date.fromisoformat(day), int(number))
        except (binascii.Error, UnicodeError, ValueError) as error:
            raise ApiError(f"not a cursor of this list: {value!r}") from error


def search_cursor(offset: int) -> str:
    """The cursor standing behind the first `offset` hits of a search."""
    return _encode(f"search:{offset}")


def search_offset(cursor: str | None) -> int:
    """How many hits a search cursor stands behind (0 for none)."""
    if cursor is None:
        return 0
    try:
        prefix, _, number = _decode(cursor).partition(":")
        if prefix == "search" and int(number) >= 0:
            return int(number)
    except (binascii.Error, UnicodeError, ValueError):
        pass
    raise ApiError(f"not a search cursor: {cursor!r}")


def event_cursor(event_id: int) -> str:
    """The cursor standing behind event `event_id` of the change stream."""
    return _encode(f"e:{event_id}")


def event_id(cursor: str | None) -> int:
    """The event id a change stream cursor stands behind (0 for none)."""
    if cursor is None:
        return 0
    try:
        tag, _, number = _decode(cursor).partition(":")
        if tag != "e" or int(number) not in EVENT_IDS:
            raise ValueError(tag)
        return int(number)
    except (binascii.Error, UnicodeError, ValueError) as error:
        raise ApiError(f"not a cursor of the change stream: {cursor!r}") from error
