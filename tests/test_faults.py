"""kill -9 in the middle of ingest, lifecycle, index update and publish: afterwards the database,
the change log, the search index and `current` are consistent, and a rerun completes the work."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import Session
from starlette.testclient import TestClient
from whoosh import index as whoosh_index

from api import app as api_app
from disclosure import lifecycle, models, settings
from disclosure.queries import change_log, figures, plain_rows
from publishers import release
from search_index import documents, indexer
from tests.processes import World, change_log_counts, kill_when, orphans

ON = "2026-06-01"
LATER = "2028-06-01"  # a day by which hundreds of the sample's penalties have run out


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """National-template files of sample licenses and penalties, made once for the module."""
    folder = tmp_path_factory.mktemp("files")
    world = World(folder)
    world.run(
        "sample", "--records", "3000", "--kind", "license", "--kind", "penalty",
        "--to-files", str(folder / "in"), "--as-of", ON,
    )  # fmt: skip
    return {kind: folder / "in" / f"{kind}.csv" for kind in ("license", "penalty")}


@pytest.fixture
def world(tmp_path: Path) -> World:
    return World(tmp_path)


def rows(path: Path) -> int:
    return len(path.read_text(encoding="utf-8-sig").splitlines()) - 1


def test_a_killed_ingest_leaves_all_or_nothing_and_a_rerun_completes(
    world: World, files: dict[str, Path]
) -> None:
    penalties = files["penalty"]
    process = world.start("ingest", str(penalties), "--kind", "penalty", "--as-of", ON)
    kill_when(process, world.writing)

    with world.engine() as engine:
        after_kill = change_log_counts(engine)
    assert after_kill == {"records": 0, "unpublished records": 0, "events": 0, "orphan events": 0}

    rerun = world.run("ingest", str(penalties), "--kind", "penalty", "--as-of", ON)
    assert f"accepted  {rows(penalties):>9}" in rerun.stdout
    with world.engine() as engine:
        assert change_log_counts(engine) == {
            "records": rows(penalties),
            "unpublished records": 0,
            "events": rows(penalties),
            "orphan events": 0,
        }


def test_a_killed_lifecycle_appends_nothing_and_a_rerun_appends_every_event(
    world: World, files: dict[str, Path]
) -> None:
    world.run("ingest", str(files["penalty"]), "--kind", "penalty", "--as-of", ON)
    with world.engine() as engine:
        with Session(engine) as session:  # what an uninterrupted run appends, rolled back
            expected = lifecycle.run(session, as_of=dt.date.fromisoformat(LATER))
            session.rollback()
            before = figures.event_counts(session)
        assert expected.expired > 100
        with engine.connect() as blocker:
            # hold the write lock: the command does its reads, then waits in its transaction
            if engine.dialect.name == "postgresql":
                blocker.exec_driver_sql("BEGIN")
                blocker.exec_driver_sql("LOCK TABLE event IN SHARE MODE")
            else:
                blocker.exec_driver_sql("BEGIN IMMEDIATE")
            process = world.start("lifecycle", "--as-of", LATER)
            kill_when(process, lambda: world.waiting_for_a_lock(process))
            blocker.rollback()
        with Session(engine) as session:
            assert figures.event_counts(session) == before

        rerun = world.run("lifecycle", "--as-of", LATER)
        assert rerun.stdout == f"lifecycle as of {LATER}: {expected.expired} expired, 0 exited\n"
        with Session(engine) as session:
            assert figures.event_counts(session) == {
                **before,
                models.EventType.EXPIRED: expected.expired,
            }
        counts = change_log_counts(engine)
    assert (counts["unpublished records"], counts["orphan events"]) == (0, 0)
    again = world.run("lifecycle", "--as-of", LATER)
    assert again.stdout == f"lifecycle as of {LATER}: 0 expired, 0 exited\n"


def _generation(shard: Path) -> int:
    return max(int(toc.stem.rsplit("_", 1)[1]) for toc in shard.glob("_MAIN_*.toc"))


def _indexed_keys(build: Path) -> set[str]:
    keys: set[str] = set()
    for kind in models.RecordKind:
        shard = whoosh_index.open_dir(str(build / kind.value))
        with shard.reader() as reader:
            keys |= {fields["key"] for fields in reader.all_stored_fields()}
    return keys


def _public_keys(engine: sa.Engine, on: dt.date) -> set[str]:
    with Session(engine) as session:
        return {
            documents.key(kind, record.id or 0)
            for kind, model in models.RECORD_MODELS.items()
            for record in plain_rows.public_records(session, model, on)
        }


def test_a_killed_index_update_keeps_its_watermark_and_a_rerun_catches_up(
    world: World, files: dict[str, Path]
) -> None:
    world.run("index", "--rebuild", "--as-of", ON, "--processes", "1")
    for kind in ("license", "penalty"):
        world.run("ingest", str(files[kind]), "--kind", kind, "--as-of", ON)
    build = indexer.current(world.data_dir / "index")
    assert build is not None
    assert indexer.read_watermark(build) == indexer.Watermark(0, dt.date.fromisoformat(ON))
    licenses = build / models.RecordKind.LICENSE.value
    generation = _generation(licenses)

    # another writer holds the penalty shard: the update commits the license shard, then waits
    blocker = whoosh_index.open_dir(str(build / models.RecordKind.PENALTY.value)).writer()
    try:
        process = world.start("index", "--as-of", ON)
        kill_when(process, lambda: _generation(licenses) > generation)
    finally:
        blocker.cancel()

    assert indexer.current(world.data_dir / "index") == build
    assert indexer.read_watermark(build).event_id == 0  # not past what the penalty shard holds
    rerun = world.run("index", "--as-of", ON)
    assert "index updated as of 2026-06-01:" in rerun.stdout
    with world.engine() as engine:
        with Session(engine) as session:
            last = change_log.last_event_id(session)
        public = _public_keys(engine, dt.date.fromisoformat(ON))
    assert indexer.read_watermark(build).event_id == last
    assert len(public) > 100
    assert _indexed_keys(build) == public


def _builds(world: World) -> set[Path]:
    return {path for path in (world.data_dir / "index" / "builds").iterdir() if path.is_dir()}


def test_a_killed_rebuild_leaves_its_folder_only_until_the_next_index_run(
    world: World, files: dict[str, Path]
) -> None:
    world.run("ingest", str(files["penalty"]), "--kind", "penalty", "--as-of", ON)
    world.run("index", "--rebuild", "--as-of", ON, "--processes", "1")
    live = indexer.current(world.data_dir / "index")
    assert live is not None and _builds(world) == {live}

    process = world.start("index", "--rebuild", "--as-of", ON, "--processes", "1")
    kill_when(process, lambda: any((b / "penalty").is_dir() for b in _builds(world) - {live}))
    (leftover,) = _builds(world) - {live}
    assert not (leftover / "watermark.json").exists()  # killed mid-build: never current

    rerun = world.run("index", "--as-of", ON)  # an update, not a rebuild, clears it
    assert "index updated as of 2026-06-01:" in rerun.stdout
    assert _builds(world) == {live}
    assert indexer.current(world.data_dir / "index") == live
    assert list((world.data_dir / "index" / "builds").glob("*.lock")) == []


# Files that name the release itself (its id, its time) differ between any two releases, and so
# do the names Pagefind gives its index files.
SELF_DESCRIBING = ("data/releases.json", "data/SHA256SUMS", "search/pagefind/")


def _manifest(out: Path, release_id: str) -> dict[str, str]:
    """Path → digest of a release's files, with its own id taken out of paths."""
    document = json.loads(gzip.decompress(release.manifest_path(out, release_id).read_bytes()))
    return {
        path.replace(release_id, "<id>"): digest
        for path, digest in document["files"].items()
        if not path.startswith(SELF_DESCRIBING)
    }


