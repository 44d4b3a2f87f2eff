"""Search: whoosh shards and the database backend (`GONGSHI_SEARCH=database`, through the same
`Searcher` interface) beside a raw SQLite FTS5 query over the same bigram tokens (the peer).

Builds a sample database, fills the database backend's search rows (`gongshi index` with
GONGSHI_SEARCH=database), indexes it with whoosh and into a bare FTS5 table, then times the same
queries on each: name fragments, body keywords and credit codes, with and without a kind
filter; and 1,000 changes.
`BENCH_SEARCH_DB=/path/gongshi.db` searches a copy of an existing database instead of a new
sample (migrated first; its search rows filled the same way).

`BENCH_SEARCH_POSTGRES_URL` names a PostgreSQL database to empty and fill with the same sample:
then the database backend's name fragments are also timed there (tsvector and GIN) beside FTS5.

`GONGSHI_BENCH_KEEP_DATA=/path` keeps the data folder it built (database and index) there, for
bench.api, bench.overload and bench.feeds (`GONGSHI_BENCH_DB`) and bench.soak
(`GONGSHI_BENCH_SOAK_DATA`).
"""

from __future__ import annotations

import datetime as dt
import functools
import os
import random
import resource
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from sqlmodel import Session, col, select

from bench import report
from disclosure import db, endings, lifecycle, models, privacy, workflows
from search_index import analysis, database, documents, indexer, search

RECORDS = int(os.environ.get("BENCH_SEARCH_RECORDS", "100000"))
POSTGRES_URL = os.environ.get("BENCH_SEARCH_POSTGRES_URL")
_EMPTY_POSTGRES = (
    "import sqlalchemy as sa, sys; e = sa.create_engine(sys.argv[1]);"
    "c = e.connect(); c.exec_driver_sql('DROP SCHEMA public CASCADE');"
    "c.exec_driver_sql('CREATE SCHEMA public'); c.commit()"
)
ON = dt.date(2026, 11, 28)
QUERIES = 200
BODY_WORDS = (
    "食品安全",
    "罚款",
    "许可证",
    "施工",
    "排污",
    "工资",
    "广告",
    "安全生产",
    "卫生",
    "违法建设",
)


def _fts_build(database: Path, engine_url: str) -> tuple[float, int]:
    """Index every public record's document into FTS5 as space-joined bigram tokens."""
    started = time.perf_counter()
    connection = sqlite3.connect(database)
    connection.execute(
        "CREATE VIRTUAL TABLE docs USING fts5(kind UNINDEXED, name, body,"
        " authority, credit_code UNINDEXED, tokenize='unicode61')"
    )
    engine = db.create_engine(engine_url)
    rows = 0
    with Session(engine) as session:
        for kind, model in models.RECORD_MODELS.items():
            batch = []
            statement = select(model).where(lifecycle.public_clause(model, ON))
            for record in session.exec(statement.execution_options(yield_per=1000)):
                doc = documents.document(privacy.project(record, ON))  # type: ignore[arg-type]
                batch.append(
                    (
                        _rowid(kind, doc["record_id"]),
                        kind.value,
                        _tokens(doc["name"]),
                        _tokens(doc["body"]),
                        _tokens(doc["authority"]),
                        doc["credit_code"],
                    )
                )
                if len(batch) >= 5000:
                    connection.executemany(
                        _FTS_INSERT,
                        batch,
                    )
                    rows += len(batch)
                    batch = []
            connection.executemany(
                _FTS_INSERT,
                batch,
            )
            rows += len(batch)
    connection.commit()
    connection.close()
    engine.dispose()
    return time.perf_counter() - started, rows


_FTS_INSERT = (
    "INSERT INTO docs(rowid, kind, name, body, authority, credit_code) VALUES (?, ?, ?, ?, ?, ?)"
)


def _rowid(kind: models.RecordKind, record_id: int) -> int:
    """One rowid space for the three kinds (the FTS peer's key)."""
    return list(models.RecordKind).index(kind) * 10**12 + record_id


def _tokens(text: str) -> str:
    return " ".join(token.text for token in analysis.analyzer()(text))


def _fts_query(
    connection: sqlite3.Connection, text: str, kind: str | None, count: bool = False
) -> list[int]:
    """A page of 20 by rank, and with `count` the number of all matches, as a search counts."""
    words = " AND ".join(f'"{word}"' for word in analysis.terms(text))
    where = "docs MATCH ?"
    parameters: list[str] = [words]
    if kind is not None:
        where += " AND kind = ?"
        parameters.append(kind)
    page = "SELECT rowid FROM docs WHERE " + where + " ORDER BY rank LIMIT 20"
    found = [row[0] for row in connection.execute(page, parameters)]
    if count:
        connection.execute("SELECT count(*) FROM docs WHERE " + where, parameters).fetchone()
    return found


def _records(path: Path) -> int:
    with sqlite3.connect(path) as connection:
        return sum(
            connection.execute(f"SELECT count(*) FROM {model.__tablename__}").fetchone()[0]
            for model in models.RECORD_MODELS.values()
        )


