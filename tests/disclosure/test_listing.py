"""A release's listing answers exactly the paths it was written with."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from disclosure import listing

_paths = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\n\r"), min_size=1)


@given(st.sets(_paths, max_size=60), st.lists(_paths, max_size=30))
def test_a_listing_holds_exactly_its_paths(written: set[str], asked: list[str]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        release = Path(folder) / "r"
        listing.write(listing.path_for(release), written)
        found = listing.open_listing(release)
        assert found is not None
        for path in [*written, *asked]:
            assert (path in found) == (path in written)
        found.close()


def test_a_release_without_a_listing_has_none(tmp_path: Path) -> None:
    assert listing.open_listing(tmp_path / "r") is None
