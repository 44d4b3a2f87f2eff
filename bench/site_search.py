"""Indexes a published release's public record pages as `gongshi publish` does (the search
index alone): argv[1] the release folder, argv[2] a scratch folder on the same disk."""

import shutil
import sys
from pathlib import Path

from disclosure import urls
from publishers import search

release, scratch = Path(sys.argv[1]), Path(sys.argv[2])
gone = set((release / urls.GONE).read_text().splitlines())
paths = sorted(
    str(p.relative_to(release))
    for p in (release / "records").rglob("*.html")
    if str(p.relative_to(release)) not in gone
)
shutil.rmtree(scratch, ignore_errors=True)
for path in paths:
    (scratch / path).parent.mkdir(parents=True, exist_ok=True)
    (scratch / path).hardlink_to(release / path)
search.write_search_index(scratch, paths)
shutil.rmtree(scratch)