def _complete(out: Path, release_id: str) -> bool:
    folder = release.release_folder(out, release_id)
    return all(
        release.digest((folder / path).read_bytes()) == digest
        for path, digest in json.loads(
            gzip.decompress(release.manifest_path(out, release_id).read_bytes())
        )["files"].items()
    )


def _served(world: World, out: Path, path: str) -> bytes:
    """What `gongshi serve`'s application answers at `path` from the releases in `out`."""
    app_settings = settings.Settings(database_url=world.url, data_dir=world.data_dir, site_dir=out)
    with world.engine() as engine, TestClient(api_app.create_app(app_settings, engine)) as client:
        response = client.get(f"/{path}")
    assert response.status_code == 200
    return response.content


def test_a_killed_publish_leaves_the_previous_release_serving_and_a_rerun_completes(
    world: World, files: dict[str, Path]
) -> None:
    out = world.folder / "site"
    world.run("ingest", str(files["penalty"]), "--kind", "penalty", "--as-of", ON)
    world.run("publish", "--out", str(out), "--as-of", ON, "--workers", "1")
    first = release.current(out)
    assert first is not None
    reference = world.folder / "reference"
    shutil.copytree(out, reference, symlinks=True)

    process = world.start("publish", "--out", str(out), "--as-of", LATER, "--workers", "2")
    workers = kill_when(process, lambda: any(out.glob(f"releases/{release.BUILDING}*/data")))
    assert orphans(workers) == set(), "pool workers outlive a killed publish"

    assert release.current(out) == first
    assert release.releases(out) == [first.id]
    assert _complete(out, first.id)
    assert _served(world, out, "") == (first.folder / "index.html").read_bytes()

    world.run("publish", "--out", str(out), "--as-of", LATER, "--workers", "1")
    world.run("publish", "--out", str(reference), "--as-of", LATER, "--workers", "1")
    second, uninterrupted = release.current(out), release.current(reference)
    assert second is not None and uninterrupted is not None
    assert second.id != first.id
    assert not list(out.glob(f"releases/{release.BUILDING}*"))
    assert release.releases(out) == [first.id, second.id]
    assert _complete(out, second.id)
    assert _manifest(out, second.id) == _manifest(reference, uninterrupted.id)
