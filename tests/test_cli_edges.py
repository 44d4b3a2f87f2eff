"""The command line at its edges: wrong settings, folders and ports end in one line and exit 2,
and every output of a node names one base URL."""

import importlib.metadata
import os
import pty
import re
import socket
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from gongshi import cli
from tests import conftest
from tests.processes import GONGSHI, World, free_port

ON = "2026-11-28"


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.delenv("GONGSHI_BASE_URL", raising=False)
    return conftest.cli_runner(tmp_path, monkeypatch)


def _sampled(run: CliRunner) -> None:
    assert run.invoke(cli.main, ["init"]).exit_code == 0
    sampled = run.invoke(cli.main, ["sample", "--records", "40", "--as-of", ON])
    assert sampled.exit_code == 0, sampled.output


def test_version_is_the_distributions(run: CliRunner) -> None:
    result = run.invoke(cli.main, ["--version"])
    assert (result.exit_code, result.output) == (
        0,
        f"gongshi {importlib.metadata.version('gongshi')}\n",
    )


def test_a_database_gongshi_cannot_run_on_is_one_line(run: CliRunner) -> None:
    use = "use sqlite:///FILE or postgresql+psycopg://USER@HOST/DB"
    answers = {
        url: (done.exit_code, done.output)
        for url in ("mysql://user:secret@db.example/credit", "postgresql+psycopg2://db/credit")
        if (done := run.invoke(cli.main, ["lifecycle"], env={"DATABASE_URL": url}))
    }
    assert answers == {
        "mysql://user:secret@db.example/credit": (
            2,
            f"Error: DATABASE_URL names mysql, which gongshi does not run on: {use}\n",
        ),
        "postgresql+psycopg2://db/credit": (
            2,
            "Error: DATABASE_URL names the driver postgresql+psycopg2, which is not installed: "
            f"{use}\n",
        ),
    }


def test_a_sqlite_file_in_a_missing_folder_is_refused_not_made(
    run: CliRunner, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'typo' / 'gongshi.db'}"
    result = run.invoke(cli.main, ["init"], env={"DATABASE_URL": url})
    assert (result.exit_code, result.output) == (
        2,
        "Error: DATABASE_URL names a SQLite file in a folder that does not exist: "
        f"{tmp_path / 'typo'}\n",
    )
    assert not (tmp_path / "typo").exists()


@pytest.mark.skipif(bool(conftest.POSTGRES_URL), reason="a SQLite file")
def test_a_missing_sqlite_file_is_named_not_blamed_on_the_schema(
    run: CliRunner, tmp_path: Path
) -> None:
    result = run.invoke(cli.main, ["lifecycle"])
    assert (result.exit_code, result.output) == (
        1,
        f"Error: there is no database at {tmp_path / 'var' / 'gongshi.db'}: create it with "
        "`gongshi init`, or set DATABASE_URL or GONGSHI_DATA_DIR to the one you have\n",
    )
    assert not (tmp_path / "var" / "gongshi.db").exists()


def test_publish_into_a_folder_that_cannot_be_made_is_one_line(run: CliRunner) -> None:
    _sampled(run)
    result = run.invoke(
        cli.main, ["publish", "--out", "/proc/nope", "--base-url", "https://credit.example/"]
    )
    assert (result.exit_code, result.output) == (
        2,
        "Error: cannot make the site folder /proc/nope (--out or GONGSHI_SITE_DIR): "
        "No such file or directory\n",
    )


def test_publish_refuses_to_guess_the_public_address(run: CliRunner, tmp_path: Path) -> None:
    _sampled(run)
    args = ["publish", "--out", "site", "--as-of", ON, "--workers", "1"]
    refused = run.invoke(cli.main, args)
    assert (refused.exit_code, refused.output) == (
        2,
        "Error: publish needs the public site's address: give --base-url URL or set "
        "GONGSHI_BASE_URL\n",
    )
    assert not (tmp_path / "site").exists()
    done = run.invoke(cli.main, args, env={"GONGSHI_BASE_URL": "https://credit.example.gov.cn"})
    assert done.exit_code == 0, done.output
    robots = (tmp_path / "site" / "current" / "robots.txt").read_text()
    assert robots.endswith("Sitemap: https://credit.example.gov.cn/sitemap.xml\n")


def test_a_port_out_of_range_is_a_usage_error(run: CliRunner) -> None:
    for command in ("serve", "demo"):
        result = run.invoke(cli.main, [command, "--port", "99999"])
        assert result.exit_code == 2
        assert result.output.endswith(
            "Error: Invalid value for '--port': 99999 is not in the range 1<=x<=65535.\n"
        )


