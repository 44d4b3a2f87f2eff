"""Portal accounts: lockouts per account and per address, sessions that expire and end."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from sqlmodel import Session

from disclosure import accounts, db, models
from tests import factories

NOW = dt.datetime(2026, 6, 1, 2, 0, tzinfo=dt.UTC)
PASSWORD = "correct horse battery"


def _account(session: Session, login: str) -> None:
    unit = factories.add_department(session)
    created, _secret = accounts.create(
        session, unit_code=unit.credit_code, role=models.Role.DEPARTMENT, name=login
    )
    accounts.set_password(session, created, PASSWORD, PASSWORD)


def test_failures_from_one_address_lock_it_for_every_login(session: Session) -> None:
    _account(session, "wangfang")
    for n in range(accounts.ADDRESS_FAILURES):
        with pytest.raises(accounts.BadCredentials):
            accounts.sign_in(
                session, f"guess{n}", "x", address="a1", now=NOW + dt.timedelta(seconds=n)
            )
    last = NOW + dt.timedelta(seconds=accounts.ADDRESS_FAILURES - 1)
    with pytest.raises(accounts.LockedOut) as locked:
        accounts.sign_in(session, "wangfang", PASSWORD, address="a1", now=last)
    assert locked.value.until == last + accounts.LOCKOUT_WINDOW
    # from another address the account is free, and so is this address once the time is up
    assert accounts.sign_in(session, "wangfang", PASSWORD, address="a2", now=last).account
    later = locked.value.until + dt.timedelta(seconds=1)
    assert accounts.sign_in(session, "wangfang", PASSWORD, address="a1", now=later).account


def test_a_success_clears_the_failures_before_it(session: Session) -> None:
    _account(session, "wangfang")
    for _ in range(accounts.ACCOUNT_FAILURES - 1):
        with pytest.raises(accounts.BadCredentials):
            accounts.sign_in(session, "wangfang", "x", address="a1", now=NOW)
    accounts.sign_in(session, "wangfang", PASSWORD, address="a1", now=NOW)
    with pytest.raises(accounts.BadCredentials):
        accounts.sign_in(session, "wangfang", "x", address="a1", now=NOW)
    assert accounts.locked_until(session, "wangfang", "a1", NOW) is None


def test_a_session_ends_at_sign_out_or_after_its_time(session: Session) -> None:
    _account(session, "wangfang")
    signed = accounts.sign_in(session, "wangfang", PASSWORD, address="a1", now=NOW)
    assert accounts.current(session, signed.secret, NOW) == (signed.session, signed.account)
    assert accounts.current(session, signed.secret, NOW + accounts.SESSION_VALID) is None
    accounts.sign_out(session, signed.session, NOW)
    assert accounts.current(session, signed.secret, NOW) is None
    assert accounts.current(session, "not a session", NOW) is None


def test_a_setup_link_expires(session: Session) -> None:
    unit = factories.add_department(session)
    created, secret = accounts.create(
        session, unit_code=unit.credit_code, role=models.Role.OPERATOR, name="管理员", now=NOW
    )
    assert accounts.setup_account(session, secret, NOW) == created
    assert (
        accounts.setup_account(session, secret, NOW + accounts.SETUP_VALID + dt.timedelta(1))
        is None
    )


def test_the_portal_migration_goes_down_keeping_the_audit_trail_append_only(
    tmp_path: Path,
) -> None:
    engine = db.create_engine(f"sqlite:///{tmp_path / 'm.db'}")
    db.upgrade(engine)
    config = db.alembic_config(engine)
    command.downgrade(config, "0008")  # the revision before the portal
    with engine.begin() as connection:
        connection.exec_driver_sql(
            "INSERT INTO audit_entry (at, operation, records, outcome) "
            "VALUES ('2026-06-01 00:00:00', 'x', '[]', 'ok')"
        )
    with pytest.raises(sa.exc.DatabaseError, match="append-only"), engine.begin() as connection:
        connection.exec_driver_sql("UPDATE audit_entry SET outcome = 'changed'")
    command.upgrade(config, "head")
    assert db.current_revision(engine) == db.head_revision(engine)
    engine.dispose()
