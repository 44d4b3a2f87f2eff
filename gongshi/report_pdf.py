"""The credit report (公共信用信息报告) as a PDF: fpdf2 with Debian's Noto Sans CJK
(fonts-noto-cjk), from a report's content (`disclosure.credit_report`), its data version and
its verification code. Rendering is pure: the same content, version and code give the same bytes."""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
from collections.abc import Sequence
from pathlib import Path

from fontTools.ttLib import TTCollection, TTLibError
from fpdf import FPDF
from fpdf.enums import XPos, YPos

from disclosure import (
    credit_report,
    measures,
    models,
    privacy,
    settings,
    standing,
)
from publishers.render import yuan

# Debian's fonts-noto-cjk; the Simplified Chinese face of its collection is looked up by name.
# One face only: loading and subsetting a CJK face is most of a report's time.
FONT_FILE = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
FACE = "Noto Sans CJK SC"
FAMILY = "noto-sans-sc"
TITLE = "公共信用信息报告"
MARGIN = 18  # mm
LABEL_WIDTH = 38  # mm
LINE = 5.6  # mm
GREY = (90, 90, 90)


class FontMissing(RuntimeError):
    """The CJK font the report is set in is not installed."""

    def __init__(self, path: Path) -> None:
        super().__init__(
            f"信用报告需要中文字体 {path}：请安装 fonts-noto-cjk（make pdf-tools）/ "
            f"the credit report needs the CJK font {path}: install Debian's fonts-noto-cjk "
            "(make pdf-tools)"
        )


@functools.cache
def face_number(path: Path) -> int:
    """The index of the Simplified Chinese face in the font collection at `path`."""
    try:
        with path.open("rb") as file, TTCollection(file, lazy=True) as collection:
            names = [font["name"].getDebugName(1) for font in collection.fonts]
    except (OSError, TTLibError) as error:
        raise FontMissing(path) from error
    if FACE not in names:
        raise FontMissing(path)
    return names.index(FACE)


def font_missing() -> FontMissing | None:
    """Why the report's font cannot be used, or None when it can."""
    try:
        face_number(FONT_FILE)
    except FontMissing as error:
        return error
    return None


@dataclasses.dataclass(frozen=True)
class Issued:
    """What the PDF says beyond the content: its code, where to check it, the data version."""

    code: str
    verify_url: str
    data_version: int  # the change log's position the data is at
    base_url: str


class _Document(FPDF):
    def __init__(self, issued: Issued) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        self.issued = issued
        self.add_font(FAMILY, "", FONT_FILE, collection_font_number=face_number(FONT_FILE))
        self.set_margins(MARGIN, MARGIN, MARGIN)
        self.set_auto_page_break(True, margin=MARGIN)
        self.alias_nb_pages()

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(FAMILY, "", 8)
        self.set_text_color(*GREY)
        self.cell(
            0,
            5,
            f"验证码 {self.issued.code}    第 {self.page_no()} 页 / 共 {{nb}} 页",
            align="C",
        )
        self.set_text_color(0, 0, 0)


