"""The portal's tables: accounts of the people who act, their sessions and login attempts, and
the public's applications (异议申请, 信用修复申请, 举报) with their attachments.

A reporter's identity (举报人信息) is a table of its own that no output reads, so that nothing
built from an application can carry it by mistake; it is kept for the bureau's follow-up.
"""

from __future__ import annotations

import datetime as dt
import enum

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from disclosure import models


class ApplicationType(enum.StrEnum):
    """What the public may file through the portal."""

    OBJECTION = "objection"  # 异议申请
    REPAIR = "repair"  # 信用修复申请
    REPORT = "report"  # 失信行为举报


class ReportStatus(enum.StrEnum):
    """State of a report (举报), which the responsible department handles."""

    RECEIVED = "received"  # 已受理
    VERIFIED = "verified"  # 查证属实
    UNFOUNDED = "unfounded"  # 查无实据


class Account(SQLModel, table=True):
    """A person who signs in to the portal: a department's clerk or the bureau's official."""

    __tablename__ = "portal_account"

    id: int | None = Field(default=None, primary_key=True)
    login: str = Field(max_length=100, unique=True)
    name: str = Field(max_length=100)
    unit_id: int = Field(foreign_key="department.id")
    role: models.Role = Field(sa_type=models.enum_column(models.Role))
    password_hash: str | None = Field(default=None, max_length=200)  # argon2id; None: not set
    # the one-time password-setting link: only a digest, until it is used or expires
    setup_digest: str | None = Field(default=None, max_length=64, unique=True)
    setup_expires_at: dt.datetime | None = Field(default=None, sa_type=models.UTCDateTime)
    created_at: dt.datetime = Field(default_factory=models.now_utc, sa_type=models.UTCDateTime)
    disabled_at: dt.datetime | None = Field(default=None, sa_type=models.UTCDateTime)


class PortalSession(SQLModel, table=True):
    """A signed-in session; the cookie holds its signed id, the table only a digest of it."""

    __tablename__ = "portal_session"

    id: int | None = Field(default=None, primary_key=True)
    digest: str = Field(max_length=64, unique=True)
    account_id: int = Field(foreign_key="portal_account.id", index=True)
    created_at: dt.datetime = Field(default_factory=models.now_utc, sa_type=models.UTCDateTime)
    expires_at: dt.datetime = Field(sa_type=models.UTCDateTime)
    ended_at: dt.datetime | None = Field(default=None, sa_type=models.UTCDateTime)


class LoginAttempt(SQLModel, table=True):
    """One attempt to sign in, kept for the lockout (per account and per address)."""

    __tablename__ = "login_attempt"
    __table_args__ = (
        sa.Index("ix_login_attempt_login", "login", "at"),
        sa.Index("ix_login_attempt_address", "address", "at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    at: dt.datetime = Field(default_factory=models.now_utc, sa_type=models.UTCDateTime)
    login: str = Field(max_length=100)
    address: str = Field(max_length=64)  # keyed digest of the client's address
    succeeded: bool


class Application(SQLModel, table=True):
    """An application from the public, tracked by its number. An objection or repair names the
    record and the workflow's objection or repair it opened; a report names the department that
    must handle it and, when the reporter gave one, the record it is about."""

    __tablename__ = "application"
    __table_args__ = (sa.Index("ix_application_address", "address", "filed_at"),)

    id: int | None = Field(default=None, primary_key=True)
    tracking_no: str = Field(max_length=32, unique=True)
    type: ApplicationType = Field(sa_type=models.enum_column(ApplicationType))
    department_id: int = Field(foreign_key="department.id", index=True)  # who must act
    record_kind: models.RecordKind | None = Field(
        default=None, sa_type=models.enum_column(models.RecordKind)
    )
    record_id: int | None = Field(default=None)
    objection_id: int | None = Field(default=None, foreign_key="objection.id")
    repair_id: int | None = Field(default=None, foreign_key="repair.id")
    filed_on: dt.date
    filed_at: dt.datetime = Field(default_factory=models.now_utc, sa_type=models.UTCDateTime)
    # an objection's or repair's applicant (the subject) and its contact; never public
    applicant: str | None = Field(default=None, max_length=200)
    contact: str | None = Field(default=None, max_length=200)
    reported_party: str | None = Field(default=None, max_length=200)  # 被举报人 (reports)
    text: str  # grounds, commitment, or what the report tells
    address: str = Field(max_length=64)  # keyed digest of the filer's address (spam limits)
    report_status: ReportStatus | None = Field(
        default=None, sa_type=models.enum_column(ReportStatus)
    )
    handled_on: dt.date | None = Field(default=None)


class Reporter(SQLModel, table=True):
    """举报人信息: who reported and how to reach them, kept apart and never published."""

    __tablename__ = "reporter"

    id: int | None = Field(default=None, primary_key=True)
    application_id: int = Field(foreign_key="application.id", unique=True)
    name: str = Field(max_length=100)
    contact: str = Field(max_length=200)


class Attachment(SQLModel, table=True):
    """A file sent with an application, stored outside the site under its digest."""

    __tablename__ = "attachment"

    id: int | None = Field(default=None, primary_key=True)
    application_id: int = Field(foreign_key="application.id", index=True)
    filename: str = Field(max_length=200)
    media_type: str = Field(max_length=50)  # by content: application/pdf, image/jpeg, image/png
    size: int
    sha256: str = Field(max_length=64)
