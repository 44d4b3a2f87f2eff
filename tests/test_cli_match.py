"""`gongshi match FILE.csv` through the command line."""

import csv
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from sqlmodel import Session

from gongshi import cli
from tests import conftest, factories


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    runner = conftest.cli_runner(tmp_path, monkeypatch)
    assert runner.invoke(cli.main, ["init"]).exit_code == 0
    url = conftest.POSTGRES_URL or f"sqlite:///{tmp_path / 'var/gongshi.db'}"
    engine = sa.create_engine(url)
    with Session(engine) as session:
        subject = factories.add_subject(
            session, name="湛江市鸿达兴业食品有限公司", credit_code="91440802MA4UH8XK1F"
        )
        factories.add_penalty(session, subject_id=subject.id)
        session.commit()
    engine.dispose()
    return runner


def _written(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as file:
        csv.writer(file).writerows(rows)
    return path


def test_match_writes_each_rows_best_subject_beside_the_file(
    run: CliRunner, tmp_path: Path
) -> None:
    source = _written(
        tmp_path / "customers.csv",
        [
            ["企业名称", "统一社会信用代码", "法定代表人", "地区"],
            ["鴻達興業食品有限公司", "", "", ""],
            ["湛江鸿达兴叶食品（赤坎）有限公司", "", "", "湛江"],
            ["金海物流有限公司", "", "", ""],
            ["", "", "李伟", ""],
            ["鸿达", "91440802MA4UH8XK10", "", ""],
            ["=HYPERLINK(1)", "", "", ""],
        ],
    )
    result = run.invoke(cli.main, ["match", str(source), "--as-of", "2026-06-01"])
    assert result.exit_code == 0, result.output
    out = tmp_path / "customers.match.csv"
    assert result.output == f"{out}\nrows 6: matched 2, not matched 2, refused 2\n"
    with out.open(encoding="utf-8-sig", newline="") as file:
        rows = list(csv.reader(file))
    name, code = "湛江市鸿达兴业食品有限公司", "91440802MA4UH8XK1F"
    assert rows == [
        ["企业名称", "统一社会信用代码", "法定代表人", "地区", *cli_header()],
        ["鴻達興業食品有限公司", "", "", "", "是", "1.0000", name, code, "name_key", ""],
        [
            "湛江鸿达兴叶食品（赤坎）有限公司",
            "",
            "",
            "湛江",
            "是",
            "0.8333",
            name,
            code,
            "name_tokens",
            "",
        ],
        ["金海物流有限公司", "", "", "", "否", "", "", "", "", ""],
        ["", "", "李伟", "", "", "", "", "", "", "第5行 名称为空 / row 5: name is empty"],
        [
            "鸿达",
            "91440802MA4UH8XK10",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "第6行 统一社会信用代码「91440802MA4UH8XK10」无效 / row 6: credit_code "
            "'91440802MA4UH8XK10' is not a valid unified social credit code",
        ],
        ["'=HYPERLINK(1)", "", "", "", "否", "", "", "", "", ""],
    ]


def cli_header() -> list[str]:
    return ["匹配", "相似度", "匹配主体", "匹配主体信用代码", "依据", "说明"]


def test_a_file_without_a_name_column_is_one_line_error(run: CliRunner, tmp_path: Path) -> None:
    source = _written(tmp_path / "list.csv", [["code"], ["x"]])
    result = run.invoke(cli.main, ["match", str(source)])
    assert result.exit_code == 1
    assert result.output == (
        "Error: 缺少「名称」列 / the file has no name column (name, 名称, 企业名称 …)\n"
    )
    assert not (tmp_path / "list.match.csv").exists()
    missing = run.invoke(cli.main, ["match", str(tmp_path / "none.csv")])
    assert missing.exit_code == 1
    assert "none.csv" in missing.output and "cannot read it" in missing.output