def test_a_taken_port_is_refused_before_any_work(run: CliRunner, tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        demo = run.invoke(cli.main, ["demo", "--records", "20", "--port", str(port)])
        assert (demo.exit_code, demo.output) == (
            2,
            f"Error: cannot listen on 127.0.0.1:{port}: Address already in use; choose another "
            "with --port (make demo PORT=…)\n",
        )
        assert not (tmp_path / "var" / "site").exists()
        assert run.invoke(cli.main, ["init"]).exit_code == 0
        serve = run.invoke(cli.main, ["serve", "--port", str(port)])
        assert (serve.exit_code, serve.output) == (
            2,
            f"Error: cannot listen on 127.0.0.1:{port}: Address already in use; choose another "
            "with --port\n",
        )


def _graphql(port: int, query: str) -> dict[str, object]:
    answer = httpx.post(f"http://127.0.0.1:{port}/graphql", json={"query": query}, timeout=10)
    data: dict[str, object] = answer.json()["data"]
    return data


def _wait_healthy(process: subprocess.Popen[str], port: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            _, err = process.communicate()
            pytest.fail(f"the node exited {process.returncode}: {err}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "the node never answered /healthz"
        time.sleep(0.2)


def _stop(process: subprocess.Popen[str]) -> str:
    process.terminate()
    out, _ = process.communicate(timeout=30)
    return out


URLS = "{ penalties(first: 3) { edges { node { url subject { url } } } } }"


def test_demo_on_another_port_names_it_in_every_output(tmp_path: Path) -> None:
    world = World(tmp_path)
    world.env.pop("GONGSHI_BASE_URL")
    port = free_port()
    base = f"http://127.0.0.1:{port}/"
    process = world.start("demo", "--records", "60", "--as-of", ON, "--port", str(port))
    try:
        _wait_healthy(process, port)
        edges = _graphql(port, URLS)["penalties"]["edges"]  # type: ignore[index]
    finally:
        out = _stop(process)
    urls = [url for edge in edges for url in (edge["node"]["url"], edge["node"]["subject"]["url"])]
    assert urls and all(url.startswith(base) for url in urls), urls
    current = world.data_dir / "site" / "current"
    page = (current / "index.html").read_text()
    feed = (current / "feeds" / "all.atom").read_text()
    sitemap = (current / "sitemap.xml").read_text()
    addresses = re.findall(r"https?://[^\s\"'<>]+", page + feed + sitemap)
    ours = [url for url in addresses if url.startswith("http://127.0.0.1")]
    assert ours and all(url.startswith(base) for url in ours), set(ours) - {base}
    assert f"the site:    {base}\n" in out


def test_serve_prints_its_address_and_names_its_port_in_records(tmp_path: Path) -> None:
    world = World(tmp_path)
    world.env.pop("GONGSHI_BASE_URL")
    world.run("sample", "--records", "30", "--as-of", ON)
    port = free_port()
    process = world.start("serve", "--port", str(port), "--no-access-log", "--workers", "1")
    try:
        _wait_healthy(process, port)
        edges = _graphql(port, URLS)["penalties"]["edges"]  # type: ignore[index]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/portal/login") as answer:
            login = (answer.status, answer.headers["x-content-type-options"], answer.read())
    finally:
        out = _stop(process)
    assert out.splitlines()[0] == (
        f"gongshi serve: http://127.0.0.1:{port}/ — GraphQL at /graphql, /healthz, the portal at "
        f"/portal/, and the site published into {world.data_dir / 'site'} at /"
    )
    assert login[:2] == (200, "nosniff") and "工作人员登录".encode() in login[2]
    assert edges and all(
        edge["node"]["url"].startswith(f"http://127.0.0.1:{port}/records/") for edge in edges
    )


def _on_a_terminal(world: World, *args: str) -> tuple[str, str]:
    """Run `gongshi ARGS` with stderr on a terminal (a pty) and stdout a pipe; returns both."""
    controller, terminal = pty.openpty()
    seen = bytearray()

    def drain() -> None:  # a full pty would stall the command
        while True:
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # the command's side closed
                return
            if not chunk:
                return
            seen.extend(chunk)

    reader = threading.Thread(target=drain)
    reader.start()
    try:
        done = subprocess.run(
            [GONGSHI, *args],
            env={**world.env, "TERM": "xterm", "COLUMNS": "120"},
            cwd=world.folder,
            stdout=subprocess.PIPE,
            stderr=terminal,
            text=True,
            timeout=300,
        )
    finally:
        os.close(terminal)
        reader.join(timeout=30)
        os.close(controller)
    assert done.returncode == 0, seen.decode(errors="replace")
    return done.stdout, re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", seen.decode(errors="replace"))


def test_long_commands_show_progress_on_a_terminal_and_keep_stdout_plain(tmp_path: Path) -> None:
    world = World(tmp_path)
    world.run("sample", "--records", "60", "--as-of", ON)
    shown = {}
    for args, report, progress in (
        (("index", "--rebuild", "--as-of", ON), "index rebuilt as of", "building the search"),
        (("lifecycle", "--as-of", ON), "lifecycle as of", "ending the publicity"),
        (("publish", "--out", "out", "--as-of", ON, "--workers", "1"), "published", "publishing"),
    ):
        out, terminal = _on_a_terminal(world, *args)
        assert len(out.splitlines()) == 1 and out.startswith(report), out
        assert "\x1b" not in out
        shown[args[0]] = progress in terminal
    assert shown == {"index": True, "lifecycle": True, "publish": True}
