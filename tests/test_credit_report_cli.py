"""`gongshi report subject KEY`: the credit report as a PDF file, and `make pdf-tools`."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlmodel import Session

from disclosure import db, endings, models
from gongshi import cli, report_pdf
from tests import conftest, factories
from tests.pdf import flat, needs_pdf, pdf_text
from tests.publishers import site_helpers as helpers

ON = factories.DEFAULT_ON


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("GONGSHI_BASE_URL", helpers.BASE_URL)
    return conftest.cli_runner(tmp_path, monkeypatch)


def stored(tmp_path: Path) -> tuple[models.Subject, models.Subject, models.Penalty]:
    """A company with a public penalty, a person with one, in the command line's database."""
    engine = db.create_engine(conftest.POSTGRES_URL or f"sqlite:///{tmp_path / 'var/gongshi.db'}")
    with Session(engine, expire_on_commit=False) as session:
        company = factories.add_subject(session, name="湛江市赤坎区鸿达食品有限公司")
        penalty = factories.add_penalty(session, subject_id=company.id, content="罚款五万元")
        person = factories.add_subject(session, models.SubjectCategory.NATURAL_PERSON)
        factories.add_penalty(
            session, subject_id=person.id, violation_facts=f"身份证号{helpers.RAW_ID}"
        )
        session.commit()
    engine.dispose()
    return company, person, penalty


@needs_pdf
def test_report_subject_writes_the_pdf_and_prints_its_code(run: CliRunner, tmp_path: Path) -> None:
    assert run.invoke(cli.main, ["init"]).exit_code == 0
    company, person, penalty = stored(tmp_path)
    key = company.credit_code
    assert key is not None
    result = run.invoke(cli.main, ["report", "subject", key.lower(), "--as-of", ON.isoformat()])
    assert result.exit_code == 0, result.output
    name = f"credit-report-{key}-{ON.isoformat()}.pdf"
    lines = result.output.splitlines()
    code = lines[1].removeprefix("verification code / 验证码: ")
    assert lines == [
        name,
        f"verification code / 验证码: {code}",
        f"check at / 核验: {helpers.BASE_URL}reports/verify/{code}",
    ]
    assert code.startswith(f"{key}-{ON:%Y%m%d}-")
    text = flat(pdf_text((tmp_path / name).read_bytes()))
    for expected in ("湛江市赤坎区鸿达食品有限公司", penalty.decision_doc_no, "罚款五万元", code):
        assert expected in text
    out = tmp_path / "reports" / "person.pdf"
    out.parent.mkdir()
    again = run.invoke(
        cli.main, ["report", "subject", f"P{person.id}", "--out", str(out), "--as-of", "2026-06-01"]
    )
    assert again.exit_code == 0, again.output
    assert again.output.splitlines()[0] == str(out)
    assert helpers.RAW_ID not in flat(pdf_text(out.read_bytes()))
    assert not list(out.parent.glob(".person.pdf.*"))  # written whole, nothing left beside it


def test_report_subject_refuses_what_it_cannot_report_in_one_line(
    run: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run.invoke(cli.main, ["init"]).exit_code == 0
    company, person, penalty = stored(tmp_path)
    assert company.credit_code is not None
    with monkeypatch.context() as patch:
        patch.setattr(report_pdf, "FONT_FILE", tmp_path / "no-font.ttc")
        fontless = run.invoke(
            cli.main, ["report", "subject", company.credit_code, "--as-of", ON.isoformat()]
        )
    assert fontless.exit_code == 1 and len(fontless.output.splitlines()) == 1
    assert "fonts-noto-cjk" in fontless.output
    assert not list(tmp_path.glob("*.pdf"))
    unknown = run.invoke(cli.main, ["report", "subject", "91440802MA00000001"])
    assert unknown.exit_code == 1
    assert unknown.output.startswith("Error: 主体 91440802MA00000001 在 ")
    assert len(unknown.output.splitlines()) == 1
    typed = run.invoke(cli.main, ["report", "subject", helpers.RAW_ID])
    assert typed.exit_code == 1 and helpers.RAW_ID not in typed.output
    assert helpers.RAW_ID[6:14] not in typed.output
    engine = db.create_engine(conftest.POSTGRES_URL or f"sqlite:///{tmp_path / 'var/gongshi.db'}")
    with Session(engine) as session:
        record = session.get(models.Penalty, penalty.id)
        assert record is not None
        endings.withdraw(
            session,
            record,
            kind=models.WithdrawalKind.REVOKED,
            reason="复议撤销",
            ctx=factories.ctx(ON),
        )
        session.commit()
    engine.dispose()
    withdrawn = run.invoke(
        cli.main, ["report", "subject", company.credit_code, "--as-of", ON.isoformat()]
    )
    assert withdrawn.exit_code == 1 and "没有公示信息" in withdrawn.output
    folder = tmp_path / "no" / "such"
    nowhere = run.invoke(
        cli.main,
        [
            "report",
            "subject",
            f"P{person.id}",
            "--out",
            str(folder / "x.pdf"),
            "--as-of",
            "2026-06-01",
        ],
    )
    assert (nowhere.exit_code, nowhere.output) == (
        2,
        f"Error: --out: the folder {folder} does not exist\n",
    )
