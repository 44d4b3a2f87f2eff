"""Withdraws N public penalties through the workflows: the changes behind an incremental publish.

argv: N, the date, and `oldest` (the N lowest ids: how expiry moves through the records) or
`spread` (N drawn at random over every public penalty: the worst case for a search index in
bundles by id range)."""

import datetime as dt
import os
import random
import sys

from sqlmodel import Session, col, select

from disclosure import db, endings, lifecycle, models, settings, workflows

count, on, how = int(sys.argv[1]), dt.date.fromisoformat(sys.argv[2]), sys.argv[3]
engine = db.create_engine(settings.Settings.from_env(os.environ).database_url)
with Session(engine) as session, session.begin():
    public = select(models.Penalty.id).where(lifecycle.public_clause(models.Penalty, on))
    ids = [i for i in session.exec(public.order_by(col(models.Penalty.id))).all() if i is not None]
    chosen = ids[:count] if how == "oldest" else sorted(random.Random(20261128).sample(ids, count))
    found = session.exec(select(models.Penalty).where(col(models.Penalty.id).in_(chosen))).unique()
    ctx = workflows.Context(actor="bench", on=on)
    for penalty in found:
        endings.withdraw(
            session, penalty, kind=models.WithdrawalKind.CHANGED, reason="决定变更", ctx=ctx
        )
