import datetime as dt
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from sqlmodel import Session, select

from disclosure import db, models
from gongshi import cli
from tests import conftest


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    """A runner in an empty working directory, on the database the tests run against."""
    return conftest.cli_runner(tmp_path, monkeypatch)


def _engine(tmp_path: Path) -> sa.Engine:
    return db.create_engine(conftest.POSTGRES_URL or f"sqlite:///{tmp_path / 'var/gongshi.db'}")


def test_init_sample_lifecycle(run: CliRunner, tmp_path: Path) -> None:
    result = run.invoke(cli.main, ["init"])
    assert result.exit_code == 0, result.output
    assert "database ready at schema revision" in result.output
    assert run.invoke(cli.main, ["init"]).exit_code == 0

    result = run.invoke(
        cli.main, ["sample", "--records", "300", "--seed", "3", "--as-of", "2026-11-28"]
    )
    assert result.exit_code == 0, result.output
    assert "sample data as of 2026-11-28 (seed 3)" in result.output

    first = run.invoke(cli.main, ["lifecycle", "--as-of", "2026-11-28"])
    assert first.exit_code == 0, first.output
    second = run.invoke(cli.main, ["lifecycle", "--as-of", "2026-11-28"])
    assert second.output == "lifecycle as of 2026-11-28: 0 expired, 0 exited\n"

    engine = _engine(tmp_path)
    with Session(engine) as session:
        stored = sum(
            session.execute(sa.select(sa.func.count()).select_from(model)).scalar_one()
            for model in models.RECORD_MODELS.values()
        )
        expired = session.exec(
            select(models.Event).where(models.Event.type == models.EventType.EXPIRED)
        ).all()
    engine.dispose()
    assert stored == 300
    assert f"lifecycle as of 2026-11-28: {len(expired)} expired" in first.output
    assert all(event.effective_on <= dt.date(2026, 11, 28) for event in expired)


def test_sample_refuses_a_database_with_records(run: CliRunner) -> None:
    run.invoke(cli.main, ["init"])
    assert run.invoke(cli.main, ["sample", "--records", "30"]).exit_code == 0
    result = run.invoke(cli.main, ["sample", "--records", "30"])
    assert result.exit_code == 1
    assert result.output == (
        "Error: the database already holds 30 records; sample data goes into an empty one\n"
    )


def test_commands_need_a_schema(run: CliRunner) -> None:
    if not conftest.POSTGRES_URL:
        Path("var").mkdir()
        Path("var/gongshi.db").touch()  # an empty SQLite database: no schema
    result = run.invoke(cli.main, ["lifecycle"])
    assert result.exit_code == 1
    assert result.output == "Error: the database schema is missing or old: run `gongshi init`\n"


def test_bad_settings_are_one_line_errors(run: CliRunner) -> None:
    result = run.invoke(cli.main, ["init"], env={"GONGSHI_RULES_FILE": "/nonexistent.toml"})
    assert result.exit_code == 2
    assert result.output == (
        "Error: GONGSHI_RULES_FILE names a file that does not exist: /nonexistent.toml\n"
    )


def test_demo_prints_a_summary(run: CliRunner) -> None:
    result = run.invoke(
        cli.main, ["demo", "--records", "200", "--as-of", "2026-11-28", "--no-serve"]
    )
    assert result.exit_code == 0, result.output
    assert "gongshi demo:" in result.output
    assert "public today" in result.output
    assert "PUBLISHED" in result.output
    assert "published release " in result.output
    assert (Path("var/site/current/index.html")).is_file()
    again = run.invoke(
        cli.main, ["demo", "--records", "200", "--as-of", "2026-11-28", "--no-serve"]
    )
    assert again.exit_code == 0, again.output
    assert "lifecycle: 0 expired, 0 exited" in again.output


def test_demo_searching_the_database_builds_no_index(run: CliRunner) -> None:
    result = run.invoke(
        cli.main,
        ["demo", "--records", "120", "--as-of", "2026-11-28", "--no-serve"],
        env={"GONGSHI_SEARCH": "database"},
    )
    assert result.exit_code == 0, result.output
    assert "search: the database's search rows (GONGSHI_SEARCH=database)" in result.output
    assert "indexed, " not in result.output  # no whoosh index was built
    assert not Path("var/index").exists()


def test_index_builds_then_follows(run: CliRunner) -> None:
    run.invoke(cli.main, ["init"])
    run.invoke(cli.main, ["sample", "--records", "120", "--as-of", "2026-11-28"])
    built = run.invoke(cli.main, ["index", "--as-of", "2026-11-28", "--processes", "1"])
    assert built.exit_code == 0, built.output
    assert built.output.startswith("index rebuilt as of 2026-11-28: ")
    updated = run.invoke(cli.main, ["index", "--as-of", "2026-11-28"])
    assert updated.output.startswith(
        "index updated as of 2026-11-28: 0 events, 0 indexed, 0 removed"
    )


