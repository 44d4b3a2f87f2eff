"""Tombstones: what stays public of a record that no longer is — which end it was, since when,
and the reason its department gave (through the privacy scrub) — never the record's details.
Every output (pages, feeds, the change stream, bulk change files) says what this module says."""

from __future__ import annotations

import datetime as dt

from pydantic import Field

from disclosure import lifecycle, models
from disclosure.privacy import Public, scrub


class Tombstone(Public):
    """What stays public of a record that no longer is: that it ended, when and why, no details."""

    id: int = Field(description="记录编号 record number")
    kind: models.RecordKind = Field(description="记录类型 record kind")
    ended_on: dt.date = Field(description="停止公示日期 first day no longer public")
    reason: str = Field(
        description="停止公示原因 withdrawn, objection_upheld, repaired, revoked or expired"
    )
    label: str = Field(description="原因名称 the reason as the site says it, e.g. 依法撤回")
    explanation: str | None = Field(
        description="说明理由 the reason the department gave (行政处罚法 Art. 48); null if none"
    )


EXPLANATION_MAX = 500  # characters of a department's public reason
END_LABELS = {
    "withdrawn": "依法撤回",
    "objection_upheld": "异议成立",
    "repaired": "信用修复",
    "revoked": "撤销认定",
    "expired": "公示期满",
}


def end_label(kind: models.RecordKind, reason: str) -> str:
    """What a tombstone calls the end `reason` of a record of `kind`."""
    if kind is models.RecordKind.LIST_ENTRY and reason == "expired":
        return "有效期届满"
    return END_LABELS[reason]


def explanation(text: str | None) -> str | None:
    """A department's public reason as it may be shown: scrubbed, stripped, bounded."""
    shown = (scrub(text) or "").strip()
    if len(shown) > EXPLANATION_MAX:
        shown = shown[: EXPLANATION_MAX - 1] + "…"
    return shown or None


def ended(
    record_id: int,
    kind: models.RecordKind,
    ended_on: dt.date,
    reason: str,
    said: str | None = None,
) -> Tombstone:
    """The tombstone of a record of `kind` ended on `ended_on` for `reason`, with `said`, the
    department's public reason."""
    return Tombstone(
        id=record_id,
        kind=kind,
        ended_on=ended_on,
        reason=reason,
        label=end_label(kind, reason),
        explanation=explanation(said),
    )


def tombstone(record: models.Record, on: dt.date) -> Tombstone | None:
    """What may be said of `record` on `on` once it is no longer public; None while it is."""
    ending = lifecycle.ending(record, on)
    if ending is None:
        return None
    assert record.id is not None
    if ending.reason is None:
        return ended(record.id, record.KIND, ending.on, "expired")
    return ended(record.id, record.KIND, ending.on, ending.reason.value, record.end_explanation)
