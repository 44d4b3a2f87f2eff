"""Indexes a published release's public record pages as `gongshi publish --full` does (the search
index alone, every bundle, as many at once as there are cores): argv[1] the release folder,
argv[2] a scratch folder on the same disk."""

import concurrent.futures
import os
import shutil
import sys
from pathlib import Path
from typing import Any

from disclosure import urls
from publishers import search

release, scratch = Path(sys.argv[1]), Path(sys.argv[2])
gone = set((release / urls.GONE).read_text().splitlines())
kinds = {folder: kind for kind, folder in urls.KIND_FOLDERS.items()}
rows: list[dict[str, Any]] = [
    {"kind": kinds[p.parent.name], "id": int(p.stem), "path": str(p.relative_to(release))}
    for p in sorted((release / "records").rglob("*.html"))
    if str(p.relative_to(release)) not in gone
]
shutil.rmtree(scratch, ignore_errors=True)
for row in rows:
    (scratch / row["path"]).parent.mkdir(parents=True, exist_ok=True)
    (scratch / row["path"]).hardlink_to(release / row["path"])
bundles = search.plan(rows, {row["path"]: "" for row in rows})
with concurrent.futures.ThreadPoolExecutor(os.cpu_count()) as pool:
    done = [
        pool.submit(search.write_search_index, scratch, name, bundle.paths)
        for name, bundle in bundles.items()
    ]
    for future in done:
        future.result()
shutil.rmtree(scratch)
