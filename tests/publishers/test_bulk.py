import csv
import datetime as dt
import gzip
import io
import json
import os
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from disclosure import endings, models, privacy, urls, workflows
from disclosure.queries import plain_rows
from publishers import bulk, bulk_schema, release
from tests import factories
from tests.publishers import site_helpers as helpers

ON = helpers.ON


def data_files(folder: Path) -> dict[str, bytes]:
    base = folder / "data"
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(base.rglob("*")) if p.is_file()
    }


def dump(folder: Path) -> dict[tuple[str, int], dict[str, Any]]:
    """Every record of a release's JSON Lines files, by (kind, id)."""
    found = {}
    for kind in models.RecordKind:
        with gzip.open(folder / urls.data_path(kind, "jsonl.gz"), "rt", encoding="utf-8") as lines:
            for line in lines:
                record = json.loads(line)
                found[(record["kind"], record["id"])] = record
    return found


def test_bulk_files_hold_every_public_record_with_template_headers(
    engine: sa.Engine, session: Session, tmp_path: Path
) -> None:
    story = helpers.tell(session)
    built = helpers.publish_all(engine, tmp_path / "out")
    files = data_files(built.folder)
    assert set(files) == {
        "data/licenses.csv.gz",
        "data/licenses.csv",
        "data/licenses.jsonl.gz",
        "data/penalties.csv.gz",
        "data/penalties.csv",
        "data/penalties.jsonl.gz",
        "data/list-entries.csv.gz",
        "data/list-entries.csv",
        "data/list-entries.jsonl.gz",
        "data/datapackage.json",
        "data/SHA256SUMS",
        "data/releases.json",
    }
    raw = gzip.decompress(files["data/penalties.csv.gz"])
    assert files["data/penalties.csv"] == raw  # under 50 MB: offered uncompressed too
    assert raw.startswith("\ufeff记录编号,记录类型,主体标识,行政相对人类别,行政相对人名称".encode())
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert [int(r["记录编号"]) for r in rows] == [
        story.penalty.id,
        story.person_penalty.id,
        story.objected.id,
    ]
    assert rows[0]["行政处罚决定书文号"] == story.penalty.decision_doc_no
    assert rows[0]["处罚类别"] == "罚款"
    assert rows[2]["异议处理中"] == "true"
    assert sorted(dump(built.folder)) == sorted(
        [
            ("license", story.license.id or 0),
            ("penalty", story.penalty.id or 0),
            ("penalty", story.person_penalty.id or 0),
            ("penalty", story.objected.id or 0),
            ("list_entry", story.entry.id or 0),
        ]
    )
    everything = b"".join(gzip.decompress(d) if p.endswith(".gz") else d for p, d in files.items())
    assert helpers.SECRET_FACTS.encode() not in everything
    assert story.withdrawn.decision_doc_no.encode() not in everything
    # gzip without a name or a time: the same rows give the same bytes
    assert files["data/penalties.csv.gz"][4:8] == b"\0\0\0\0"


def test_the_data_package_passes_frictionless_validate(
    engine: sa.Engine, session: Session, tmp_path: Path
) -> None:
    helpers.tell(session)
    built = helpers.publish_all(engine, tmp_path / "out")
    helpers.validate(built.folder)
    package = json.loads((built.folder / urls.DATAPACKAGE).read_text())
    for resource in package["resources"]:
        data = (built.folder / "data" / resource["path"]).read_bytes()
        assert resource["bytes"] == len(data)
    sums = (built.folder / urls.CHECKSUMS).read_text().splitlines()
    assert [line.split("  ")[1] for line in sums] == [
        "datapackage.json",
        "licenses.csv",
        "licenses.csv.gz",
        "licenses.jsonl.gz",
        "list-entries.csv",
        "list-entries.csv.gz",
        "list-entries.jsonl.gz",
        "penalties.csv",
        "penalties.csv.gz",
        "penalties.jsonl.gz",
        "releases.json",
    ]


