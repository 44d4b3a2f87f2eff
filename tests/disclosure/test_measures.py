"""The measures list: built in, from a TOML or CSV file, and the lists' own measures."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlmodel import Session

from disclosure import list_measures, measures, measures_file, models
from tests import factories


def test_built_in_list_has_the_plans_incentives_and_punishments() -> None:
    built_in = measures.BUILT_IN
    assert [m.code for m in built_in.measures] == [
        "JL-01",
        "JL-02",
        "JL-03",
        "JL-04",
        "CJ-01",
        "CJ-02",
        "CJ-03",
        "CJ-04",
        "CJ-05",
        "CJ-06",
    ]
    clean = {
        m.code
        for m in built_in.measures
        if any(t.kind is measures.TriggerKind.CLEAN_RECORD and t.years == 3 for t in m.triggers)
    }
    assert clean == {"JL-01", "JL-02", "JL-04"}
    assert {m.code for m in built_in.measures if m.reaches_legal_representative} == {
        "CJ-04",
        "CJ-05",
    }


def test_toml_file_extends_and_replaces_by_code(tmp_path: Path) -> None:
    path = tmp_path / "measures.toml"
    path.write_text(
        """
[field]
"教育培训" = ["培训", "办学"]

[[measure]]
code = "CJ-02"
text = "限制申请财政性资金项目（含专项债）"
kind = "punishment"
mandatory = true
legal_basis = "《预算法》"
departments = ["赤坎区财政局"]
trigger = [{ on = "list", kinds = ["black"] }]

[[measure]]
code = "JY-01"
text = "限制办学许可"
kind = "punishment"
mandatory = false
legal_basis = "《民办教育促进法》"
departments = ["赤坎区教育局"]
effective_on = 2027-01-01
trigger = [{ on = "penalty", severities = ["serious"], fields = ["教育培训"] }]
""",
        encoding="utf-8",
    )
    loaded = measures_file.load(path)
    assert len(loaded.measures) == len(measures.BUILT_IN.measures) + 1
    replaced = loaded.get("CJ-02")
    assert replaced is not None and replaced.legal_basis == "《预算法》"
    added = loaded.get("JY-01")
    assert added is not None
    assert added.triggers == (
        measures.Trigger(
            measures.TriggerKind.PENALTY,
            severities=(models.Severity.SERIOUS,),
            fields=("教育培训",),
            keywords=("培训", "办学"),
        ),
    )
    assert added not in loaded.in_force(dt.date(2026, 12, 31))
    assert added in loaded.in_force(dt.date(2027, 1, 1))
    path.write_text(path.read_text(encoding="utf-8").replace("[field]", "replace = true\n[field]"))
    assert [m.code for m in measures_file.load(path).measures] == ["CJ-02", "JY-01"]


def test_csv_file_spells_triggers_in_one_cell(tmp_path: Path) -> None:
    path = tmp_path / "measures.csv"
    path.write_text(
        "code,text,kind,mandatory,legal_basis,departments,trigger,until_on\n"
        "JL-09,纳税便利,incentive,推荐性,备忘录,税务局;财政局,list:red:a-taxpayer|clean_record:5,\n"
        "JL-01,绿色通道,incentive,true,方案,政务服务数据管理局,list:red,2026-12-31\n",
        encoding="utf-8-sig",
    )
    loaded = measures_file.load(path)
    new = loaded.get("JL-09")
    assert new == measures.Measure(
        "JL-09",
        "纳税便利",
        measures.MeasureKind.INCENTIVE,
        False,
        "备忘录",
        ("税务局", "财政局"),
        (
            measures.Trigger(
                measures.TriggerKind.LIST,
                list_codes=("a-taxpayer",),
                list_kinds=(models.ListKind.RED,),
            ),
            measures.Trigger(measures.TriggerKind.CLEAN_RECORD, years=5),
        ),
    )
    ended = loaded.get("JL-01")
    assert ended is not None and ended.until_on == dt.date(2026, 12, 31)


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("X,t,bonus,true,b,d,list:red", "row 2 (X): kind: 须为 incentive, punishment 之一"),
        ("X,t,incentive,maybe,b,d,list:red", "row 2 (X): mandatory: 须为 true 或 false"),
        ("X,,incentive,true,b,d,list:red", "row 2 (X): text: 必填 / required"),
        ("X,t,incentive,true,b,d,penalty:serious:天文", "row 2 (X): trigger.fields: 未知领域 天文"),
        ("X,t,incentive,true,b,d,list:", "row 2 (X): trigger: 名单触发须给出 codes 或 kinds"),
        ("X,t,incentive,true,b,d,clean_record:99", "row 2 (X): trigger.years: 须为 1–10"),
        ("X,t,incentive,true,b,d,sky", "row 2 (X): trigger.on: 须为 list, penalty, clean_record"),
    ],
)
def test_csv_errors_name_the_file_row_field_and_rule(
    tmp_path: Path, row: str, message: str
) -> None:
    path = tmp_path / "m.csv"
    path.write_text(
        "code,text,kind,mandatory,legal_basis,departments,trigger\n" + row + "\n", encoding="utf-8"
    )
    with pytest.raises(measures.MeasuresError) as raised:
        measures_file.load(path)
    assert str(raised.value).startswith(f"{path}: {message}")


def test_file_errors_for_columns_dates_and_twice_given_codes(tmp_path: Path) -> None:
    path = tmp_path / "m.csv"
    path.write_text("code,text,colour\n", encoding="utf-8")
    with pytest.raises(measures.MeasuresError, match="unknown column 'colour'"):
        measures_file.load(path)
    toml = tmp_path / "m.toml"
    toml.write_text(
        'replace = true\n[[measure]]\ncode = "A"\ntext = "t"\nkind = "incentive"\n'
        'mandatory = true\nlegal_basis = "b"\ndepartments = ["d"]\n'
        'trigger = { on = "clean_record" }\neffective_on = "2026-13-01"\n',
        encoding="utf-8",
    )
    with pytest.raises(measures.MeasuresError, match=r"measure 1 \(A\): effective_on: 须为日期"):
        measures_file.load(toml)
    toml.write_text(toml.read_text().replace('"2026-13-01"', "2026-01-01") * 2)
    with pytest.raises(measures.MeasuresError):  # TOML itself refuses the repeated key
        measures_file.load(toml)
    with pytest.raises(measures.MeasuresError, match="measure codes given twice: A"):
        measures.Catalogue(
            (measures.BUILT_IN.measures[0],) * 0
            + (measures.Measure("A", "t", measures.MeasureKind.INCENTIVE, True, "b", ("d",), ()),)
            * 2
        )


def test_lists_own_measures_join_the_list(session: Session) -> None:
    named = factories.add_list(session, code="wage-arrears")
    found = list_measures.catalogue(session)
    measure_id = named.measures[0].id
    assert measure_id is not None
    own = found.get(f"wage-arrears-{measure_id}")
    assert own == measures.Measure(
        f"wage-arrears-{measure_id}",
        "依法限制参加政府采购活动",
        measures.MeasureKind.PUNISHMENT,
        True,
        "《市场监督管理严重违法失信名单管理办法》",
        ("赤坎区财政局",),
        (measures.Trigger(measures.TriggerKind.LIST, list_codes=("wage-arrears",)),),
    )
