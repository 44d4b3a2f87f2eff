"""Disk full while publishing: a clear one-line error, no half release, the previous release
still current and still served by `gongshi serve`."""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from publishers import release
from tests.processes import GONGSHI, World, free_port

ON = "2026-06-01"
LATER = "2028-06-01"


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A 32 MiB tmpfs: a folder that really runs out of space."""
    mountpoint = tmp_path / "small"
    mountpoint.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=32m", "tmpfs", str(mountpoint)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {mounted.stderr.strip()}")
    try:
        yield mountpoint
    finally:
        subprocess.run(["umount", str(mountpoint)], check=True)


@pytest.fixture
def world(tmp_path: Path) -> World:
    world = World(tmp_path)
    world.run("sample", "--records", "600", "--kind", "penalty", "--as-of", ON)
    return world


def _fill(folder: Path, leave: int) -> None:
    """Take up the free space of `folder`'s file system but `leave` bytes."""
    stats = os.statvfs(folder)
    free = stats.f_bavail * stats.f_frsize
    with open(folder / "filler", "wb") as filler:
        chunk = b"\0" * (1 << 20)
        remaining = free - leave
        while remaining > 0:
            remaining -= filler.write(chunk[: min(len(chunk), remaining)])


def _limit_file_size() -> None:
    """In the child: files cannot grow past 40 KiB (SQLite's 32 KiB -shm still can), and a write
    past it fails with EFBIG instead of killing the process (SIGXFSZ ignored)."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (40 * 1024, 40 * 1024))


def _publish_fails(world: World, out: Path, *, limit: bool) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [GONGSHI, "publish", "--out", str(out), "--as-of", LATER, "--workers", "1"],
        env=world.env,
        capture_output=True,
        text=True,
        preexec_fn=_limit_file_size if limit else None,
        timeout=120,
    )


def _assert_previous_release_serves(world: World, out: Path, first: release.Previous) -> None:
    assert release.current(out) == first
    assert release.releases(out) == [first.id]
    assert not list((out / release.RELEASES).glob(f"{release.BUILDING}*")), "half release left"
    port = free_port()
    server = subprocess.Popen(
        [GONGSHI, "serve", "--port", str(port), "--no-access-log", "--workers", "1"],
        env={**world.env, "GONGSHI_SITE_DIR": str(out)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                home = httpx.get(f"http://127.0.0.1:{port}/", timeout=2)
                break
            except httpx.TransportError:
                assert server.poll() is None and time.monotonic() < deadline, "serve did not start"
                time.sleep(0.1)
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert (home.status_code, home.content) == (200, (first.folder / "index.html").read_bytes())


def _assert_one_line_error(done: subprocess.CompletedProcess[str], reason: str) -> None:
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith("Error: release ")
    assert done.stderr.endswith(
        f"not published, `current` still points at the previous one: {reason}\n"
    )


def test_a_full_disk_fails_the_publish_cleanly(world: World, tmpfs: Path) -> None:
    out = tmpfs / "site"
    world.run("publish", "--out", str(out), "--as-of", ON, "--workers", "1")
    first = release.current(out)
    assert first is not None
    _fill(tmpfs, leave=64 * 1024)

    done = _publish_fails(world, out, limit=False)
    _assert_one_line_error(done, "No space left on device")
    _assert_previous_release_serves(world, out, first)

    (tmpfs / "filler").unlink()
    world.run("publish", "--out", str(out), "--as-of", LATER, "--workers", "1")
    second = release.current(out)
    assert second is not None and release.releases(out) == [first.id, second.id]


def test_a_failed_write_fails_the_publish_cleanly_without_root(world: World) -> None:
    out = world.folder / "site"
    world.run("publish", "--out", str(out), "--as-of", ON, "--workers", "1")
    first = release.current(out)
    assert first is not None

    done = _publish_fails(world, out, limit=True)
    _assert_one_line_error(done, "File too large")
    _assert_previous_release_serves(world, out, first)