def test_a_csv_over_the_limit_is_offered_gzipped_only(
    engine: sa.Engine, session: Session, tmp_path: Path, monkeypatch: Any
) -> None:
    helpers.tell(session)
    for _ in range(3):
        factories.add_license(session)
    session.commit()
    gzipped = urls.data_path(models.RecordKind.LICENSE, "csv.gz")
    first = helpers.publish_all(engine, tmp_path / "first").folder
    sizes = {
        kind: len(gzip.decompress((first / urls.data_path(kind, "csv.gz")).read_bytes()))
        for kind in models.RecordKind
    }
    # a limit between the licenses' CSV (the largest here) and the others'
    limit = sizes[models.RecordKind.LICENSE]
    assert all(size < limit for kind, size in sizes.items() if kind != models.RecordKind.LICENSE)
    monkeypatch.setattr(bulk, "PLAIN_CSV_LIMIT", limit)
    folder = helpers.publish_all(engine, tmp_path / "out").folder
    files = data_files(folder)
    plain = {path for path in files if path.endswith(".csv")}
    assert plain == {"data/list-entries.csv", "data/penalties.csv"}
    assert gzipped in files
    package = json.loads(files[urls.DATAPACKAGE])
    assert "licenses-csv" not in [resource["name"] for resource in package["resources"]]
    assert "penalties-csv" in [resource["name"] for resource in package["resources"]]
    summed = [line.split("  ")[1] for line in files[urls.CHECKSUMS].decode().splitlines()]
    assert "penalties.csv" in summed and "licenses.csv" not in summed
    text = (folder / urls.OPEN_DATA).read_text()
    assert 'href="data/penalties.csv"' in text and 'href="data/licenses.csv"' not in text


def test_an_unchanged_dump_is_byte_identical_and_keeps_its_time(
    engine: sa.Engine, session: Session, tmp_path: Path
) -> None:
    helpers.tell(session)
    first = helpers.publish_all(engine, tmp_path / "out")
    path = urls.data_path(models.RecordKind.PENALTY, "csv.gz")
    before = os.stat(first.folder / path)
    second = helpers.publish_all(engine, tmp_path / "out")
    after = os.stat(second.folder / path)
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    changes = gzip.decompress((second.folder / urls.changes_path(second.id)).read_bytes())
    assert changes == b""


def test_change_files_applied_in_order_give_the_last_dump(
    engine: sa.Engine, session: Session, tmp_path: Path
) -> None:
    story = helpers.tell(session)
    out = tmp_path / "out"
    first = helpers.publish_all(engine, out)
    day = ON + dt.timedelta(days=1)
    endings.withdraw(
        session,
        story.penalty,
        kind=models.WithdrawalKind.REVOKED,
        reason="复议撤销",
        ctx=factories.ctx(day),
    )
    factories.add_license(session, day)
    session.commit()
    second = helpers.publish_all(engine, out, day)
    workflows.correct(
        session, story.license, {"content": "准予食品经营许可（更正）"}, ctx=factories.ctx(day)
    )
    session.commit()
    third = helpers.publish_all(engine, out, day)
    mirror = dump(first.folder)
    for built in (second, third):
        with gzip.open(built.folder / urls.changes_path(built.id), "rt") as lines:
            for line in lines:
                change = json.loads(line)
                if change["op"] == "DEL":
                    assert set(change) == {"op", "kind", "id", "reason", "ended_on"}
                    del mirror[(change["kind"], change["id"])]
                else:
                    record = change["record"]
                    mirror[(record["kind"], record["id"])] = record
    assert mirror == dump(third.folder)
    second_changes = gzip.decompress((second.folder / urls.changes_path(second.id)).read_bytes())
    assert [json.loads(line)["op"] for line in second_changes.splitlines()] == ["ADD", "DEL"]
    assert json.loads(second_changes.splitlines()[1]) == {
        "op": "DEL",
        "kind": "penalty",
        "id": story.penalty.id,
        "reason": "withdrawn",
        "ended_on": "2026-06-02",
    }
    releases = json.loads((third.folder / urls.RELEASES).read_text())["releases"]
    assert [(r["id"], r["changes"]) for r in releases] == [
        (third.id, urls.changes_path(third.id)),
        (second.id, urls.changes_path(second.id)),
        (first.id, None),
    ]
    assert (third.folder / urls.changes_path(second.id)).is_file()


def publish_bulk(engine: sa.Engine, out: Path, **options: Any) -> release.Release:
    """One publish of the bulk files alone."""
    settings = bulk.BulkOptions(on=ON, links=helpers.LINKS, **options)
    return release.publish(
        out,
        [(bulk.NAME, bulk.builder(engine, settings, bulk.BulkReport()))],
        now=dt.datetime.now(dt.UTC),
    )