def _times(function: Callable[[str], object], texts: Sequence[str]) -> tuple[float, ...]:
    found = []
    for text in texts:
        started = time.perf_counter()
        function(text)
        found.append(time.perf_counter() - started)
    return tuple(found)


def _timing(label: str, command: str, seconds: tuple[float, ...]) -> report.Timing:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return report.Timing(label, command, seconds, peak, len(seconds), "queries", latency=True)


def _with_highlights(searcher: database.DatabaseSearcher, text: str) -> None:
    for hit in searcher.search(text, counts="none").hits:
        dict(hit.highlights)


def _folder_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 2**20


def _postgres(
    gongshi: str,
    workdir: Path,
    env: dict[str, str],
    fragments: list[str],
    peer: report.Timing | None,
) -> report.Result:
    """The same sample in PostgreSQL, its name fragments searched by the database backend."""
    assert POSTGRES_URL is not None
    postgres_env = {**env, "DATABASE_URL": POSTGRES_URL}
    subprocess.run([sys.executable, "-c", _EMPTY_POSTGRES, POSTGRES_URL], check=True)
    for step in (["init"], ["sample", "--records", str(RECORDS), "--as-of", ON.isoformat()]):
        subprocess.run(
            [gongshi, *step], cwd=workdir, env=postgres_env, check=True, capture_output=True
        )
    subprocess.run(
        [gongshi, "index"],
        cwd=workdir,
        env={**postgres_env, "GONGSHI_SEARCH": "database"},
        check=True,
        capture_output=True,
    )
    engine = db.create_engine(POSTGRES_URL)
    searcher = database.DatabaseSearcher(engine, on=ON)
    for text in fragments[:5]:  # warm the connection and the server's cache
        searcher.search(text, counts="none")
    ours = _timing(
        "database backend (PostgreSQL) name fragments (4 characters)",
        "DatabaseSearcher.search(text, limit=20, counts='none')",
        _times(functools.partial(searcher.search, counts="none"), fragments),
    )
    searcher.close()
    engine.dispose()
    return report.Result(
        f"Search latency (database backend, PostgreSQL), name fragments (4 characters),"
        f" {RECORDS:,} records",
        ours,
        peer,
        "p50 <= 2 x the raw FTS5 query's",
        notes="The same sample written into a local PostgreSQL (tsvector with a GIN index).",
    )


