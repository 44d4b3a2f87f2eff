"""`gongshi ingest` of a 1,000,000-row penalty CSV into SQLite, beside `sqlite-utils insert --csv`
loading the same file with no validation (the cost of checking every row); and, when
BENCH_INGEST_POSTGRES_URL names a PostgreSQL database to empty and fill, the same ingest into it
(COPY) beside the SQLite run."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from bench import report

ROWS = int(os.environ.get("BENCH_INGEST_ROWS", "1000000"))
WORKERS = os.environ.get("BENCH_INGEST_WORKERS", "1")
POSTGRES_URL = os.environ.get("BENCH_INGEST_POSTGRES_URL")
AS_OF = "2026-11-28"
_EMPTY_POSTGRES = (
    "import sqlalchemy as sa, sys; e = sa.create_engine(sys.argv[1]);"
    "c = e.connect(); c.exec_driver_sql('DROP SCHEMA public CASCADE');"
    "c.exec_driver_sql('CREATE SCHEMA public'); c.commit()"
)
_UNLINK = "import pathlib, sys; pathlib.Path(sys.argv[1]).unlink(missing_ok=True)"


def run(workdir: Path) -> list[report.Result]:
    bin_dir = Path(sys.executable).parent
    gongshi = str(bin_dir / "gongshi")
    sqlite_utils = shutil.which("sqlite-utils", path=str(bin_dir)) or "sqlite-utils"
    env = {**os.environ, "GONGSHI_DATA_DIR": str(workdir / "var")}
    env.pop("DATABASE_URL", None)
    # the input, made once and not timed: sample penalties as the national template
    subprocess.run(
        [
            gongshi,
            "sample",
            "--records",
            str(ROWS),
            "--kind",
            "penalty",
            "--seed",
            "1",
            "--as-of",
            AS_OF,
            "--to-files",
            str(workdir / "files"),
        ],
        cwd=workdir,
        env=env,
        check=True,
        capture_output=True,
    )
    penalties = workdir / "files" / "penalty.csv"
    with penalties.open(encoding="utf-8") as file:
        rows = sum(1 for _ in file) - 1
    database = workdir / "var" / "gongshi.db"
    fresh = [sys.executable, "-c", _UNLINK, str(database)]
    command = [
        gongshi,
        "ingest",
        str(penalties),
        "--kind",
        "penalty",
        "--workers",
        WORKERS,
        "--as-of",
        AS_OF,
    ]
    ours = report.measure(
        "gongshi ingest",
        command,
        cwd=workdir,
        env=env,
        setup=[fresh, [gongshi, "init"]],
        units=rows,
        unit="rows",
    )
    peer = report.measure(
        "sqlite-utils insert --csv",
        [sqlite_utils, "insert", "peer.db", "penalty", str(penalties), "--csv"],
        cwd=workdir,
        setup=[
            [
                sys.executable,
                "-c",
                "import pathlib; pathlib.Path('peer.db').unlink(missing_ok=True)",
            ]
        ],
        units=rows,
        unit="rows",
    )
    results = [
        report.Result(
            title=f"Ingest: {rows:,} penalty rows (national-template CSV) into SQLite",
            ours=ours,
            peer=peer,
            target="≥ 1.5 × the rate of sqlite-utils (same run), peak memory < 400 MB",
            notes=(
                "gongshi reads the file as a stream, validates every row (credit codes and "
                "identity numbers with python-stdnum, dates, amounts in 万元, 处罚类别, the "
                "publicity window), looks up subjects, departments and natural keys per batch, "
                "inserts new records with their PUBLISHED events and counts late publications, "
                "in one transaction. The peer loads the same file into one untyped table with no "
                "checks at all."
            ),
        )
    ]
    if POSTGRES_URL:
        postgres_env = {**env, "DATABASE_URL": POSTGRES_URL}
        postgres = report.measure(
            "gongshi ingest (PostgreSQL, COPY)",
            command,
            cwd=workdir,
            env=postgres_env,
            setup=[[sys.executable, "-c", _EMPTY_POSTGRES, POSTGRES_URL], [gongshi, "init"]],
            units=rows,
            unit="rows",
        )
        results.append(
            report.Result(
                title=f"Ingest: {rows:,} penalty rows into PostgreSQL, beside SQLite",
                ours=postgres,
                peer=ours,
                target="≥ 2 × the rate of the SQLite ingest (same run)",
                notes=(
                    "The same command and file into a local PostgreSQL: new records, subjects and "
                    "events of each batch loaded with COPY in the run's one transaction. The "
                    "peak memory is the ingest process's; the server's own is not counted."
                ),
            )
        )
    return results
