"""Penalty rows of the national 双公示 template as a department files them: the cells of a valid
row, a CSV file of rows, and that row checked or a file ingested through the real code."""

from __future__ import annotations

import csv
import random
from pathlib import Path

from sqlmodel import Session

from disclosure import ingest, models, sample, template, upsert, validation, workflows
from tests import factories

AUTHORITY = sample.department_code("赤坎区市场监督管理局")
COMPANY = sample.credit_code(random.Random(7), registrar="9", kind="1", region="440802")
PERSON = "440802199001011238"
KEYS = [column.key for column in template.PENALTY]


def penalty_cells(**overrides: str) -> dict[str, str]:
    """A valid penalty row of the template, by our column keys."""
    return {
        "subject_name": "湛江市赤坎区鸿达食品有限公司",
        "subject_category": "法人及非法人组织",
        "subject_uscc": COMPANY,
        "legal_rep_name": "李伟",
        "decision_doc_no": "赤市监罚〔2026〕101号",
        "violation_type": "销售不符合食品安全标准的食品",
        "violation_facts": "抽检发现当事人销售的散装花生油酸价超标",
        "legal_basis": "《中华人民共和国食品安全法》第一百二十四条第一款",
        "penalty_category": "罚款",
        "penalty_content": "罚款2000元",
        "fine_amount_wan": "0.2",
        "decision_date": "2026/05/20",
        "penalty_valid_until": "2026/06/20",
        "authority_name": "赤坎区市场监督管理局",
        "authority_uscc": AUTHORITY,
        "source_unit": "赤坎区市场监督管理局",
        "source_unit_uscc": AUTHORITY,
    } | overrides


def doc(n: int) -> str:
    """The decision document number (文号) of the market bureau's penalty `n`."""
    return f"赤市监罚〔2026〕{n}号"


def check(**overrides: str) -> validation.Valid | validation.Reason:
    """The valid row with `overrides`, checked as row 2 of a penalty file."""
    return validation.check_row(
        models.RecordKind.PENALTY,
        2,
        penalty_cells(**overrides),
        validation.Lookups(id_key=factories.ID_KEY),
    )


def write_csv(
    path: Path,
    rows: list[dict[str, str]],
    *,
    encoding: str = "utf-8",
    header: str = "zh",
) -> Path:
    """`path`, written as a penalty CSV of `rows` under the Chinese, code or key header."""
    names = {
        "zh": [c.zh for c in template.PENALTY],
        "code": [c.code for c in template.PENALTY],
        "key": KEYS,
    }[header]
    with path.open("w", encoding=encoding, newline="") as file:
        writer = csv.writer(file)
        writer.writerow(names)
        for row in rows:
            writer.writerow([row.get(key, "") for key in KEYS])
    return path


def run(session: Session, path: Path, **options: object) -> upsert.IngestReport:
    """The report of ingesting the penalty file `path` on the factories' day, committed."""
    ctx = workflows.Context(actor="tests", on=factories.DEFAULT_ON, id_key=factories.ID_KEY)
    report = ingest.ingest(
        session,
        path,
        kind=models.RecordKind.PENALTY,
        ctx=ctx,
        batch_size=3,
        **options,  # type: ignore[arg-type]
    )
    session.commit()
    return report
