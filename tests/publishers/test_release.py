import datetime as dt
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Generator
from pathlib import Path

import pytest

from publishers import release

NOW = dt.datetime(2026, 6, 1, 8, 0, tzinfo=dt.UTC)


def page(text: str) -> release.Builder:
    def build(rel: release.Release) -> None:
        rel.write("index.html", text)

    return build


def test_a_release_becomes_current_and_keeps_unchanged_files(tmp_path: Path) -> None:
    first = release.publish(tmp_path, [("site", page("一"))], now=NOW)
    assert os.readlink(tmp_path / "current") == f"releases/{first.id}"
    second = release.publish(tmp_path, [("site", page("一"))], now=NOW + dt.timedelta(hours=1))
    assert (first.id, second.id) == ("20260601T080000Z", "20260601T090000Z")
    assert os.readlink(tmp_path / "current") == "releases/20260601T090000Z"
    assert (second.written, second.kept) == (0, 1)
    assert (
        os.stat(first.folder / "index.html").st_ino == os.stat(second.folder / "index.html").st_ino
    )
    assert release.current(tmp_path) == release.Previous(
        second.id, second.folder, {"id": second.id, "files": second.files, "state": {"site": {}}}
    )


def test_a_failed_publish_leaves_current_untouched(tmp_path: Path) -> None:
    first = release.publish(tmp_path, [("site", page("一"))], now=NOW)

    def broken(rel: release.Release) -> None:
        rel.write("index.html", "二")
        raise RuntimeError("the database went away")

    with pytest.raises(RuntimeError, match="the database went away"):
        release.publish(tmp_path, [("site", broken)], now=NOW + dt.timedelta(hours=1))
    assert os.readlink(tmp_path / "current") == f"releases/{first.id}"
    assert sorted(p.name for p in (tmp_path / "releases").iterdir()) == [
        first.id,
        f"{first.id}.files",
        f"{first.id}.manifest.json.gz",
    ]
    assert (tmp_path / "current" / "index.html").read_text() == "一"


def test_a_builder_that_yields_finishes_after_the_builders_after_it(tmp_path: Path) -> None:
    steps: list[str] = []

    def early(rel: release.Release) -> Generator[None, None, None]:
        steps.append("early starts")
        try:
            yield
            steps.append(f"early finishes, after {sorted(rel.files)}")
            rel.write("index.html", "一")
        finally:
            steps.append("early stops")

    def later(name: str) -> release.Builder:
        def build(rel: release.Release) -> None:
            steps.append(f"{name} runs")
            rel.write(f"{name}.txt", name)

        return build

    built = release.publish(
        tmp_path, [("site", early), ("feeds", later("feeds")), ("bulk", later("bulk"))], now=NOW
    )
    assert steps == [
        "early starts",
        "feeds runs",
        "bulk runs",
        "early finishes, after ['bulk.txt', 'feeds.txt']",
        "early stops",
    ]
    assert sorted(built.files) == ["bulk.txt", "feeds.txt", "index.html"]

    def broken(rel: release.Release) -> None:
        steps.append("broken runs")
        raise RuntimeError("the database went away")

    steps.clear()
    with pytest.raises(RuntimeError, match="the database went away"):
        release.publish(tmp_path, [("site", early), ("feeds", broken)], now=NOW)
    # stopped before its folder is deleted: its workers write there no more
    assert steps == ["early starts", "broken runs", "early stops"]
    assert release.releases(tmp_path) == [built.id]


SLOW_PUBLISH = """
import datetime as dt, sys, time
from pathlib import Path
from publishers import release

def slow(rel):
    rel.write("index.html", "二")
    (Path(sys.argv[1]) / "started").write_text("yes")
    time.sleep(60)

release.publish(Path(sys.argv[1]), [("site", slow)], now=dt.datetime.now(dt.UTC))
"""


def test_a_killed_publish_leaves_current_untouched(tmp_path: Path) -> None:
    first = release.publish(tmp_path, [("site", page("一"))], now=NOW)
    worker = subprocess.Popen([sys.executable, "-c", textwrap.dedent(SLOW_PUBLISH), str(tmp_path)])
    deadline = time.monotonic() + 30
    while not (tmp_path / "started").exists():
        assert time.monotonic() < deadline, "the publish did not start"
        time.sleep(0.05)
    worker.send_signal(signal.SIGKILL)
    worker.wait()
    assert os.readlink(tmp_path / "current") == f"releases/{first.id}"
    assert (tmp_path / "current" / "index.html").read_text() == "一"
    unfinished = [p.name for p in (tmp_path / "releases").iterdir() if p.name.startswith(".build-")]
    assert len(unfinished) == 1
    third = release.publish(tmp_path, [("site", page("三"))], now=NOW + dt.timedelta(days=1))
    assert sorted(p.name for p in (tmp_path / "releases").iterdir() if p.is_dir()) == [
        first.id,
        third.id,
    ]
    assert (tmp_path / "current" / "index.html").read_text() == "三"


def test_old_releases_are_pruned(tmp_path: Path) -> None:
    for hour in range(4):
        release.publish(
            tmp_path, [("site", page(str(hour)))], now=NOW + dt.timedelta(hours=hour), keep=2
        )
    assert release.releases(tmp_path) == ["20260601T100000Z", "20260601T110000Z"]
    assert sorted(p.name for p in (tmp_path / "releases").glob("*.gz")) == [
        "20260601T100000Z.manifest.json.gz",
        "20260601T110000Z.manifest.json.gz",
    ]
    assert sorted(p.name for p in (tmp_path / "releases").glob("*.files")) == [
        "20260601T100000Z.files",
        "20260601T110000Z.files",
    ]
