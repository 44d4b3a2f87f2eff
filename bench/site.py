"""`gongshi publish` of a 100,000-record database: a full publish (pages/s over both cores),
its search index alone (Pagefind over the public record pages, bundle by bundle over every core,
as the publish runs it), and incremental publishes after 1,000 withdrawals of the oldest
penalties, then of 1,000 drawn at random; site size on disk. The peer is Pagefind indexing every
record page with its defaults: the part of the publish we do not write."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from bench import data, report

RECORDS = int(os.environ.get("BENCH_SITE_RECORDS", "100000"))
CHANGES = 1_000
AS_OF = "2026-11-28"
BASE_URL = "https://credit.example.gov.cn/"  # a publish names the public site it is for
CHANGES_SCRIPT = Path(__file__).with_name("site_changes.py")
SEARCH_SCRIPT = Path(__file__).with_name("site_search.py")


def _files(folder: Path) -> tuple[int, int]:
    """How many files a release has, and their size on disk in bytes (hard links counted once)."""
    seen: set[int] = set()
    count = size = 0
    for path in folder.rglob("*"):
        if path.is_file():
            count += 1
            stat = path.stat()
            if stat.st_ino not in seen:
                seen.add(stat.st_ino)
                size += stat.st_blocks * 512
    return count, size


def _page_data(folder: Path) -> tuple[int, int]:
    """How many data files the pages have beside them (.json and .csv outside data/ and the
    search index), and their size on disk in bytes."""
    count = size = 0
    for path in folder.rglob("*"):
        top = path.relative_to(folder).parts[0]
        if path.suffix in (".json", ".csv") and top not in ("data", "search") and path.is_file():
            count += 1
            size += path.stat().st_blocks * 512
    return count, size


def run(workdir: Path) -> list[report.Result]:
    gongshi = str(Path(sys.executable).with_name("gongshi"))
    env = {**os.environ, "GONGSHI_DATA_DIR": str(workdir / "var")}
    env.pop("DATABASE_URL", None)
    database = data.sample_database(workdir, RECORDS)
    source = os.environ.get("GONGSHI_BENCH_DB")
    key = Path(source).with_name("id.key") if source else None
    if key is not None and key.exists():  # the copied database's identity-number key
        shutil.copyfile(key, database.with_name("id.key"))
    # a copied database may have an older schema
    subprocess.run([gongshi, "init"], cwd=workdir, env=env, check=True, capture_output=True)
    out = workdir / "out"
    publish = [gongshi, "publish", "--out", str(out), "--as-of", AS_OF, "--base-url", BASE_URL]
    full = report.measure("gongshi publish --full", [*publish, "--full"], cwd=workdir, env=env)
    pages, size = _files(out / "current")
    data_files, data_size = _page_data(out / "current")
    full = report.Timing(full.label, full.command, full.seconds, full.peak_mb, pages, "files")
    peer = report.measure(
        "pagefind (records only)",
        [
            sys.executable,
            "-m",
            "pagefind",
            "--site",
            str(out / "current"),
            "--glob",
            "records/**/*.html",
            "--output-path",
            str(workdir / "pagefind"),
            "--silent",
        ],
        cwd=workdir,
        env=env,
    )
    index = report.measure(
        "search index alone (Pagefind, public record pages)",
        [sys.executable, str(SEARCH_SCRIPT), str(out / "current"), str(workdir / "search")],
        cwd=workdir,
        env=env,
    )
    oldest, spread = (
        report.measure(
            f"gongshi publish after {CHANGES:,} withdrawals ({how})",
            publish,
            cwd=workdir,
            env=env,
            setup=[[sys.executable, str(CHANGES_SCRIPT), str(CHANGES), AS_OF, how]],
        )
        for how in ("oldest", "spread")
    )
    return [
        report.Result(
            title=f"Site: full publish of {RECORDS:,} records",
            ours=full,
            peer=peer,
            target="≥ 1,000 pages/s on 2 cores; Pagefind time and peak memory reported",
            notes=f"Release: {pages:,} files, {size / 2**20:,.0f} MiB on disk, of which "
            f"{data_files:,} data files beside the list and subject pages "
            f"({data_size / 2**20:,.0f} MiB).",
        ),
        report.Result(
            title=f"Site: search index of {RECORDS:,} records",
            ours=index,
            peer=peer,
            target="Pagefind time and peak memory reported",
            notes="Bundles of 10,000 record ids per kind, indexed on the workers while the "
            "other pages render; a publish re-indexes only the bundles whose pages changed.",
        ),
        report.Result(
            title=f"Site: incremental publish after {CHANGES:,} changes",
            ours=oldest,
            peer=None,
            target="< 15 s",
            notes="The oldest public penalties withdrawn: the changes fall in one or two "
            "search bundles.",
        ),
        report.Result(
            title=f"Site: incremental publish after {CHANGES:,} changes spread over all ids",
            ours=spread,
            peer=None,
            target="< 15 s",
            notes="Public penalties drawn at random: every penalty bundle is re-indexed.",
        ),
    ]