def test_index_with_the_database_backend_fills_once_then_has_nothing_to_build(
    run: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GONGSHI_SEARCH", "database")
    run.invoke(cli.main, ["init"])
    run.invoke(cli.main, ["sample", "--records", "120", "--as-of", "2026-11-28"])
    first = run.invoke(cli.main, ["index"])
    assert first.exit_code == 0, first.output
    assert first.output.startswith("search rows written, and kept from now on by every writer: ")
    nothing = run.invoke(cli.main, ["index"])
    assert nothing.exit_code == 0, nothing.output
    assert nothing.output.startswith("nothing to build: GONGSHI_SEARCH=database searches")
    rebuilt = run.invoke(cli.main, ["index", "--rebuild"])
    assert rebuilt.exit_code == 0, rebuilt.output
    assert rebuilt.output.startswith("search rows rewritten: ")
    assert not (tmp_path / "var" / "index").exists()
    monkeypatch.setenv("GONGSHI_SEARCH", "elastic")
    wrong = run.invoke(cli.main, ["index"])
    assert wrong.exit_code == 2
    assert "GONGSHI_SEARCH is 'elastic': it must be one of whoosh, database" in wrong.output


def _penalty_file(path: Path, rows: list[dict[str, str]]) -> Path:
    from tests.template_rows import write_csv

    return write_csv(path, rows)


def test_ingest_exit_codes_and_report(run: CliRunner, tmp_path: Path) -> None:
    from tests.template_rows import penalty_cells

    run.invoke(cli.main, ["init"])
    good = _penalty_file(tmp_path / "good.csv", [penalty_cells()])
    args = ["--kind", "penalty", "--as-of", "2026-05-25"]
    result = run.invoke(cli.main, ["ingest", str(good), *args])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[:6] == [
        "ingest good.csv (penalty, csv (utf-8)) as of 2026-05-25, in one transaction:",
        "  rows read         1",
        "  accepted          1",
        "  corrected         0",
        "  unchanged         0",
        "  rejected          0",
    ]
    again = run.invoke(cli.main, ["ingest", str(good), *args])
    assert again.exit_code == 0
    assert "nothing changed: every accepted row was already stored as given" in again.output

    mixed = _penalty_file(
        tmp_path / "mixed.csv",
        [penalty_cells(decision_doc_no="赤市监罚〔2026〕2号"), penalty_cells(fine_amount_wan="")],
    )
    result = run.invoke(cli.main, ["ingest", str(mixed), *args])
    assert result.exit_code == 3, result.output
    assert f"  rejected          1 → {tmp_path / 'mixed.csv.rejects.csv'}" in result.output

    binary = tmp_path / "binary.csv"
    binary.write_bytes(b"\x00\xff\x00garbage")
    result = run.invoke(cli.main, ["ingest", str(binary), *args])
    assert result.exit_code == 2
    assert result.output == (
        f"Error: {binary}: 不是文本文件（CSV） / not a text (CSV) file — 未写入任何数据 / "
        "nothing was written\n"
    )
    engine = _engine(tmp_path)
    with Session(engine) as session:
        assert len(session.exec(select(models.Penalty)).all()) == 2
    engine.dispose()


def test_sample_files_ingest_cleanly(run: CliRunner, tmp_path: Path) -> None:
    run.invoke(cli.main, ["init"])
    result = run.invoke(
        cli.main,
        [
            "sample",
            "--records",
            "60",
            "--to-files",
            "files",
            "--as-of",
            "2026-11-28",
            "--kind",
            "penalty",
            "--kind",
            "license",
        ],
    )
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "files").iterdir()) == [
        "license.csv",
        "list-entry.csv",
        "penalty.csv",
    ]
    for kind in ("penalty", "license"):
        ingested = run.invoke(
            cli.main, ["ingest", f"files/{kind}.csv", "--kind", kind, "--as-of", "2026-11-28"]
        )
        assert ingested.exit_code == 0, ingested.output
        assert "  rejected          0" in ingested.output


def test_token_commands(run: CliRunner) -> None:
    run.invoke(cli.main, ["init"])
    run.invoke(cli.main, ["sample", "--records", "20"])
    from disclosure import sample as sample_data

    unit = sample_data.department_code("赤坎区市场监督管理局")
    created = run.invoke(cli.main, ["token", "create", "--unit", unit, "--expires", "2030-01-01"])
    assert created.exit_code == 0, created.output
    first, secret = created.output.splitlines()
    assert first == "token #1 for 赤坎区市场监督管理局 (department); its secret, shown once:"
    listed = run.invoke(cli.main, ["token", "list"])
    assert "赤坎区市场监督管理局" in listed.output
    assert "2030-01-01" in listed.output
    assert secret not in listed.output
    assert run.invoke(cli.main, ["token", "revoke", "1"]).output == "token #1 revoked\n"
    unknown = run.invoke(cli.main, ["token", "create", "--unit", "X"])
    assert (unknown.exit_code, unknown.output) == (1, "Error: no department with credit code X\n")
    assert run.invoke(cli.main, ["audit", "--since", "2026-01-01"]).output == ""
    overdue = run.invoke(cli.main, ["overdue", "--as-of", "2026-11-28"])
    assert overdue.exit_code == 0, overdue.output
    assert overdue.output.splitlines()[-1].startswith("as of 2026-11-28: ")


def test_publish_builds_a_release_then_an_incremental_one(run: CliRunner, tmp_path: Path) -> None:
    assert run.invoke(cli.main, ["init"]).exit_code == 0
    sampled = run.invoke(cli.main, ["sample", "--records", "60", "--as-of", "2026-11-28"])
    assert sampled.exit_code == 0, sampled.output
    args = ["publish", "--out", "site", "--as-of", "2026-11-28", "--workers", "2"]
    first = run.invoke(cli.main, [*args, "--base-url", "https://credit.example.gov.cn"])
    assert first.exit_code == 0, first.output
    assert "(full)" in first.output
    again = run.invoke(cli.main, [*args, "--base-url", "https://credit.example.gov.cn/"])
    assert again.exit_code == 0, again.output
    assert "(incremental)" in again.output
    assert "0 pages rendered (0 record pages)" in again.output
    current = tmp_path / "site" / "current"
    robots = (current / "robots.txt").read_text()
    assert robots.endswith("Sitemap: https://credit.example.gov.cn/sitemap.xml\n")
    wrong = run.invoke(cli.main, [*args, "--base-url", "credit.example.gov.cn"])
    assert wrong.exit_code == 2
    assert wrong.output == "Error: --base-url is not an http(s) URL: 'credit.example.gov.cn'\n"
