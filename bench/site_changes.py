"""Withdraws N public penalties through the workflows: the changes behind an incremental publish."""

import datetime as dt
import os
import sys

from sqlmodel import Session, col, select

from disclosure import db, lifecycle, models, settings, workflows

count, on = int(sys.argv[1]), dt.date.fromisoformat(sys.argv[2])
engine = db.create_engine(settings.Settings.from_env(os.environ).database_url)
with Session(engine) as session, session.begin():
    found = session.exec(
        select(models.Penalty)
        .where(lifecycle.public_clause(models.Penalty, on))
        .order_by(col(models.Penalty.id))
        .limit(count)
    ).unique()
    ctx = workflows.Context(actor="bench", on=on)
    for penalty in found:
        workflows.withdraw(
            session, penalty, kind=models.WithdrawalKind.CHANGED, reason="决定变更", ctx=ctx
        )
