"""The database away: at start a one-line error, while serving /healthz says so and GraphQL answers
a clear 503, and when the database is back (or its connections were killed) answers are right."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import Session
from starlette.testclient import TestClient

from api import app as api_app
from api import http as api_http
from disclosure import db, settings
from tests import conftest
from tests.factories import add_penalty
from tests.processes import GONGSHI, World, free_port

QUERY = {"query": "{ penalties(first: 5) { totalCount edges { node { decisionDocNo } } } }"}


def _serve(world: World, url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [GONGSHI, "serve", "--port", str(free_port()), "--workers", "1"],
        env={**world.env, "DATABASE_URL": url},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_serve_refuses_to_start_without_its_database(tmp_path: Path) -> None:
    port = free_port()  # nothing listens there
    url = f"postgresql+psycopg://postgres:secret@127.0.0.1:{port}/gongshi"
    done = _serve(World(tmp_path), url)
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == (
        f"Error: the database postgresql+psycopg://postgres:***@127.0.0.1:{port}/gongshi is "
        f'unreachable: connection failed: connection to server at "127.0.0.1", port {port} '
        "failed: Connection refused\n"
    )


def test_serve_refuses_an_unreadable_sqlite_file(tmp_path: Path) -> None:
    world = World(tmp_path)
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"not a database, 0123456789abcdef" * 10)
    (tmp_path / "folder.db").mkdir()
    (tmp_path / "file").write_text("")
    results = {
        name: _serve(world, f"sqlite:///{tmp_path / name}")
        for name in ("garbage.db", "folder.db", "file/gongshi.db")
    }
    assert {name: (done.returncode, done.stderr) for name, done in results.items()} == {
        "garbage.db": (
            1,
            f"Error: the database sqlite:///{garbage} is unreachable: file is not a database\n",
        ),
        "folder.db": (
            1,
            f"Error: the database sqlite:///{tmp_path / 'folder.db'} is unreachable: "
            "unable to open database file\n",
        ),
        "file/gongshi.db": (
            1,
            f"Error: the folder {tmp_path / 'file'} of the SQLite database cannot be made: "
            "File exists\n",
        ),
    }


def test_an_unreadable_sqlite_file_answers_503_not_500(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"not a database, 0123456789abcdef" * 10)
    app_settings = settings.Settings(database_url=f"sqlite:///{garbage}", data_dir=tmp_path)
    engine = db.create_engine(app_settings.database_url)
    try:
        with TestClient(api_app.create_app(app_settings, engine)) as client:
            health = client.get("/healthz")
            answer = client.post("/graphql", json=QUERY)
    finally:
        engine.dispose()
    assert (health.status_code, health.json()) == (
        503,
        {"status": "error", "database": "unreachable"},
    )
    assert (answer.status_code, answer.headers["retry-after"], answer.json()) == (
        503,
        "5",
        {"errors": [{"message": api_http.UNREACHABLE}]},
    )


class Proxy:
    """A TCP forwarder to PostgreSQL that a test cuts and restores: to the API, an outage of the
    database and its return (the PostgreSQL service itself cannot be stopped here)."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = free_port()
        self.sockets: set[socket.socket] = set()
        self.lock = threading.Lock()
        self.running = threading.Event()
        self.listener: threading.Thread | None = None

    def start(self) -> None:
        server = socket.create_server(("127.0.0.1", self.port))
        server.settimeout(0.05)
        self.running.set()
        self.listener = threading.Thread(target=self._accept, args=(server,), daemon=True)
        self.listener.start()

    def stop(self) -> None:
        """Refuse new connections and break the open ones, as a database going down does."""
        self.running.clear()
        if self.listener is not None:
            self.listener.join()
        with self.lock:
            for sock in self.sockets:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            self.sockets.clear()

    def _accept(self, server: socket.socket) -> None:
        with server:
            while self.running.is_set():
                try:
                    client, _ = server.accept()
                except TimeoutError:
                    continue
                upstream = socket.create_connection(self.target)
                with self.lock:
                    self.sockets |= {client, upstream}
                for source, sink in ((client, upstream), (upstream, client)):
                    threading.Thread(target=_pump, args=(source, sink), daemon=True).start()


def _pump(source: socket.socket, sink: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while data := source.recv(65536):
            sink.sendall(data)
    with contextlib.suppress(OSError):
        sink.shutdown(socket.SHUT_WR)


@pytest.fixture
def postgres(engine: sa.Engine) -> sa.Engine:
    if engine.dialect.name != "postgresql":
        pytest.skip("a server's outage and killed connections need PostgreSQL (TEST_DATABASE_URL)")
    return engine


@pytest.fixture
def proxy(postgres: sa.Engine) -> Iterator[Proxy]:
    url = postgres.url
    proxy = Proxy((url.host or "127.0.0.1", url.port or 5432))
    proxy.start()
    yield proxy
    proxy.stop()


def test_the_api_reports_an_outage_and_recovers_when_the_database_returns(
    postgres: sa.Engine, proxy: Proxy, tmp_path: Path
) -> None:
    with Session(postgres) as session:
        add_penalty(session)
        session.commit()
    url = postgres.url.set(host="127.0.0.1", port=proxy.port)
    app_settings = settings.Settings(database_url=str(url), data_dir=tmp_path)
    engine = db.create_engine(url.render_as_string(hide_password=False))
    try:
        with TestClient(api_app.create_app(app_settings, engine)) as client:
            before = client.post("/graphql", json=QUERY)
            assert before.status_code == 200
            assert before.json()["data"]["penalties"]["totalCount"] == 1

            proxy.stop()
            health = client.get("/healthz")
            during = client.post("/graphql", json=QUERY)
            assert (health.status_code, health.json()) == (
                503,
                {"status": "error", "database": "unreachable"},
            )
            assert (during.status_code, during.json()) == (
                503,
                {"errors": [{"message": api_http.UNREACHABLE}]},
            )

            proxy.start()
            assert client.get("/healthz").json() == {"status": "ok", "database": "ok"}
            after = client.post("/graphql", json=QUERY)
            assert (after.status_code, after.json()) == (200, before.json())
    finally:
        engine.dispose()


def test_killed_connections_are_replaced_without_an_error(
    postgres: sa.Engine, tmp_path: Path
) -> None:
    assert conftest.POSTGRES_URL is not None
    app_settings = settings.Settings(database_url=conftest.POSTGRES_URL, data_dir=tmp_path)
    engine = db.create_engine(conftest.POSTGRES_URL, pool_size=3)
    try:
        with TestClient(api_app.create_app(app_settings, engine)) as client:
            before = [client.post("/graphql", json=QUERY).json() for _ in range(3)]
            with postgres.connect() as admin:
                killed = admin.execute(
                    sa.text(
                        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                    )
                ).scalar_one()
            assert killed >= 1
            after = [client.post("/graphql", json=QUERY) for _ in range(3)]
            assert client.get("/healthz").json() == {"status": "ok", "database": "ok"}
    finally:
        engine.dispose()
    assert [(response.status_code, response.json()) for response in after] == [
        (200, answer) for answer in before
    ]
