"""Verification codes of credit reports, and their check.

A code is stateless: `<key>-<YYYYMMDD>-<version>-<digest>-<mac>`, the subject's public key, the
report's day, the data version it was made at (the change log's last event), the first 16 hex
digits of its content digest (`credit_report.digest`) and 16 of an HMAC-SHA256 over the four
under the report key (GONGSHI_REPORT_KEY, else DATA_DIR/report.key,
made on first use). Nothing is stored: a check recomputes the content of that subject and day
from the database and compares the digests; when they differ, the events logged after the
version say why. A code whose MAC does not hold was not issued here.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import hmac
import re

from sqlmodel import Session

from disclosure import (
    credit_report,
    events,
    lifecycle,
    measures,
    models,
    secret_files,
    standing,
    tombstones,
)
from disclosure.settings import Settings

KEY_FILE = "report.key"  # under GONGSHI_DATA_DIR, when GONGSHI_REPORT_KEY is not set
DIGEST_DIGITS = 16
MAC_DIGITS = 16
_CODE = re.compile(
    r"(?P<key>[0-9A-Z]{18}|P[0-9]{1,18})-(?P<day>[0-9]{8})-(?P<version>0|[1-9][0-9]{0,18})"
    rf"-(?P<digest>[0-9a-f]{{{DIGEST_DIGITS}}})-(?P<mac>[0-9a-f]{{{MAC_DIGITS}}})"
)


class ForgedCode(ValueError):
    """A verification code that gongshi did not issue (or that was mistyped)."""

    def __init__(self) -> None:
        super().__init__(
            "此验证码不是本平台出具的报告验证码 / this is not a verification code of a report "
            "this platform issued"
        )


def report_key(settings: Settings) -> bytes:
    """The key of the verification codes: GONGSHI_REPORT_KEY, else the key file under the data
    folder, made on first use and readable by its owner only."""
    if settings.report_key is not None:
        return settings.report_key
    return secret_files.read_or_make(settings.data_dir / KEY_FILE)


def _mac(key: str, on: dt.date, version: int, digest: str, secret: bytes) -> str:
    message = f"gongshi/credit-report/v1\n{key}\n{on.isoformat()}\n{version}\n{digest}".encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()[:MAC_DIGITS]


def issue(key: str, on: dt.date, version: int, content_digest: str, secret: bytes) -> str:
    """The verification code of the report of subject `key` on `on`, made at data version
    `version`, with `content_digest`."""
    short = content_digest[:DIGEST_DIGITS]
    return f"{key}-{on:%Y%m%d}-{version}-{short}-{_mac(key, on, version, short, secret)}"


@dataclasses.dataclass(frozen=True)
class Code:
    """What a genuine code says: whose report, of which day, with which digest."""

    key: str
    on: dt.date
    version: int  # the change log's last event when the report was made
    digest: str


def read(code: str, secret: bytes) -> Code:
    """The parts of a code gongshi issued; raises ForgedCode for any other text."""
    found = _CODE.fullmatch(code.strip())
    if found is None:
        raise ForgedCode()
    try:
        on = dt.datetime.strptime(found["day"], "%Y%m%d").date()
    except ValueError:
        raise ForgedCode() from None
    key, version, digest = found["key"], int(found["version"]), found["digest"]
    if not hmac.compare_digest(_mac(key, on, version, digest, secret), found["mac"]):
        raise ForgedCode()
    return Code(key, on, version, digest)


@dataclasses.dataclass(frozen=True)
class Change:
    """Something that changed, since the report's day, in the records the report showed."""

    kind: models.RecordKind
    record_id: int
    on: dt.date
    what: str  # in Chinese, as the site says it (依法撤回, 更正, …)
    explanation: str | None = None  # a withdrawal's public reason

    def describe(self) -> str:
        """One line: which record, what happened to it and when."""
        said = f"（{self.explanation}）" if self.explanation else ""
        return f"{self.kind.zh} 第{self.record_id}号：{self.on} {self.what}{said}"


@dataclasses.dataclass(frozen=True)
class Verification:
    """The answer to a code: whether the report still matches the records of its day."""

    code: Code
    matches: bool
    content: credit_report.ReportContent | None  # what the records of that day say now
    changes: tuple[Change, ...]  # why it no longer matches, where the change log tells


def verify(
    session: Session,
    code: str,
    secret: bytes,
    *,
    rules: lifecycle.Rules,
    catalogue: measures.Catalogue,
) -> Verification:
    """Check `code` against the database: recompute the content of its subject and day and
    compare digests (raises ForgedCode for a code not issued here)."""
    read_code = read(code, secret)
    found = credit_report.build(
        session, read_code.key, read_code.on, rules=rules, catalogue=catalogue
    )
    content = found.content if found is not None else None
    now = credit_report.digest(content)[:DIGEST_DIGITS] if content is not None else None
    if now == read_code.digest:
        return Verification(read_code, True, content, ())
    subject_id = credit_report.subject_id_of(session, read_code.key)
    changes: tuple[Change, ...] = ()
    if subject_id is not None:
        changes = changes_since(session, subject_id, read_code.on, read_code.version)
    return Verification(read_code, False, content, changes)


_CHANGES = {
    models.EventType.CORRECTED: "更正",
    models.EventType.OBJECTION_CLOSED: "异议处理完毕",
}
_ENDS = (models.EventType.WITHDRAWN, models.EventType.REPAIRED, models.EventType.EXITED)


def _public_but_for_its_end(record: models.Record, on: dt.date) -> bool:
    """Whether `record` was public on `on`, or would have been but that its publication ended
    early that very day (after a report of the day was made, perhaps)."""
    if lifecycle.is_public(record, on):
        return True
    last = lifecycle.last_public_day(record)
    return record.ended_on == on and lifecycle.has_page(record, on) and (last is None or on <= last)


def changes_since(
    session: Session, subject_id: int, on: dt.date, version: int
) -> tuple[Change, ...]:
    """What the change log says happened, after event `version`, to the subject's records of
    `on`: early ends (in the tombstone's words, with its public reason), corrections and closed
    objections."""
    found: list[Change] = []
    history = standing.history(session, subject_id)
    records: list[models.Record] = [*history.licenses, *history.penalties, *history.list_entries]
    for record in records:
        if not _public_but_for_its_end(record, on):
            continue
        assert record.id is not None
        for event in events.history(session, record):
            if event.id is None or event.id <= version:
                continue
            if event.type in _ENDS and record.ended_on == event.effective_on:
                tomb = tombstones.tombstone(record, event.effective_on)
                assert tomb is not None  # it ended that day
                found.append(
                    Change(record.KIND, record.id, event.effective_on, tomb.label, tomb.explanation)
                )
            elif (what := _CHANGES.get(event.type)) is not None:
                found.append(Change(record.KIND, record.id, event.effective_on, what))
    return tuple(sorted(found, key=lambda c: (c.on, c.kind.value, c.record_id, c.what)))