def run(workdir: Path) -> list[report.Result]:
    gongshi = str(Path(sys.executable).with_name("gongshi"))
    env = {**os.environ, "GONGSHI_DATA_DIR": str(workdir / "var")}
    env.pop("DATABASE_URL", None)
    existing = os.environ.get("BENCH_SEARCH_DB")
    steps = [["init"], ["sample", "--records", str(RECORDS), "--as-of", ON.isoformat()]]
    if existing:  # a copy: the original is never migrated or written
        (workdir / "var").mkdir(parents=True, exist_ok=True)
        shutil.copyfile(existing, workdir / "var" / "gongshi.db")
        steps = [["init"]]
    for step in steps:
        subprocess.run([gongshi, *step], cwd=workdir, env=env, check=True, capture_output=True)
    records = _records(workdir / "var" / "gongshi.db")
    build = report.measure(
        "gongshi index --rebuild (whoosh, 3 shards, 2 processes)",
        [gongshi, "index", "--rebuild", "--as-of", ON.isoformat()],
        cwd=workdir,
        env=env,
        units=records,
        unit="records",
    )
    database_build = report.measure(
        "gongshi index --rebuild (GONGSHI_SEARCH=database: rewrite every search row)",
        [gongshi, "index", "--rebuild"],
        cwd=workdir,
        env={**env, "GONGSHI_SEARCH": "database"},
        units=records,
        unit="records",
    )
    url = f"sqlite:///{workdir / 'var' / 'gongshi.db'}"
    fts_seconds, fts_rows = _fts_build(workdir / "fts.db", url)
    fts_build = report.Timing(
        "FTS5 unicode61, same bigrams", "in-process", (fts_seconds,), 0, fts_rows, "records"
    )
    whoosh_mb, fts_mb = (
        _folder_mb(workdir / "var" / "index"),
        (workdir / "fts.db").stat().st_size / 2**20,
    )

    engine = db.create_engine(url)
    rng = random.Random(1)
    with Session(engine) as session:
        subjects = session.exec(
            select(models.Subject).where(col(models.Subject.credit_code).is_not(None)).limit(5000)
        ).all()
    names = [s.name for s in rng.sample(list(subjects), min(QUERIES, len(subjects)))]
    fragments = [name[6:10] if name.startswith("湛江市赤坎区") else name[3:7] for name in names]
    bodies = [rng.choice(BODY_WORDS) for _ in range(QUERIES)]
    codes = [s.credit_code or "" for s in rng.sample(list(subjects), min(QUERIES, len(subjects)))]

    searcher = search.Searcher(workdir / "var" / "index")
    in_database = database.DatabaseSearcher(engine, on=ON)
    fts = sqlite3.connect(workdir / "fts.db")
    penalty = models.RecordKind.PENALTY
    peer_fragments: report.Timing | None = None
    results = [
        report.Result(
            title=f"Search index build: {records:,} records",
            ours=build,
            peer=fts_build,
            target="full build of 1,000,000 records < 20 minutes",
            notes=f"Index size: whoosh {whoosh_mb:.0f} MB, FTS5 {fts_mb:.0f} MB.",
        ),
        report.Result(
            title=f"Search rows rewritten (database backend): {records:,} records",
            ours=database_build,
            peer=fts_build,
            target="none needed to serve: the writers write the rows with the data",
        ),
    ]
    for title, texts, target in (
        ("name fragments (4 characters)", fragments, "at 1M: p50 < 20 ms, p99 < 100 ms"),
        ("body keywords", bodies, "at 1M: p50 < 150 ms, p99 < 500 ms"),
        ("credit codes", codes, "exact match first"),
    ):
        variants: list[tuple[models.RecordKind | None, search.Counts, str]] = [
            (None, "none", ""),
            (penalty, "none", " + kind filter"),
        ]
        if title != "credit codes":
            variants.append((None, "kinds", " + totalCount"))
        peer_page: report.Timing | None = None
        for kind, counts, suffix in variants:
            ours = _timing(
                f"whoosh {title}{suffix}",
                f"Searcher.search(text, limit=20, counts={counts!r})",
                _times(
                    functools.partial(
                        searcher.search, kinds=[kind] if kind else None, counts=counts
                    ),
                    texts,
                ),
            )
            peer = _timing(
                f"FTS5 {title}{suffix}",
                "MATCH … ORDER BY rank LIMIT 20" + (" + count(*)" if counts != "none" else ""),
                _times(
                    functools.partial(
                        _fts_query, fts, kind=kind.value if kind else None, count=counts != "none"
                    ),
                    texts,
                ),
            )
            if kind is None and counts == "none":
                peer_page = peer
                if title.startswith("name fragments"):
                    peer_fragments = peer
            in_db = _timing(
                f"database backend {title}{suffix}",
                f"DatabaseSearcher.search(text, limit=20, counts={counts!r})",
                _times(
                    functools.partial(
                        in_database.search, kinds=[kind] if kind else None, counts=counts
                    ),
                    texts,
                ),
            )
            results += [
                report.Result(
                    f"Search latency, {title}{suffix}, {records:,} records", ours, peer, target
                ),
                report.Result(
                    f"Search latency (database backend), {title}{suffix}, {records:,} records",
                    in_db,
                    peer,
                    "within 1.5 x the raw FTS5 query",
                ),
            ]
        if title == "name fragments (4 characters)":
            marked = _timing(
                f"database backend {title} + highlights",
                "DatabaseSearcher.search(text, limit=20, counts='none'), every hit's highlights",
                _times(functools.partial(_with_highlights, in_database), texts),
            )
            results.append(
                report.Result(
                    f"Search latency (database backend), {title} + highlights, {records:,} records",
                    marked,
                    peer_page,
                    "within 1.5 x the raw FTS5 query",
                    notes="Highlights are made from the page's shown texts when first read.",
                )
            )

    if POSTGRES_URL and not existing:
        results.append(_postgres(gongshi, workdir, env, fragments, peer_fragments))

    with Session(engine) as session, session.begin():
        changed = session.exec(
            select(models.License).where(lifecycle.public_clause(models.License, ON)).limit(1000)
        ).all()
        for record in changed:
            endings.withdraw(
                session,
                record,
                kind=models.WithdrawalKind.REVOKED,
                reason="基准测试撤回",
                ctx=workflows.Context(actor="bench", on=ON),
            )
        keys = [_rowid(models.RecordKind.LICENSE, record.id or 0) for record in changed]
    started = time.perf_counter()
    indexer.update(workdir / "var" / "index", engine, on=ON)
    ours_update = time.perf_counter() - started
    started = time.perf_counter()
    fts.executemany("DELETE FROM docs WHERE rowid = ?", [(key,) for key in keys])
    fts.commit()
    peer_update = time.perf_counter() - started
    results.append(
        report.Result(
            f"Search index: apply 1,000 withdrawals, {records:,} records",
            report.Timing(
                "gongshi index (update)", "indexer.update", (ours_update,), 0, 1000, "changes"
            ),
            report.Timing(
                "FTS5 delete by rowid",
                "DELETE … WHERE rowid = ?",
                (peer_update,),
                0,
                1000,
                "changes",
            ),
            "1,000 changes applied in < 5 s",
        )
    )
    searcher.close()
    in_database.close()
    fts.close()
    engine.dispose()
    keep = os.environ.get("GONGSHI_BENCH_KEEP_DATA")
    if keep:
        shutil.copytree(workdir / "var", keep, dirs_exist_ok=True)
    return results
