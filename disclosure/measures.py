"""The measures list (措施清单, plan (十五)): every joint incentive and punishment, as data.

A measure names what triggers it — a list (by code or kind), a penalty of some severity in some
field ((六): 食品药品, 生态环境, 安全生产, …), or a clean record of N years — and when it is in
force. The built-in list below holds the plan's own measures and the national memoranda most used;
a TOML or CSV file (GONGSHI_MEASURES_FILE, `measures_file`) extends it or, by code, replaces
measures of it; the measures each named list carries (`list_measures`) join it, triggered by
their list.
Whether a measure applies to a subject on a day is `disclosure.standing`'s question.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
from collections.abc import Iterable, Mapping

from disclosure import models


class MeasuresError(ValueError):
    """A measures file that cannot be applied; the message names the file, measure and field."""


class MeasureKind(enum.StrEnum):
    """守信激励 or 失信惩戒."""

    INCENTIVE = "incentive"
    PUNISHMENT = "punishment"


class TriggerKind(enum.StrEnum):
    """What makes a measure apply."""

    LIST = "list"  # a public entry on a list, named by code or kind
    PENALTY = "penalty"  # a public penalty of a severity, in a field when one is named
    CLEAN_RECORD = "clean_record"  # N years without an unfavourable public record


# The (六) fields, each recognised by words of a penalty's 违法行为类型 or 处罚依据.
FIELDS: Mapping[str, tuple[str, ...]] = {
    "食品药品": ("食品", "药品", "药品管理法", "化妆品", "医疗器械"),
    "生态环境": ("环境", "污染", "排污", "固体废物", "生态"),
    "工程质量": ("工程质量", "建设工程", "建筑法"),
    "安全生产": ("安全生产",),
    "消防安全": ("消防",),
    "产品质量": ("产品质量", "强制性产品认证", "缺陷产品", "假冒伪劣"),
    "税收": ("税收征收管理法", "逃税", "骗税", "偷税"),
    "劳动保障": ("欠薪", "工资", "劳动保障", "社会保险"),
}

# An unfavourable record (不良信用记录) for a clean record: a public penalty of these severities,
# or a public entry on a list of these kinds.
UNFAVOURABLE_SEVERITIES = (models.Severity.GENERAL, models.Severity.SERIOUS)
UNFAVOURABLE_LIST_KINDS = (models.ListKind.BLACK, models.ListKind.WATCH)
# Records whose end says they were wrong: they prove neither a blemish nor a subject's age.
VOID_ENDS = (models.EndReason.WITHDRAWN, models.EndReason.OBJECTION_UPHELD)
CLEAN_YEARS = 3  # (二): 连续三年无不良信用记录


@dataclasses.dataclass(frozen=True)
class Trigger:
    """One way a measure comes to apply; a measure applies when any of its triggers does."""

    kind: TriggerKind
    list_codes: tuple[str, ...] = ()
    list_kinds: tuple[models.ListKind, ...] = ()
    severities: tuple[models.Severity, ...] = ()
    fields: tuple[str, ...] = ()  # names of FIELDS (or of a file's [field] table)
    keywords: tuple[str, ...] = ()  # the words of those fields, resolved when loaded
    years: int = CLEAN_YEARS

    def matches_list_entry(self, code: str, kind: models.ListKind) -> bool:
        """Whether an entry on the list with `code` and `kind` triggers this."""
        return self.kind is TriggerKind.LIST and (
            code in self.list_codes or kind in self.list_kinds
        )

    def matches_penalty(self, severity: models.Severity, violation_type: str, basis: str) -> bool:
        """Whether a penalty of `severity` with these texts triggers this."""
        if self.kind is not TriggerKind.PENALTY or severity not in self.severities:
            return False
        text = f"{violation_type}\n{basis}".lower()
        return not self.keywords or any(word.lower() in text for word in self.keywords)

    def describe(self) -> str:
        """The trigger in a clerk's words (Chinese)."""
        if self.kind is TriggerKind.LIST:
            names = [*self.list_codes, *(kind.zh for kind in self.list_kinds)]
            return "列入" + "、".join(names)
        if self.kind is TriggerKind.PENALTY:
            severity = "、".join(s.zh for s in self.severities)
            field = f"{'、'.join(self.fields)}领域" if self.fields else ""
            return f"{field}{severity}失信行政处罚"
        return f"连续{self.years}年无不良信用记录"


@dataclasses.dataclass(frozen=True)
class Measure:
    """One measure of the list, in force from `effective_on` through `until_on` (None: open)."""

    code: str
    text: str  # 措施内容
    kind: MeasureKind
    mandatory: bool  # 强制性 (required by law) or 推荐性
    legal_basis: str  # the law article or 备忘录
    departments: tuple[str, ...]  # 实施部门
    triggers: tuple[Trigger, ...]
    effective_on: dt.date = dt.date.min
    until_on: dt.date | None = None
    reaches_legal_representative: bool = False  # (九)

    def in_force(self, on: dt.date) -> bool:
        """Whether the measure is in force on `on`."""
        return self.effective_on <= on and (self.until_on is None or on <= self.until_on)


