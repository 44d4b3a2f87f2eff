"""Indexes a published release's public records as `gongshi publish` does (the search index
alone), from the search documents its manifest keeps: argv[1] the release folder, argv[2] a
scratch folder on the same disk."""

import gzip
import shutil
import sys
from pathlib import Path

import orjson

from publishers import release, search, site

folder, scratch = Path(sys.argv[1]).resolve(), Path(sys.argv[2])
manifest = orjson.loads(
    gzip.decompress(release.manifest_path(folder.parent.parent, folder.name).read_bytes())
)
documents = list(manifest["state"][site.NAME]["documents"].values())
shutil.rmtree(scratch, ignore_errors=True)
scratch.mkdir(parents=True)
search.write_search_index(scratch, None, {}, documents)
shutil.rmtree(scratch)
