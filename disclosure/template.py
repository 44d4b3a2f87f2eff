"""The national 双公示 template: its columns per record kind, and matching a file's header to them.

A column is known by its Chinese header (as the template prints it, or a common short form), by
its template code (XK_*/CF_*) or by our snake_case key. List entries have no national template:
their columns follow the same pattern with codes of our own (MD_*).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence

from disclosure import models


class TemplateError(ValueError):
    """A header that does not match the template: an unknown, repeated or missing column."""


@dataclasses.dataclass(frozen=True)
class Column:
    """One template column: our key, its Chinese header, its template code and other names."""

    key: str
    zh: str
    code: str
    # The column must be present. Conditionally required columns (credit code, ID number, amounts)
    # may be absent: rows that need them are rejected one by one.
    required: bool = False
    aliases: tuple[str, ...] = ()


def _subject(prefix: str) -> tuple[Column, ...]:
    return (
        Column("subject_name", "行政相对人名称", f"{prefix}_XDR_MC", True),
        Column("subject_category", "行政相对人类别", f"{prefix}_XDR_LB", True),
        Column(
            "subject_uscc",
            "行政相对人代码_1（统一社会信用代码）",
            f"{prefix}_XDR_SHXYM",
            aliases=("统一社会信用代码", "行政相对人代码_1"),
        ),
        Column(
            "business_reg_no",
            "行政相对人代码_2（工商注册号）",
            f"{prefix}_XDR_GSZC",
            aliases=("工商注册号", "行政相对人代码_2"),
        ),
        Column(
            "org_code",
            "行政相对人代码_3（组织机构代码）",
            f"{prefix}_XDR_ZZJG",
            aliases=("组织机构代码", "行政相对人代码_3"),
        ),
        Column(
            "tax_reg_no",
            "行政相对人代码_4（税务登记号）",
            f"{prefix}_XDR_SWDJ",
            aliases=("税务登记号", "行政相对人代码_4"),
        ),
        Column(
            "public_institution_cert_no",
            "行政相对人代码_5（事业单位证书号）",
            f"{prefix}_XDR_SYDW",
            aliases=("事业单位证书号", "行政相对人代码_5"),
        ),
        Column(
            "social_org_reg_no",
            "行政相对人代码_6（社会组织登记证号）",
            f"{prefix}_XDR_SHZZ",
            aliases=("社会组织登记证号", "行政相对人代码_6"),
        ),
        Column("legal_rep_name", "法定代表人", f"{prefix}_FRDB"),
        Column("legal_rep_id_type", "法定代表人证件类型", f"{prefix}_FR_ZJLX"),
        Column("legal_rep_id_no", "法定代表人证件号码", f"{prefix}_FR_ZJHM"),
        Column("person_id_type", "证件类型", f"{prefix}_XDR_ZJLX"),
        Column("person_id_no", "证件号码", f"{prefix}_XDR_ZJHM"),
    )


def _parties(prefix: str, authority_code: str, source_code: str, role: str) -> tuple[Column, ...]:
    return (
        Column("authority_name", role, f"{prefix}_{authority_code}", True),
        Column("authority_uscc", f"{role}统一社会信用代码", f"{prefix}_{authority_code}DM", True),
        Column("source_unit", "数据来源单位", f"{prefix}_{source_code}", True),
        Column(
            "source_unit_uscc", "数据来源单位统一社会信用代码", f"{prefix}_{source_code}DM", True
        ),
        Column("remarks", "备注", "BZ"),
    )


LICENSE = (
    *_subject("XK"),
    Column("decision_doc_name", "行政许可决定文书名称", "XK_XKWS", True),
    Column("decision_doc_no", "行政许可决定文书号", "XK_WSH", True, ("决定文书号", "文号")),
    Column("license_category", "许可类别", "XK_XKLB", True),
    Column("certificate_name", "许可证书名称", "XK_XKZS"),
    Column("license_no", "许可编号", "XK_XKBH"),
    Column("license_content", "许可内容", "XK_NR", True),
    Column("decision_date", "许可决定日期", "XK_JDRQ", True, ("决定日期",)),
    Column("valid_from", "有效期自", "XK_YXQZ", True),
    Column("valid_to", "有效期至", "XK_YXQZI", True),
    Column("status", "当前状态", "XK_ZT"),  # read and ignored: visibility is computed
    *_parties("XK", "XKJG", "LYDW", "许可机关"),
)

PENALTY = (
    *_subject("CF"),
    Column("decision_doc_no", "行政处罚决定书文号", "CF_WSH", True, ("决定书文号", "文号")),
    Column("violation_type", "违法行为类型", "CF_WFXW", True),
    Column("violation_facts", "违法事实", "CF_SY", True),
    Column("legal_basis", "处罚依据", "CF_YJ", True),
    Column("penalty_category", "处罚类别", "CF_CFLB", True),
    Column("penalty_content", "处罚内容", "CF_NR", True),
    Column("fine_amount_wan", "罚款金额（万元）", "CF_NR_FK", aliases=("罚款金额",)),
    Column(
        "confiscation_amount_wan",
        "没收违法所得、没收非法财物的金额（万元）",
        "CF_NR_WFFF",
        aliases=("没收违法所得、没收非法财物的金额", "没收金额（万元）"),
    ),
    Column("suspended_revoked_license", "暂扣或吊销证照名称及编号", "CF_NR_ZKDX"),
    Column("decision_date", "处罚决定日期", "CF_JDRQ", True, ("决定日期",)),
    Column("penalty_valid_until", "处罚有效期", "CF_YXQ", True),
    Column("publicity_end_date", "公示截止期", "CF_GSJZQ"),
    # Not in the national template: sets the publicity window (default 一般).
    Column("severity", "失信程度", "SEVERITY", aliases=("严重程度",)),
    *_parties("CF", "CFJG", "SJLY", "处罚机关"),
)

LIST_ENTRY = (
    *_subject("MD"),
    Column("list_code", "名单", "MD_MDDM", True, ("名单代码", "名单名称")),
    Column("decision_doc_no", "认定文书号", "MD_WSH", True, ("认定文号", "文号")),
    Column("reason", "列入事由", "MD_LRSY", True, ("列入原因",)),
    Column("decision_date", "认定日期", "MD_RDRQ", True, ("列入日期",)),
    Column("valid_until", "有效期至", "MD_YXQZ"),
    *_parties("MD", "RDBM", "SJLY", "认定部门"),
)

COLUMNS: dict[models.RecordKind, tuple[Column, ...]] = {
    models.RecordKind.LICENSE: LICENSE,
    models.RecordKind.PENALTY: PENALTY,
    models.RecordKind.LIST_ENTRY: LIST_ENTRY,
}

# Columns a rejects file adds: a clerk may fix the rows there and send the file back as it is.
REJECTS_COLUMNS = ("row", "reason")

_SPACE = re.compile(r"\s+")
_WIDE = str.maketrans({"（": "(", "）": ")", "　": " ", "＿": "_"})


def folded(name: str) -> str:
    """A header cell as columns are known by: half-width brackets, no spaces, lower case."""
    return _SPACE.sub("", name.translate(_WIDE)).lower()


def _names(kind: models.RecordKind) -> dict[str, Column]:
    names: dict[str, Column] = {}
    for column in COLUMNS[kind]:
        for name in (column.key, column.zh, column.code, *column.aliases):
            names.setdefault(folded(name), column)
    return names


def column(kind: models.RecordKind, key: str) -> Column:
    """The column of `kind` with our key `key`."""
    return next(c for c in COLUMNS[kind] if c.key == key)


def match_header(
    kind: models.RecordKind, header: Sequence[str], *, optional: frozenset[str] = frozenset()
) -> list[str | None]:
    """Our key for each header cell (None for the rejects file's own columns and blank trailing
    cells). Raises TemplateError naming an unknown, repeated or missing column; keys in
    `optional` may be missing even if the template requires them."""
    names = _names(kind)
    keys: list[str | None] = []
    for position, cell in enumerate(header, start=1):
        folded_cell = folded(cell)
        found = names.get(folded_cell)
        # `reason` is also a list entry's key: the rejects file's own comes after it
        rejects = folded_cell in REJECTS_COLUMNS and (found is None or found.key in keys)
        if rejects or (not folded_cell and not any(header[position:])):
            keys.append(None)
            continue
        if found is None:
            raise TemplateError(
                f"第{position}列「{cell}」不是{kind.zh}模板的字段 / column {position} "
                f"{cell!r} is not a column of the {kind.value} template"
            )
        if found.key in keys:
            raise TemplateError(
                f"第{position}列「{cell}」与前面的列重复（{found.zh}） / column {position} "
                f"{cell!r} repeats the column {found.key}"
            )
        keys.append(found.key)
    missing = [
        c for c in COLUMNS[kind] if c.required and c.key not in keys and c.key not in optional
    ]
    if missing:
        first = missing[0]
        raise TemplateError(
            f"缺少必需的列「{first.zh}」（{first.code}） / the required column {first.key} "
            f"({first.code}, {first.zh}) is missing"
        )
    return keys