def test_every_line_and_row_is_the_records_public_shape(
    engine: sa.Engine, session: Session, tmp_path: Path
) -> None:
    """The export serializes the projection's fields itself: the JSON is what the public shape
    serializes to, and the CSV cells are its JSON values flattened."""
    helpers.tell(session)
    factories.add_penalty(session, fine_amount_wan=Decimal("12.5"), confiscation_amount_wan=None)
    # cells the CSV must quote: a comma, quotes, line breaks
    factories.add_penalty(session, remarks='当事人称"已整改",\r\n另见附件')
    session.commit()
    built = publish_bulk(engine, tmp_path / "out", chunk_ids=2)
    for kind, model in models.RECORD_MODELS.items():
        shapes = [privacy.project(r, ON) for r in plain_rows.public_records(session, model, ON)]
        assert shapes
        jsonl = gzip.decompress((built.folder / urls.data_path(kind, "jsonl.gz")).read_bytes())
        assert jsonl == b"".join(shape.model_dump_json().encode() + b"\n" for shape in shapes)
        raw = gzip.decompress((built.folder / urls.data_path(kind, "csv.gz")).read_bytes())
        rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
        assert rows[0] == [column.header for column in bulk_schema.columns(kind)]
        expected = []
        for shape in shapes:
            document = shape.model_dump(mode="json")
            expected.append([text(column.path, document) for column in bulk_schema.columns(kind)])
        assert rows[1:] == expected
        # the very bytes the csv module writes
        written = io.StringIO()
        csv.writer(written, lineterminator="\r\n").writerows(rows)
        assert raw.decode("utf-8-sig") == written.getvalue()


def text(path: tuple[str, ...], document: dict[str, Any]) -> str:
    """The CSV text of a JSON value: empty for null, true/false, lists joined by ";"."""
    value: Any = document
    for step in path:
        value = value[step]
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ";".join(value)
    return str(value)


def test_the_files_are_the_same_whatever_the_workers_and_chunks(
    engine: sa.Engine, session: Session, tmp_path: Path
) -> None:
    helpers.tell(session)
    for _ in range(5):
        factories.add_license(session)
    session.commit()
    url = engine.url.render_as_string(hide_password=False)
    alone = publish_bulk(engine, tmp_path / "alone", chunk_ids=1)
    pooled = publish_bulk(engine, tmp_path / "pooled", chunk_ids=1, database_url=url, workers=2)
    whole = publish_bulk(engine, tmp_path / "whole", database_url=url, workers=2)
    # releases.json (and so SHA256SUMS) names each release by its time
    timed = {urls.RELEASES, urls.CHECKSUMS}
    files = {p: d for p, d in data_files(alone.folder).items() if p not in timed}
    assert files.keys() > {"data/licenses.csv.gz", "data/datapackage.json"}
    assert {p: d for p, d in data_files(pooled.folder).items() if p in files} == files
    # several gzip members, one per chunk after the header: one valid gzip stream
    licenses = files["data/licenses.csv.gz"]
    assert licenses.count(b"\x1f\x8b\x08") > 2
    unzipped = {p: gzip.decompress(d) for p, d in files.items() if p.endswith(".gz")}
    assert unzipped
    assert {
        p: gzip.decompress(d) for p, d in data_files(whole.folder).items() if p in unzipped
    } == (unzipped)
    # the next publish finds each chunk's old lines by the offsets the manifest keeps, or, with
    # another chunk size, by reading the previous file: nothing changed either way
    for chunk_ids in (1, 3):
        again = publish_bulk(
            engine, tmp_path / "pooled", chunk_ids=chunk_ids, database_url=url, workers=2
        )
        changes = gzip.decompress((again.folder / urls.changes_path(again.id)).read_bytes())
        assert changes == b""
        assert not (again.folder / bulk.PARTS).exists()


def test_a_formula_in_a_text_cell_is_neutralised_in_the_csv_and_kept_in_the_jsonl(
    engine: sa.Engine, session: Session, tmp_path: Path
) -> None:
    facts = '=HYPERLINK("http://evil.example/","点击")'
    penalty = factories.add_penalty(
        session, violation_facts=facts, content="+cmd|' /C calc'!A0", remarks="-2.5"
    )
    session.commit()
    built = publish_bulk(engine, tmp_path / "out")
    raw = gzip.decompress((built.folder / "data/penalties.csv.gz").read_bytes())
    (row,) = [
        r
        for r in csv.DictReader(io.StringIO(raw.decode("utf-8-sig")))
        if r["记录编号"] == str(penalty.id)
    ]
    assert (row["违法事实"], row["处罚内容"], row["备注"]) == (
        "'" + facts,
        "'+cmd|' /C calc'!A0",
        "-2.5",
    )
    assert row["罚款金额（万元）"] == "0.2"
    assert dump(built.folder)[("penalty", penalty.id or 0)]["violation_facts"] == facts
