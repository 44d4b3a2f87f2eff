"""The floor for bench.sample_data: plain sqlite3 inserts into the same schema."""

import datetime as dt
import sqlite3
import sys

from sqlmodel import SQLModel

from disclosure import db, models  # noqa: F401 (registers the tables)

engine = db.create_engine("sqlite:///peer.db")
SQLModel.metadata.create_all(engine)
engine.dispose()
n = int(sys.argv[1])
c = sqlite3.connect("peer.db")
c.execute("PRAGMA journal_mode=WAL")
c.execute("PRAGMA synchronous=NORMAL")
c.execute("PRAGMA cache_size=-65536")
c.execute("INSERT INTO department (id, credit_code, name) VALUES (1, 'x', 'x')")
c.executemany(
    "INSERT INTO subject (id, category, name) VALUES (?, 'legal_person', ?)",
    ((i, f"s{i}") for i in range(1, n // 3 + 1)),
)
day = dt.date(2023, 1, 1)


def on(i: int, extra: int = 0) -> str:
    return str(day + dt.timedelta(days=i * 1400 // n + extra))


c.executemany(
    "INSERT INTO penalty (id, subject_id, authority_id, source_unit_id, decision_doc_no,"
    " decision_on, published_on, created_at, updated_at, violation_type, violation_facts,"
    " legal_basis, categories, content, severity, publicity_end_on)"
    " VALUES (?, ?, 1, 1, ?, ?, ?, '2026-01-01', '2026-01-01', '违法行为', '违法事实',"
    " '处罚依据', '罚款', '罚款2000元', 'general', ?)",
    (
        (i, i % (n // 3) + 1, f"罚〔2024〕{i}号", on(i), on(i, 3), on(i, 365))
        for i in range(1, n + 1)
    ),
)
c.executemany(
    "INSERT INTO event (record_kind, record_id, type, occurred_at, effective_on, actor, payload)"
    " VALUES ('penalty', ?, 'PUBLISHED', '2026-01-01', '2026-01-01', 'peer', '{}')",
    ((i,) for i in range(1, n + 1)),
)
c.commit()