def render(content: credit_report.ReportContent, issued: Issued) -> bytes:
    """The report as PDF bytes."""
    pdf = _Document(issued)
    subject = content.subject
    pdf.set_title(f"{TITLE}：{subject.name}")
    pdf.set_subject(f"{subject.name} {content.on.isoformat()}")
    pdf.set_creator("gongshi")
    pdf.set_lang("zh-CN")
    # the day of the report, not the moment it was rendered: the same report, the same bytes
    midnight = dt.datetime.combine(content.on, dt.time(), tzinfo=settings.TIMEZONE)
    pdf.set_creation_date(midnight)
    pdf.add_page()
    pdf.set_font(FAMILY, "", 20)
    pdf.cell(0, 12, TITLE, align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(FAMILY, "", 10)
    pdf.cell(
        0, 6, "Public Credit Information Report", align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT
    )
    pdf.ln(4)
    _heading(pdf, "报告信息")
    _fields(pdf, _front(content, issued))
    _records(pdf, "一、行政许可", [_license(r) for r in content.licenses])
    _records(pdf, "二、行政处罚", [_penalty(r) for r in content.penalties])
    _records(
        pdf,
        "三、信用名单（红名单、黑名单、重点关注名单）",
        [_entry(r) for r in content.list_entries],
    )
    _standing(pdf, content)
    _rules(pdf, content.rules)
    _notes(pdf, issued)
    return bytes(pdf.output())


def _front(content: credit_report.ReportContent, issued: Issued) -> list[tuple[str, str]]:
    subject = content.subject
    rows = [("信用主体", subject.name)]
    if subject.credit_code:
        rows.append(("统一社会信用代码", subject.credit_code))
    else:
        rows.append(("主体标识", subject.key))
    rows.append(("主体类别", subject.category.zh))
    if subject.legal_rep_name and subject.category is not models.SubjectCategory.NATURAL_PERSON:
        rows.append(("法定代表人", subject.legal_rep_name))
    rows += [
        ("报告日期", f"{content.on.isoformat()}（报告所载为该日依法公示的信息）"),
        (
            "数据版本",
            f"变更日志第 {issued.data_version} 号事件 (data version {issued.data_version})",
        ),
        ("公示记录", f"{content.record_count} 条"),
        ("验证码", issued.code),
        ("核验地址", issued.verify_url),
    ]
    return rows


def _heading(pdf: FPDF, text: str) -> None:
    if pdf.will_page_break(20):
        pdf.add_page()
    pdf.ln(3)
    pdf.set_font(FAMILY, "", 13)
    pdf.cell(0, 8, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_draw_color(*GREY)
    pdf.line(MARGIN, pdf.get_y(), pdf.w - MARGIN, pdf.get_y())
    pdf.ln(2)


def _fields(pdf: FPDF, rows: Sequence[tuple[str, str]]) -> None:
    for label, value in rows:
        if not value:
            continue
        pdf.set_font(FAMILY, "", 9.5)
        pdf.cell(LABEL_WIDTH, LINE, label)
        pdf.set_font(FAMILY, "", 9.5)
        pdf.multi_cell(0, LINE, value, new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _records(pdf: FPDF, heading: str, records: list[tuple[str, list[tuple[str, str]]]]) -> None:
    _heading(pdf, f"{heading}（{len(records)} 条）")
    if not records:
        pdf.set_font(FAMILY, "", 9.5)
        pdf.cell(0, LINE, "无", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        return
    for number, (title, rows) in enumerate(records, start=1):
        if pdf.will_page_break(LINE * 4):
            pdf.add_page()
        pdf.set_font(FAMILY, "", 10.5)
        pdf.multi_cell(0, LINE + 1, f"{number}. {title}", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        _fields(pdf, rows)
        pdf.ln(2)


def _common(record: privacy.RecordPublic) -> list[tuple[str, str]]:
    rows = [("记录编号", f"{record.kind.zh} 第{record.id}号")]
    if record.party_name != record.subject.name:
        rows.append(("当事人名称（决定时）", record.party_name))
    return rows


def _tail(record: privacy.RecordPublic) -> list[tuple[str, str]]:
    rows = [
        ("决定日期", record.decision_on.isoformat()),
        ("公示日期", record.published_on.isoformat()),
        ("数据来源单位", record.source_unit.name),
        ("备注", record.remarks or ""),
    ]
    if record.under_objection and record.objection_opened_on is not None:
        rows.append(("异议", f"异议处理中（{record.objection_opened_on.isoformat()} 受理）"))
    return rows


def _license(record: privacy.LicensePublic) -> tuple[str, list[tuple[str, str]]]:
    until = record.valid_to_on.isoformat() if record.valid_to_on else "长期"
    state = "已失效" if record.lapsed else "有效"
    rows = [
        *_common(record),
        ("决定文书", record.decision_doc_name),
        ("决定书文号", record.decision_doc_no),
        ("许可类别", record.category.value),
        ("许可证书名称", record.certificate_name or ""),
        ("许可编号", record.license_no or ""),
        ("许可内容", record.content),
        ("有效期", f"{record.valid_from_on.isoformat()} 至 {until}（{state}）"),
        ("许可机关", record.authority.name),
        *_tail(record),
    ]
    return f"{record.decision_doc_name}　{record.decision_doc_no}", rows


def _penalty(record: privacy.PenaltyPublic) -> tuple[str, list[tuple[str, str]]]:
    until = record.valid_until_on.isoformat() if record.valid_until_on else "长期"
    rows = [
        *_common(record),
        ("决定书文号", record.decision_doc_no),
        ("违法行为类型", record.violation_type),
        ("违法事实", record.violation_facts),
        ("处罚依据", record.legal_basis),
        ("处罚类别", "、".join(record.categories)),
        ("处罚内容", record.content),
        ("罚款金额", yuan(record.fine_amount_wan)),
        ("没收金额", yuan(record.confiscation_amount_wan)),
        ("暂扣或吊销证照", record.suspended_revoked_license or ""),
        ("处罚有效期", until),
        ("失信程度", record.severity.zh),
        ("公示截止期", record.publicity_end_on.isoformat()),
        ("处罚机关", record.authority.name),
        *_tail(record),
    ]
    return f"{record.violation_type}　{record.decision_doc_no}", rows


def _entry(record: privacy.ListEntryPublic) -> tuple[str, list[tuple[str, str]]]:
    until = record.valid_until_on.isoformat() if record.valid_until_on else "至移出之日"
    rows = [
        *_common(record),
        ("名单", f"{record.list.name}（{record.list.kind.zh}）"),
        ("列入事由", record.reason),
        ("认定文书文号", record.decision_doc_no),
        ("有效期至", until),
        ("认定部门", record.authority.name),
        *_tail(record),
    ]
    if record.punishment_suspended:
        rows.append(("联合惩戒", "异议核实期间暂停联合惩戒"))
    return f"{record.list.name}　{record.decision_doc_no}", rows


KIND_NAMES = {
    measures.MeasureKind.INCENTIVE: "守信激励",
    measures.MeasureKind.PUNISHMENT: "失信惩戒",
}
STATE_NAMES = {
    standing.State.APPLIES: "执行",
    standing.State.SUSPENDED: "异议核实期间暂不执行",
}


def _standing(pdf: FPDF, content: credit_report.ReportContent) -> None:
    _heading(pdf, f"四、联合奖惩措施（{len(content.measures)} 项）")
    clean = (
        content.clean_since.isoformat()
        if content.clean_since
        else "无（尚无已结束的不良记录，或仍有不良记录在公示）"
    )
    _fields(pdf, [("无不良记录起始日", clean)])
    if not content.measures:
        _fields(pdf, [("适用措施", "报告日无适用的联合奖惩措施")])
    for number, measure in enumerate(content.measures, start=1):
        if pdf.will_page_break(LINE * 4):
            pdf.add_page()
        pdf.set_font(FAMILY, "", 10.5)
        pdf.multi_cell(
            0,
            LINE + 1,
            f"{number}. {measure.code}　{measure.text}",
            new_x=XPos.LMARGIN,
            new_y=YPos.NEXT,
        )
        triggers = "、".join(f"{t.kind.zh} 第{t.id}号" for t in measure.triggers)
        _fields(
            pdf,
            [
                (
                    "类别",
                    f"{KIND_NAMES[measure.kind]}，{'强制性' if measure.mandatory else '推荐性'}",
                ),
                ("状态", STATE_NAMES[measure.state]),
                ("依据", measure.legal_basis),
                ("实施部门", "、".join(measure.departments)),
                ("触发记录", triggers or "连续无不良信用记录"),
                (
                    "法定代表人",
                    "同时适用于法定代表人及相关责任人"
                    if measure.reaches_legal_representative
                    else "",
                ),
            ],
        )
        pdf.ln(2)


def _rules(pdf: FPDF, rules: Sequence[credit_report.ReportRule]) -> None:
    _heading(pdf, "五、适用的公示规则")
    rows = []
    for rule in rules:
        published = "公示" if rule.published_by_default else "默认不公示，经认定机关申请可公示"
        rows.append(
            (
                f"{rule.severity.zh}失信行为",
                f"{published}；最短公示期 {rule.min_months} 个月，最长 {rule.max_months} 个月，"
                f"自决定之日起算（{rule.effective_on.isoformat()} 起作出的决定；{rule.source}）",
            )
        )
    rows += [
        ("行政许可", "长期公示，有效期届满后标注已失效"),
        ("信用名单", "自列入之日起公示至移出之日（有效期届满、信用修复、异议成立或撤销认定）"),
        ("提前停止公示", "撤回、信用修复、异议成立的记录自停止之日起不再公示，亦不载入报告"),
    ]
    _fields(pdf, rows)


def _notes(pdf: FPDF, issued: Issued) -> None:
    _heading(pdf, "六、说明")
    pdf.set_font(FAMILY, "", 9)
    for line in (
        "1. 本报告载明报告日期依法公示的公共信用信息，依据与公示网站、数据接口相同的公示规则生成。",
        "2. 自然人的身份证件号码不在本报告中显示。",
        f"3. 核验：访问 {issued.verify_url}，页面显示本报告是否仍与报告日期的记录一致；"
        "记录此后被撤回、更正或修复的，将显示“不再一致”及原因。",
        f"4. 公示网站：{issued.base_url}",
    ):
        pdf.multi_cell(0, LINE, line, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