@dataclasses.dataclass(frozen=True)
class Catalogue:
    """The measures list: measures in their order, each code once."""

    measures: tuple[Measure, ...]

    def __post_init__(self) -> None:
        codes = [measure.code for measure in self.measures]
        twice = sorted({code for code in codes if codes.count(code) > 1})
        if twice:
            raise MeasuresError(f"措施编码重复 / measure codes given twice: {', '.join(twice)}")

    def get(self, code: str) -> Measure | None:
        """The measure with `code`, or None."""
        return next((measure for measure in self.measures if measure.code == code), None)

    def in_force(self, on: dt.date) -> tuple[Measure, ...]:
        """The measures in force on `on`, in the list's order."""
        return tuple(measure for measure in self.measures if measure.in_force(on))

    def extended(self, measures: Iterable[Measure]) -> Catalogue:
        """This list with `measures` added; one with a code already here replaces it in place."""
        given = {measure.code: measure for measure in measures}
        kept = [given.pop(measure.code, measure) for measure in self.measures]
        return Catalogue((*kept, *given.values()))


PLAN = "《赤坎区建立完善守信联合激励和失信联合惩戒制度实施方案》（湛赤府规〔2018〕1号）"
GUOFA_33 = (
    "《国务院关于建立完善守信联合激励和失信联合惩戒制度加快推进社会诚信建设的指导意见》"
    "（国发〔2016〕33号）"
)
SERIOUS_MEMO = (
    "《关于对失信主体加强信用监管的通知》；《关于对严重违法失信企业开展联合惩戒的合作备忘录》"
)


def _plan(section: str) -> str:
    return f"{PLAN}第{section}项；{GUOFA_33}"


_RED = Trigger(TriggerKind.LIST, list_kinds=(models.ListKind.RED,))
_BLACK = Trigger(TriggerKind.LIST, list_kinds=(models.ListKind.BLACK,))
_CLEAN = Trigger(TriggerKind.CLEAN_RECORD)
_SERIOUS_FIELDS = ("食品药品", "生态环境", "工程质量", "安全生产", "消防安全", "产品质量")
_SERIOUS_IN_FIELDS = Trigger(
    TriggerKind.PENALTY,
    severities=(models.Severity.SERIOUS,),
    fields=_SERIOUS_FIELDS,
    keywords=tuple(word for field in _SERIOUS_FIELDS for word in FIELDS[field]),
)

# The plan's measures, for the district's lists and the national memoranda most used.
BUILT_IN = Catalogue(
    (
        Measure(
            "JL-01",
            "行政审批“绿色通道”：优先受理、优先办理",
            MeasureKind.INCENTIVE,
            True,
            _plan("（二）"),
            ("赤坎区政务服务数据管理局",),
            (_RED, _CLEAN),
        ),
        Measure(
            "JL-02",
            "容缺受理：非主要材料有缺陷或瑕疵的，书面承诺限期补齐后先行受理",
            MeasureKind.INCENTIVE,
            True,
            _plan("（二）"),
            ("赤坎区政务服务数据管理局",),
            (_RED, _CLEAN),
        ),
        Measure(
            "JL-03",
            "财政性资金项目安排、招商引资配套优惠政策中予以优先考虑",
            MeasureKind.INCENTIVE,
            False,
            _plan("（三）"),
            ("赤坎区发展和改革局", "赤坎区财政局"),
            (_RED,),
        ),
        Measure(
            "JL-04",
            "日常检查、专项检查中减少或优化检查频次",
            MeasureKind.INCENTIVE,
            False,
            _plan("（四）"),
            ("赤坎区市场监督管理局",),
            (_RED, _CLEAN),
        ),
        Measure(
            "CJ-01",
            "从严审核行政许可审批项目，限制项目审批、核准",
            MeasureKind.PUNISHMENT,
            True,
            f"{_plan('（七）')}；{SERIOUS_MEMO}",
            ("赤坎区发展和改革局", "赤坎区政务服务数据管理局"),
            (_BLACK,),
        ),
        Measure(
            "CJ-02",
            "限制申请财政性资金项目",
            MeasureKind.PUNISHMENT,
            True,
            f"{_plan('（七）')}；{SERIOUS_MEMO}",
            ("赤坎区财政局",),
            (_BLACK,),
        ),
        Measure(
            "CJ-03",
            "限制参与政府采购、招标投标等公共资源交易活动",
            MeasureKind.PUNISHMENT,
            True,
            f"《中华人民共和国政府采购法》第二十二条；{_plan('（七）')}",
            ("赤坎区财政局", "赤坎区公共资源交易中心"),
            (_BLACK,),
        ),
        Measure(
            "CJ-04",
            "对失信企业及其法定代表人、主要负责人实施市场和行业禁入",
            MeasureKind.PUNISHMENT,
            True,
            f"{_plan('（七）（九）')}；{SERIOUS_MEMO}",
            ("赤坎区市场监督管理局",),
            (_BLACK,),
            reaches_legal_representative=True,
        ),
        Measure(
            "CJ-05",
            "撤销荣誉称号，取消参加评先评优资格",
            MeasureKind.PUNISHMENT,
            True,
            _plan("（七）（九）"),
            ("赤坎区发展和改革局",),
            (_BLACK,),
            reaches_legal_representative=True,
        ),
        Measure(
            "CJ-06",
            "列为重点监管对象，提高抽查比例和频次",
            MeasureKind.PUNISHMENT,
            False,
            _plan("（六）（七）"),
            ("赤坎区市场监督管理局", "赤坎区应急管理局"),
            (_SERIOUS_IN_FIELDS, Trigger(TriggerKind.LIST, list_kinds=(models.ListKind.WATCH,))),
        ),
    )
)
