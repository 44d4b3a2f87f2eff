"""The sample database a benchmark runs on: generated, or copied from an earlier run."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

AS_OF = "2026-11-28"


def sample_database(workdir: Path, records: int) -> Path:
    """workdir/var/gongshi.db with a sample of `records` records (seed 1): a copy of the file
    named by GONGSHI_BENCH_DB when it is set (that file is never written), else made by
    `gongshi init` and `gongshi sample`."""
    database = workdir / "var" / "gongshi.db"
    database.parent.mkdir(parents=True, exist_ok=True)
    source = os.environ.get("GONGSHI_BENCH_DB")
    if source:
        shutil.copyfile(source, database)
        return database
    gongshi = str(Path(sys.executable).with_name("gongshi"))
    env = {**os.environ, "GONGSHI_DATA_DIR": str(database.parent)}
    env.pop("DATABASE_URL", None)
    for step in (
        ["init"],
        ["sample", "--records", str(records), "--seed", "1", "--as-of", AS_OF],
    ):
        subprocess.run([gongshi, *step], env=env, check=True, cwd=workdir, capture_output=True)
    return database
