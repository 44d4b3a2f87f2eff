"""`gongshi` as its users run it: a command in a subprocess, `gongshi serve` on a free port."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import httpx

GONGSHI = str(Path(sys.executable).with_name("gongshi"))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def gongshi(env: Mapping[str, str], *args: str) -> str:
    """Run `gongshi ARGS` to its end; its standard output (a failure raises, with its stderr)."""
    done = subprocess.run([GONGSHI, *args], env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"gongshi {' '.join(args)} failed: {done.stderr}")
    return done.stdout


@contextlib.contextmanager
def serving(env: Mapping[str, str], *options: str) -> Iterator[str]:
    """`gongshi serve` on a free 127.0.0.1 port until the block ends; yields its base URL once
    /healthz answers."""
    with nodes([env], *options) as (url,):
        yield url


@contextlib.contextmanager
def sample_node(workdir: Path, *, records: int, seed: int, **settings: str) -> Iterator[str]:
    """`gongshi serve` on a fresh SQLite sample database of `records` records in `workdir`
    (whatever the test database is), with extra `settings` in its environment."""
    env = {**os.environ, "GONGSHI_DATA_DIR": str(workdir / "var"), **settings}
    env.pop("DATABASE_URL", None)
    gongshi(env, "init")
    gongshi(env, "sample", "--records", str(records), "--seed", str(seed))
    with serving(env) as url:
        yield url


@contextlib.contextmanager
def nodes(envs: Sequence[Mapping[str, str]], *options: str) -> Iterator[list[str]]:
    """One `gongshi serve` per environment, started together, each on a free port; yields their
    base URLs once every /healthz answers, and stops them when the block ends."""
    processes: list[tuple[subprocess.Popen[bytes], str]] = []
    try:
        for env in envs:
            port = free_port()
            process = subprocess.Popen(
                [
                    GONGSHI,
                    "serve",
                    "--port",
                    str(port),
                    "--no-access-log",
                    "--workers",
                    "1",
                    *options,
                ],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            processes.append((process, f"http://127.0.0.1:{port}"))
        deadline = time.monotonic() + 30
        for process, url in processes:
            _wait_for(process, url, deadline)
        yield [url for _process, url in processes]
    finally:
        for process, _url in processes:
            process.terminate()
        for process, _url in processes:
            process.wait(timeout=10)
            if process.stderr is not None:
                process.stderr.close()


def _wait_for(process: subprocess.Popen[bytes], url: str, deadline: float) -> None:
    while True:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            _out, errors = process.communicate()
            raise RuntimeError(f"gongshi serve did not start: {errors.decode()}")
        time.sleep(0.2)
