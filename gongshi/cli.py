"""The `gongshi` command line: the one place that wires settings, database and packages."""

from __future__ import annotations

import os

import click

from gongshi import admin, publishing, records, reports, screening, serving
from gongshi.env import Env, user_errors


@click.group()
@click.version_option(package_name="gongshi", prog_name="gongshi", message="%(prog)s %(version)s")
@click.pass_context
def main(ctx: click.Context) -> None:
    """gongshi: publication of public credit information (双公示, red and black lists)."""
    with user_errors():
        ctx.obj = Env(dict(os.environ))
    ctx.call_on_close(ctx.obj.close)


for _command in (
    records.init,
    records.sample_command,
    records.lifecycle_command,
    records.index_command,
    records.ingest_command,
    publishing.publish,
    serving.serve,
    serving.demo,
    admin.token,
    admin.user,
    admin.audit_command,
    admin.overdue_command,
    reports.report,
    screening.match_command,
):
    main.add_command(_command)
