"""API tokens: a random secret shown once, kept only as a digest."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Sequence

from sqlmodel import Session, col, select

from disclosure import models

SECRET_BYTES = 32  # 256 bits


class Unauthenticated(Exception):
    """A missing, unknown, revoked or expired token."""


class TokenError(ValueError):
    """A token command that cannot be carried out."""


def digest(secret: str) -> str:
    """What is stored of a secret."""
    return hashlib.sha256(secret.encode()).hexdigest()


def create(
    session: Session,
    *,
    unit_code: str,
    role: models.Role,
    expires_on: dt.date | None = None,
) -> tuple[models.Token, str]:
    """A new token for the department with credit code `unit_code`, and its secret (shown once)."""
    unit = session.exec(
        select(models.Department).where(col(models.Department.credit_code) == unit_code)
    ).first()
    if unit is None:
        raise TokenError(f"no department with credit code {unit_code}")
    assert unit.id is not None
    secret = "gs_" + secrets.token_urlsafe(SECRET_BYTES)
    token = models.Token(unit_id=unit.id, role=role, digest=digest(secret), expires_on=expires_on)
    token.unit = unit
    session.add(token)
    session.flush()
    return token, secret


def authenticate(session: Session, secret: str | None, on: dt.date) -> models.Token:
    """The live token for `secret` on `on`, or Unauthenticated (one message for every case,
    so a caller learns nothing about which tokens exist)."""
    if not secret:
        raise Unauthenticated("a token is required: Authorization: Bearer <token>")
    token = session.exec(
        select(models.Token).where(col(models.Token.digest) == digest(secret))
    ).first()
    if (
        token is None
        or token.revoked_at is not None
        or (token.expires_on is not None and token.expires_on < on)
    ):
        raise Unauthenticated("the token is unknown, revoked or expired")
    return token


def all_tokens(session: Session) -> Sequence[models.Token]:
    """Every token, newest first."""
    return session.exec(select(models.Token).order_by(col(models.Token.id).desc())).all()


def revoke(session: Session, token_id: int) -> models.Token:
    """Revoke a token from now on."""
    token = session.get(models.Token, token_id)
    if token is None:
        raise TokenError(f"no token #{token_id}")
    if token.revoked_at is None:
        token.revoked_at = models.now_utc()
        session.add(token)
    return token
