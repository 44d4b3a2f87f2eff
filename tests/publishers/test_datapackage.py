"""The open data package passes the real `frictionless validate`: every resource, CSV and JSON
Lines, has its Table Schema, whether a kind has no records, a few, or 20,000."""

from __future__ import annotations

import gzip
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from disclosure import lifecycle, models, sample, urls, workdays
from publishers import bulk_schema
from tests import conftest
from tests.publishers import site_helpers as helpers


def generated(
    engine: sa.Engine, records: int, kinds: list[models.RecordKind] | None = None
) -> None:
    with Session(engine) as session:
        sample.generate(
            session,
            records=records,
            seed=19,
            as_of=helpers.ON,
            rules=lifecycle.Rules(),
            calendar=workdays.Calendar(),
            kinds=kinds,
        )
        session.commit()


def rows(report: dict[str, Any]) -> dict[str, int]:
    """Rows read per resource (an empty JSON Lines file is checked as a file: no rows)."""
    return {task["name"]: task["stats"].get("rows", 0) for task in report["tasks"]}


@pytest.mark.parametrize("kind", list(models.RecordKind))
def test_a_release_with_one_kind_only_validates(
    engine: sa.Engine, tmp_path: Path, kind: models.RecordKind
) -> None:
    generated(engine, 30, [kind])
    folder = helpers.publish_all(engine, tmp_path / "out").folder
    report = helpers.validate(folder)
    counted = rows(report)
    name = urls.KIND_FOLDERS[kind]
    # the kind's three files hold the same few records; the other kinds' are empty, and valid
    assert {each for each, count in counted.items() if count} == {
        name,
        f"{name}-csv",
        f"{name}-jsonl",
    }
    assert counted[name] == counted[f"{name}-csv"] == counted[f"{name}-jsonl"] > 0
    package = json.loads((folder / urls.DATAPACKAGE).read_text())
    assert all("fields" in resource["schema"] for resource in package["resources"])
    # the package names its data licence, which frictionless checked above with the rest
    assert package["licenses"] == [
        {
            "name": "CC-BY-4.0",
            "path": "https://creativecommons.org/licenses/by/4.0/",
            "title": "Creative Commons Attribution 4.0 International（署名 4.0 国际）",
        }
    ]


@pytest.fixture(scope="module")
def large_release(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, float]]:
    """One release of 20,000 sample records (its generation timed), for the module."""
    engine = conftest.sqlite_memory_engine()
    started = time.perf_counter()
    generated(engine, 20_000)
    built = helpers.publish_all(engine, tmp_path_factory.mktemp("large"))
    yield built.folder, time.perf_counter() - started
    engine.dispose()


def test_a_release_of_20000_records_validates(large_release: tuple[Path, float]) -> None:
    folder, seconds = large_release
    counted = rows(helpers.validate(folder))
    for name in ("licenses", "penalties", "list-entries"):
        assert counted[name] == counted[f"{name}-csv"] == counted[f"{name}-jsonl"] > 1_000
    # the uncompressed CSV is the gzipped one's bytes
    for kind in models.RecordKind:
        plain = (folder / urls.data_path(kind, "csv")).read_bytes()
        assert plain == gzip.decompress((folder / urls.data_path(kind, "csv.gz")).read_bytes())
    assert seconds < 120, f"generating and publishing 20,000 records took {seconds:.0f} s"


def test_every_json_lines_key_has_a_field_in_its_schema() -> None:
    for kind, shape in bulk_schema.SHAPES.items():
        fields = bulk_schema.jsonl_schema(kind)["fields"]
        assert [field["name"] for field in fields] == list(shape.model_fields)
        types = {field["name"]: field["type"] for field in fields}
        assert types["subject"] == types["authority"] == "object"
        assert types["decision_on"] == "date"
