"""Portal accounts: created by the operator with a one-time password-setting link, passwords
hashed with argon2id, sessions kept as digests, and sign-in attempts limited per account and per
address with a lockout that says when it ends."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import hmac
import secrets

import argon2
from sqlmodel import Session, col, func, select

from disclosure import models
from disclosure import portal_models as pm

SETUP_VALID = dt.timedelta(hours=72)  # a password-setting link
SESSION_VALID = dt.timedelta(hours=8)  # a working day, then sign in again
LOCKOUT_WINDOW = dt.timedelta(minutes=15)
ACCOUNT_FAILURES = 5  # failures of one account within the window lock it
ADDRESS_FAILURES = 20  # failures from one address within the window lock the address
PASSWORD_MIN = 12

_hasher = argon2.PasswordHasher()  # argon2id with the library's current parameters


class AccountError(ValueError):
    """An account command or a password that cannot be accepted; the message says why."""


class LockedOut(Exception):
    """Too many failed sign-ins: `until` is when the next attempt is allowed."""

    def __init__(self, until: dt.datetime) -> None:
        super().__init__(f"locked until {until.isoformat()}")
        self.until = until


class BadCredentials(Exception):
    """An unknown login, a wrong password, or an account without a password (one message)."""


def digest(secret: str) -> str:
    """What is stored of a secret (a setup link or a session id)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def address_key(address: str, key: bytes) -> str:
    """A client address as the portal keeps it: keyed, so the table names no one's address."""
    return hmac.new(key, address.encode(), hashlib.sha256).hexdigest()


def create(
    session: Session,
    *,
    unit_code: str,
    role: models.Role,
    name: str,
    login: str | None = None,
    now: dt.datetime | None = None,
) -> tuple[pm.Account, str]:
    """A new account of the department with credit code `unit_code`, and the secret of its
    one-time password-setting link (shown once)."""
    unit = session.exec(
        select(models.Department).where(col(models.Department.credit_code) == unit_code.upper())
    ).first()
    if unit is None:
        raise AccountError(f"没有统一社会信用代码为 {unit_code} 的单位 / no department {unit_code}")
    if not name.strip():
        raise AccountError("--name 不能为空 / the account needs a name")
    login = (login or name).strip()
    taken = session.exec(select(pm.Account).where(col(pm.Account.login) == login)).first()
    if taken is not None:
        raise AccountError(f"登录名 {login} 已被使用 / the login {login} is taken")
    assert unit.id is not None
    secret = secrets.token_urlsafe(32)
    now = now or models.now_utc()
    account = pm.Account(
        login=login,
        name=name.strip(),
        unit_id=unit.id,
        role=role,
        setup_digest=digest(secret),
        setup_expires_at=now + SETUP_VALID,
        created_at=now,
    )
    session.add(account)
    session.flush()
    return account, secret


def setup_account(session: Session, secret: str, now: dt.datetime) -> pm.Account | None:
    """The account whose password-setting link `secret` is, while the link is valid."""
    account = session.exec(
        select(pm.Account).where(col(pm.Account.setup_digest) == digest(secret))
    ).first()
    if account is None or account.setup_expires_at is None or account.setup_expires_at < now:
        return None
    return account


def set_password(session: Session, account: pm.Account, password: str, repeated: str) -> None:
    """Set the account's password and spend its setup link; AccountError says what is wrong."""
    if password != repeated:
        raise AccountError("两次输入的密码不一致 / the passwords differ")
    if len(password) < PASSWORD_MIN:
        raise AccountError(f"密码至少 {PASSWORD_MIN} 个字符 / at least {PASSWORD_MIN} characters")
    if password.strip().lower() in {account.login.lower(), account.name.lower()}:
        raise AccountError("密码不能与登录名相同 / the password cannot be the login")
    account.password_hash = _hasher.hash(password)
    account.setup_digest = None
    account.setup_expires_at = None
    session.add(account)


def _failures_since(
    session: Session, column: str, value: str, since: dt.datetime
) -> list[dt.datetime]:
    attribute = getattr(pm.LoginAttempt, column)
    last_success = session.exec(
        select(func.max(pm.LoginAttempt.at)).where(
            col(attribute) == value, col(pm.LoginAttempt.succeeded)
        )
    ).one()
    start = max(since, last_success) if last_success is not None else since
    return list(
        session.exec(
            select(pm.LoginAttempt.at)
            .where(
                col(attribute) == value,
                col(pm.LoginAttempt.succeeded).is_(False),
                col(pm.LoginAttempt.at) > start,
            )
            .order_by(col(pm.LoginAttempt.at))
        ).all()
    )


def locked_until(
    session: Session, login: str, address: str, now: dt.datetime
) -> dt.datetime | None:
    """When the lockout of this login or address ends, if one is on at `now`."""
    ends = []
    for column, value, most in (
        ("login", login, ACCOUNT_FAILURES),
        ("address", address, ADDRESS_FAILURES),
    ):
        failures = _failures_since(session, column, value, now - LOCKOUT_WINDOW)
        if len(failures) >= most:
            ends.append(failures[-1] + LOCKOUT_WINDOW)
    return max(ends) if ends else None


@dataclasses.dataclass(frozen=True)
class SignedIn:
    """A new session: its secret id (for the cookie) and the account."""

    secret: str
    account: pm.Account
    session: pm.PortalSession


def sign_in(
    session: Session, login: str, password: str, *, address: str, now: dt.datetime
) -> SignedIn:
    """A new session for `login` if `password` is its password and no lockout is on; records
    the attempt either way. LockedOut before the password is even checked."""
    login = login.strip()[:100]
    until = locked_until(session, login, address, now)
    if until is not None:
        raise LockedOut(until)
    account = session.exec(select(pm.Account).where(col(pm.Account.login) == login)).first()
    ok = False
    if account is not None and account.password_hash and account.disabled_at is None:
        try:
            ok = _hasher.verify(account.password_hash, password)
        except argon2.exceptions.VerificationError:
            ok = False
    else:
        _hasher.hash(password)  # the same time as a real check: no telling which logins exist
    session.add(pm.LoginAttempt(at=now, login=login, address=address, succeeded=ok))
    if not ok or account is None:
        session.flush()
        raise BadCredentials()
    if account.password_hash and _hasher.check_needs_rehash(account.password_hash):
        account.password_hash = _hasher.hash(password)
        session.add(account)
    assert account.id is not None
    secret = secrets.token_urlsafe(32)
    row = pm.PortalSession(
        digest=digest(secret), account_id=account.id, created_at=now, expires_at=now + SESSION_VALID
    )
    session.add(row)
    session.flush()
    return SignedIn(secret, account, row)


def current(
    session: Session, secret: str, now: dt.datetime
) -> tuple[pm.PortalSession, pm.Account] | None:
    """The live session with the secret id `secret` and its account, or None."""
    row = session.exec(
        select(pm.PortalSession).where(col(pm.PortalSession.digest) == digest(secret))
    ).first()
    if row is None or row.ended_at is not None or row.expires_at <= now:
        return None
    account = session.get(pm.Account, row.account_id)
    if account is None or account.disabled_at is not None:
        return None
    return row, account


def sign_out(session: Session, row: pm.PortalSession, now: dt.datetime) -> None:
    """End the session now."""
    row.ended_at = now
    session.add(row)


def unit_of(session: Session, account: pm.Account) -> models.Department:
    """The department the account belongs to."""
    unit = session.get(models.Department, account.unit_id)
    assert unit is not None
    return unit
