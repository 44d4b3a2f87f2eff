"""`gongshi` as real processes for the fault tests: a database of its own, kill -9 at a sign of
progress, and the consistency the change log promises afterwards."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import tomllib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import coverage
import pytest
import sqlalchemy as sa
from sqlmodel import Session

from disclosure import db, models
from tests import conftest, factories

GONGSHI = str(Path(sys.executable).with_name("gongshi"))
APPLICATION = "gongshi-faults"  # the application_name of the commands' PostgreSQL sessions


def measuring(folder: Path) -> list[str]:
    """The command that starts `gongshi` under coverage, adding its forks' data to the suite's,
    when the suite runs under coverage (`make coverage`); else plain `gongshi`. Only where it is
    needed: coverage makes every process it starts slower."""
    current = coverage.Coverage.current()
    if current is None:
        return [GONGSHI]
    run = tomllib.loads((conftest.ROOT / "pyproject.toml").read_text())["tool"]["coverage"]["run"]
    rcfile = folder / "coverage.ini"
    rcfile.write_text(
        "[run]\n"
        f"branch = {run.get('branch', False)}\n"
        f"source = {', '.join(run['source'])}\n"
        f"omit = {', '.join(str(conftest.ROOT / each) for each in run.get('omit', []))}\n"
        "parallel = true\n"
        "patch = fork, _exit\n"  # the workers and the follower are forks, and leave by os._exit
        f"data_file = {Path(current.config.data_file).resolve()}\n"
    )
    return [sys.executable, "-m", "coverage", "run", f"--rcfile={rcfile}", "-m", "gongshi"]


class World:
    """A working folder and an empty database of its own at the current schema: SQLite under the
    folder, or the PostgreSQL test database emptied (schema dropped) when TEST_DATABASE_URL is set.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.data_dir = folder / "var"
        if conftest.POSTGRES_URL:
            conftest.reset_postgres()
            separator = "&" if "?" in conftest.POSTGRES_URL else "?"
            self.url = f"{conftest.POSTGRES_URL}{separator}application_name={APPLICATION}"
            self.sqlite_file: Path | None = None
        else:
            self.sqlite_file = self.data_dir / "gongshi.db"
            self.url = f"sqlite:///{self.sqlite_file}"
        self.env = {
            **os.environ,
            "GONGSHI_DATA_DIR": str(self.data_dir),
            "DATABASE_URL": self.url,
            "GONGSHI_BASE_URL": "https://credit.example.gov.cn/",
            # the schema is migrated here, not by `gongshi init`, which would make the key file
            "GONGSHI_ID_KEY": factories.ID_KEY_TEXT,
        }
        self.env.pop("GONGSHI_SITE_DIR", None)
        with self.engine() as engine:
            db.upgrade(engine)

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run `gongshi ARGS` to the end; with `check`, a non-zero exit fails the test."""
        done = subprocess.run(
            [GONGSHI, *args], env=self.env, cwd=self.folder, capture_output=True, text=True
        )
        if check and done.returncode != 0:
            pytest.fail(f"gongshi {' '.join(args)} exited {done.returncode}: {done.stderr}")
        return done

    def start(self, *args: str, measured: bool = False) -> subprocess.Popen[str]:
        """Start `gongshi ARGS` in a session of its own (its workers die with the test); with
        `measured`, under coverage when the suite is (the code of a node's forked processes runs
        nowhere else)."""
        return subprocess.Popen(
            [*(measuring(self.folder) if measured else [GONGSHI]), *args],
            env=self.env,
            cwd=self.folder,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )

    @contextmanager
    def engine(self) -> Iterator[sa.Engine]:
        engine = db.create_engine(self.url)
        try:
            yield engine
        finally:
            engine.dispose()

    def writing(self) -> bool:
        """Whether a command's transaction holds the write lock, i.e. has written something it
        has not committed yet (SQLite: BEGIN IMMEDIATE is refused; PostgreSQL: the command's
        session has a transaction id)."""
        if self.sqlite_file is not None:
            probe = sqlite3.connect(self.sqlite_file, timeout=0, isolation_level=None)
            try:
                probe.execute("BEGIN IMMEDIATE")
                probe.execute("ROLLBACK")
                return False
            except sqlite3.OperationalError as error:
                if "locked" in str(error):
                    return True
                raise
            finally:
                probe.close()
        with self.engine() as engine, engine.connect() as connection:
            return bool(
                connection.execute(
                    sa.text(
                        "SELECT count(*) FROM pg_stat_activity WHERE application_name = :name "
                        "AND backend_xid IS NOT NULL AND pid <> pg_backend_pid()"
                    ),
                    {"name": APPLICATION},
                ).scalar_one()
            )

    def waiting_for_a_lock(self, process: subprocess.Popen[str]) -> bool:
        """Whether the command waits for a lock inside its transaction (PostgreSQL: its session
        waits on a lock; SQLite: it has the database open and has had a second to reach it)."""
        if self.sqlite_file is not None:
            if not opened(process.pid, self.sqlite_file):
                return False
            time.sleep(1.0)  # the lock we hold keeps it from committing: waiting is not a race
            return True
        with self.engine() as engine, engine.connect() as connection:
            return bool(
                connection.execute(
                    sa.text(
                        "SELECT count(*) FROM pg_stat_activity WHERE application_name = :name "
                        "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
                    ),
                    {"name": APPLICATION},
                ).scalar_one()
            )


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def opened(pid: int, path: Path) -> bool:
    """Whether process `pid` has `path` open."""
    try:
        links = [os.readlink(fd) for fd in Path(f"/proc/{pid}/fd").iterdir()]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return str(path) in links


def descendants(pid: int) -> set[int]:
    """The processes below `pid` (its pool workers)."""
    found: set[int] = set()
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except FileNotFoundError:
        return found
    for task in tasks:
        try:
            children = (task / "children").read_text().split()
        except FileNotFoundError:
            continue
        for child in map(int, children):
            found |= {child, *descendants(child)}
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def kill_when(
    process: subprocess.Popen[str], progressed: Callable[[], bool], *, timeout: float = 60
) -> set[int]:
    """kill -9 the command once `progressed()` says it is mid-work; fails the test if it ended
    first. Returns the pids of the workers it had, which must end on their own."""
    deadline = time.monotonic() + timeout
    while not progressed():
        if process.poll() is not None:
            _, err = process.communicate()
            pytest.fail(f"the command ended (exit {process.returncode}) before the kill: {err}")
        if time.monotonic() > deadline:
            process.kill()
            process.communicate()
            pytest.fail("no sign of progress before the timeout")
        time.sleep(0.005)
    workers = descendants(process.pid)
    os.kill(process.pid, signal.SIGKILL)
    process.communicate()
    assert process.returncode == -signal.SIGKILL, "killed mid-work, not finished"
    return workers


def orphans(workers: set[int], *, within: float = 10) -> set[int]:
    """Workers of a killed command still running after `within` seconds (killed then, by pid)."""
    deadline = time.monotonic() + within
    while any(alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    left = {pid for pid in workers if alive(pid)}
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    return left


def change_log_counts(engine: sa.Engine) -> dict[str, int]:
    """Records, events, records without their PUBLISHED event and events without their record."""
    event = models.Event.__table__  # type: ignore[attr-defined]
    counts = {"records": 0, "unpublished records": 0, "events": 0, "orphan events": 0}
    with Session(engine) as session:
        counts["events"] = session.execute(
            sa.select(sa.func.count()).select_from(event)
        ).scalar_one()
        for kind, model in models.RECORD_MODELS.items():
            table = model.__table__  # type: ignore[union-attr]
            mine = sa.and_(event.c.record_kind == kind, event.c.record_id == table.c.id)
            published = sa.exists().where(mine, event.c.type == models.EventType.PUBLISHED)
            counts["records"] += session.execute(
                sa.select(sa.func.count()).select_from(table)
            ).scalar_one()
            counts["unpublished records"] += session.execute(
                sa.select(sa.func.count()).select_from(table).where(~published)
            ).scalar_one()
            counts["orphan events"] += session.execute(
                sa.select(sa.func.count())
                .select_from(event)
                .where(event.c.record_kind == kind, ~sa.exists().where(mine))
            ).scalar_one()
    return counts
