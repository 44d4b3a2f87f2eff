"""Commands of the platform operator: API tokens, portal accounts, the audit trail, overdue
deadlines."""

from __future__ import annotations

import datetime as dt

import click

from disclosure import (
    accounts,
    audit,
    db,
    models,
    timeliness,
    tokens,
)
from disclosure.queries import figures
from gongshi.env import Env, as_of_date, as_of_option, console, user_errors

# who a token or an account is for: a department (by its credit code) and its role there
_unit_option = click.option(
    "--unit", "unit_code", required=True, help="The department's credit code."
)
_role_option = click.option(
    "--role",
    type=click.Choice([role.value for role in models.Role]),
    default=models.Role.DEPARTMENT.value,
    show_default=True,
)


@click.group()
def token() -> None:
    """API tokens of the departments and the operator."""


@token.command(name="create")
@_unit_option
@_role_option
@click.option("--expires", type=click.DateTime(formats=["%Y-%m-%d"]), default=None)
@click.pass_obj
def token_create(env: Env, unit_code: str, role: str, expires: dt.datetime | None) -> None:
    """Create a token and print its secret, once: only a digest of it is kept."""
    with user_errors():
        env.require_schema()
        with db.transaction(env.engine) as session:
            created, secret = tokens.create(
                session,
                unit_code=unit_code,
                role=models.Role(role),
                expires_on=expires.date() if expires else None,
            )
    console.print(f"token #{created.id} for {created.unit.name} ({role}); its secret, shown once:")
    click.echo(secret)


@token.command(name="list")
@click.pass_obj
def token_list(env: Env) -> None:
    """List tokens (never their secrets)."""
    with user_errors():
        env.require_schema()
        with db.transaction(env.engine) as session:
            found = tokens.all_tokens(session)
            for row in found:
                revoked = f"revoked {row.revoked_at:%Y-%m-%d %H:%M}" if row.revoked_at else "live"
                click.echo(
                    f"#{row.id}\t{row.unit.credit_code}\t{row.unit.name}\t{row.role.value}\t"
                    f"created {row.created_at:%Y-%m-%d %H:%M}\t"
                    f"expires {row.expires_on or 'never'}\t{revoked}"
                )


@token.command(name="revoke")
@click.argument("token_id", type=int)
@click.pass_obj
def token_revoke(env: Env, token_id: int) -> None:
    """Revoke a token from now on."""
    with user_errors():
        env.require_schema()
        with db.transaction(env.engine) as session:
            tokens.revoke(session, token_id)
    console.print(f"token #{token_id} revoked")


@click.command(name="audit")
@click.option("--since", type=click.DateTime(formats=["%Y-%m-%d"]), required=True)
@click.pass_obj
def audit_command(env: Env, since: dt.datetime) -> None:
    """Print the audit trail of API and portal writes since a day (UTC)."""
    with user_errors():
        env.require_schema()
        with db.transaction(env.engine) as session:
            entries = audit.since(session, since.date())
    for entry in entries:
        records = ",".join(entry.records) or "-"
        click.echo(
            f"{entry.at:%Y-%m-%dT%H:%M:%SZ}\ttoken={entry.token_id or '-'}\t"
            f"unit={entry.unit_id or '-'}\tuser={entry.user_id or '-'}\t{entry.operation}\t"
            f"{records}\t{entry.outcome}"
        )


@click.command(name="overdue")
@as_of_option
@click.pass_obj
def overdue_command(env: Env, as_of: dt.datetime | None) -> None:
    """List objections and repair applications past their due day, and late withdrawals."""
    on = as_of_date(as_of)
    with user_errors():
        env.require_schema()
        with db.transaction(env.engine) as session:
            late = figures.overdue(session, on)
            slow = figures.late_withdrawals(session, env.calendar())
    for objection in late.objections:
        click.echo(
            f"objection #{objection.id}\t{objection.record_kind.value}:{objection.record_id}\t"
            f"opened {objection.opened_on}\tdue {objection.due_on}"
        )
    for repair in late.repairs:
        click.echo(
            f"repair #{repair.id}\t{repair.record_kind.value}:{repair.record_id}\t"
            f"applied {repair.applied_on}\tdue {repair.due_on}"
        )
    for withdrawal in slow:
        click.echo(
            f"late withdrawal #{withdrawal.id}\t{withdrawal.record_kind.value}:"
            f"{withdrawal.record_id}\tdecision changed {withdrawal.decision_changed_on}\t"
            f"withdrawn {withdrawal.withdrawn_on}"
        )
    click.echo(
        f"as of {on}: {len(late.objections)} objections and {len(late.repairs)} repairs overdue, "
        f"{len(slow)} withdrawals later than {timeliness.WITHDRAWAL_WORKING_DAYS} working days"
    )


@click.group()
def user() -> None:
    """Portal accounts of departments' clerks and the bureau's officials."""


@user.command(name="create")
@_unit_option
@_role_option
@click.option("--name", required=True, help="The person's name, shown in the portal.")
@click.option("--login", default=None, help="The login name [default: --name].")
@click.pass_obj
def user_create(env: Env, unit_code: str, role: str, name: str, login: str | None) -> None:
    """Create a portal account and print its one-time password-setting link (valid 72 hours)."""
    with user_errors():
        env.require_schema()
        with db.transaction(env.engine) as session:
            created, secret = accounts.create(
                session, unit_code=unit_code, role=models.Role(role), name=name, login=login
            )
            unit = accounts.unit_of(session, created)
    console.print(
        f"account #{created.id} {created.login} of {unit.name} ({role}); its password-setting "
        f"link, valid until {created.setup_expires_at:%Y-%m-%d %H:%M} UTC and shown once:",
        soft_wrap=True,
    )
    click.echo(env.settings.urls.portal(f"password/{secret}"))
