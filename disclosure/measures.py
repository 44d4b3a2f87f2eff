"""The measures list (措施清单, plan (十五)): every joint incentive and punishment, as data.

A measure names what triggers it — a list (by code or kind), a penalty of some severity in some
field ((六): 食品药品, 生态环境, 安全生产, …), or a clean record of N years — and when it is in
force. The built-in list below holds the plan's own measures and the national memoranda most used;
a TOML or CSV file (GONGSHI_MEASURES_FILE) extends it or, by code, replaces measures of it; the
measures each named list carries (`models.JointMeasure`) join it, triggered by their list.
Whether a measure applies to a subject on a day is `disclosure.standing`'s question.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import enum
import functools
import io
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col

from disclosure import models, prepared


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


# --- the measures of the named lists (joint_measure) ---


def list_measure_code(list_code: str, measure_id: int) -> str:
    """The code of a list's measure that was stored without one (what migration 0007 gives)."""
    return f"{list_code}-{measure_id}"


def from_lists(session: Session) -> tuple[Measure, ...]:
    """The measures the named lists carry, each triggered by an entry on its list. Read as plain
    rows each time (they change without an event) and made into measures once for the same
    rows: a standing reads them at every lookup (bench/standing.py)."""
    rows = _list_measures_statement().execute(session.connection(), {})
    return _list_measures(tuple(tuple(row) for row in rows))


@functools.cache
def _list_measures_statement() -> prepared.Prepared:
    measure, named = models.JointMeasure, models.List
    statement = (
        sa.select(
            col(measure.id),
            col(measure.code),
            col(measure.measure),
            col(measure.implementing_department),
            col(measure.mandatory),
            col(measure.legal_basis),
            col(measure.effective_on),
            col(measure.reaches_legal_representative),
            col(named.code),
            col(named.kind),
            col(named.legal_basis),
        )
        .join(named, col(named.id) == col(measure.list_id))
        .order_by(col(named.code), col(measure.id))
    )
    # read back through their types: the flags, the date and the list's kind
    return prepared.Prepared(statement, (), converted=(4, 6, 7, 9))


@functools.lru_cache(maxsize=8)
def _list_measures(rows: tuple[tuple[Any, ...], ...]) -> tuple[Measure, ...]:
    return tuple(_list_measure(*row) for row in rows)


def _list_measure(
    measure_id: int,
    code: str | None,
    text: str,
    department: str,
    mandatory: bool,
    legal_basis: str | None,
    effective_on: dt.date | None,
    reaches_legal_representative: bool,
    list_code: str,
    list_kind: models.ListKind,
    list_basis: str,
) -> Measure:
    red = list_kind is models.ListKind.RED
    return Measure(
        code=code or list_measure_code(list_code, measure_id),
        text=text,
        kind=MeasureKind.INCENTIVE if red else MeasureKind.PUNISHMENT,
        mandatory=mandatory,
        legal_basis=legal_basis or list_basis,
        departments=(department,),
        triggers=(Trigger(TriggerKind.LIST, list_codes=(list_code,)),),
        effective_on=effective_on or dt.date.min,
        reaches_legal_representative=reaches_legal_representative,
    )


def catalogue(session: Session, configured: Catalogue = BUILT_IN) -> Catalogue:
    """The whole measures list: the configured one (`load`) and the lists' own measures."""
    return _joined(configured, from_lists(session))


@functools.lru_cache(maxsize=8)
def _joined(configured: Catalogue, listed: tuple[Measure, ...]) -> Catalogue:
    return configured.extended(m for m in listed if configured.get(m.code) is None)


# --- the measures file ---


def load(path: Path | None) -> Catalogue:
    """The built-in list, extended or (by code, or wholly with `replace = true`) replaced by a
    TOML file of `[[measure]]` tables or a CSV file of one measure a row."""
    if path is None:
        return BUILT_IN
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise MeasuresError(f"{path}: {error}") from error
    if path.suffix.lower() == ".csv":
        return BUILT_IN.extended(_from_csv(path, text))
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise MeasuresError(f"{path}: {error}") from error
    fields = dict(FIELDS)
    for name, words in data.get("field", {}).items():
        if not isinstance(words, list) or not words or not all(isinstance(w, str) for w in words):
            raise MeasuresError(f"{path}: field {name!r}: 须为词语列表 / must be a list of words")
        fields[name] = tuple(words)
    entries = data.get("measure", [])
    if not isinstance(entries, list):
        raise MeasuresError(f"{path}: measure must be an array of tables ([[measure]])")
    measures = [
        _checked(path, f"measure {number}", entry, fields)
        for number, entry in enumerate(entries, start=1)
    ]
    if data.get("replace", False) is True:
        return Catalogue(tuple(measures))
    return BUILT_IN.extended(measures)


def _checked(path: Path, where: str, entry: Any, fields: Mapping[str, tuple[str, ...]]) -> Measure:
    try:
        if not isinstance(entry, dict):
            raise _Invalid("", "须为表 / must be a table")
        return _measure(entry, fields)
    except _Invalid as error:
        code = entry.get("code") if isinstance(entry, dict) else None
        named = f" ({code})" if isinstance(code, str) else ""
        field = f": {error.field}" if error.field else ""
        raise MeasuresError(f"{path}: {where}{named}{field}: {error.reason}") from None


class _Invalid(Exception):
    def __init__(self, field: str, reason: str) -> None:
        super().__init__(field, reason)
        self.field = field
        self.reason = reason


_REQUIRED = ("code", "text", "kind", "mandatory", "legal_basis", "departments", "trigger")


def _measure(entry: Mapping[str, Any], fields: Mapping[str, tuple[str, ...]]) -> Measure:
    unknown = sorted(set(entry) - {*_REQUIRED, "effective_on", "until_on", "reaches_legal_rep"})
    if unknown:
        raise _Invalid(unknown[0], "未知字段 / unknown field")
    for name in _REQUIRED:
        if entry.get(name) in (None, "", []):
            raise _Invalid(name, "必填 / required")
    effective_on = _date(entry, "effective_on") or dt.date.min
    until_on = _date(entry, "until_on")
    if until_on is not None and until_on < effective_on:
        raise _Invalid("until_on", f"早于生效日期 / before effective_on {effective_on}")
    triggers = entry["trigger"]
    if not isinstance(triggers, list):
        triggers = [triggers]
    return Measure(
        code=_text(entry, "code", 100),
        text=_text(entry, "text"),
        kind=_choice(entry, "kind", MeasureKind),
        mandatory=_flag(entry, "mandatory"),
        legal_basis=_text(entry, "legal_basis"),
        departments=_texts(entry, "departments"),
        triggers=tuple(_trigger(t, fields) for t in triggers),
        effective_on=effective_on,
        until_on=until_on,
        reaches_legal_representative=_flag(entry, "reaches_legal_rep", default=False),
    )


def _text(entry: Mapping[str, Any], name: str, longest: int = 2000) -> str:
    value = entry[name]
    if not isinstance(value, str) or not value.strip():
        raise _Invalid(name, "须为非空文字 / must be non-empty text")
    if len(value.strip()) > longest:
        raise _Invalid(name, f"超过 {longest} 字 / longer than {longest} characters")
    return value.strip()


def _texts(entry: Mapping[str, Any], name: str) -> tuple[str, ...]:
    value = entry[name]
    items = value.split(";") if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
        raise _Invalid(name, "须为文字列表 / must be a list of text")
    found = tuple(item.strip() for item in items if item.strip())
    if not found:
        raise _Invalid(name, "必填 / required")
    return found


def _flag(entry: Mapping[str, Any], name: str, default: bool | None = None) -> bool:
    value = entry.get(name, default)
    if isinstance(value, str):
        value = {"true": True, "false": False, "强制性": True, "推荐性": False}.get(value.lower())
    if not isinstance(value, bool):
        raise _Invalid(name, "须为 true 或 false / must be true or false")
    return value


E = Any


def _choice(entry: Mapping[str, Any], name: str, kind: type[E]) -> E:
    value = entry[name]
    try:
        return kind(str(value).lower())
    except ValueError:
        allowed = ", ".join(member.value for member in kind)
        raise _Invalid(name, f"须为 {allowed} 之一 / must be one of {allowed}") from None


def _date(entry: Mapping[str, Any], name: str) -> dt.date | None:
    value = entry.get(name)
    if value in (None, ""):
        return None
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise _Invalid(name, f"须为日期 YYYY-MM-DD / must be a date, not {value!r}") from None


def _trigger(entry: Any, fields: Mapping[str, tuple[str, ...]]) -> Trigger:
    """A trigger from a table (`on = "list"`, …) or a CSV spelling (`list:black`)."""
    if isinstance(entry, str):
        entry = _spelled(entry)
    if not isinstance(entry, dict):
        raise _Invalid("trigger", "须为表或文字 / must be a table or text")
    on = _choice({"trigger.on": entry.get("on")}, "trigger.on", TriggerKind)
    if on is TriggerKind.CLEAN_RECORD:
        years = entry.get("years", CLEAN_YEARS)
        if not isinstance(years, int) or isinstance(years, bool) or not 1 <= years <= 10:
            raise _Invalid("trigger.years", "须为 1–10 的整数 / must be a whole number 1–10")
        return Trigger(on, years=years)
    if on is TriggerKind.LIST:
        codes = tuple(str(code) for code in entry.get("codes", []))
        kinds = tuple(
            _choice({"trigger.kinds": kind}, "trigger.kinds", models.ListKind)
            for kind in entry.get("kinds", [])
        )
        if not codes and not kinds:
            raise _Invalid(
                "trigger", "名单触发须给出 codes 或 kinds / a list trigger needs codes or kinds"
            )
        return Trigger(on, list_codes=codes, list_kinds=kinds)
    severities = tuple(
        _choice({"trigger.severities": s}, "trigger.severities", models.Severity)
        for s in entry.get("severities", [])
    )
    if not severities:
        raise _Invalid("trigger.severities", "必填 / required")
    named = tuple(str(field) for field in entry.get("fields", []))
    missing = [field for field in named if field not in fields]
    if missing:
        known = "、".join(fields)
        raise _Invalid("trigger.fields", f"未知领域 {missing[0]} / unknown field (known: {known})")
    keywords = tuple(word for field in named for word in fields[field])
    return Trigger(on, severities=severities, fields=named, keywords=keywords)


def _spelled(text: str) -> dict[str, Any]:
    """`list:black`, `list:serious-illegal`, `penalty:serious`, `penalty:serious:食品药品`,
    `clean_record:3`."""
    on, _, rest = text.strip().partition(":")
    parts = [part for part in rest.split(":") if part]
    if on == "list":
        kinds = [part for part in parts if part in set(models.ListKind)]
        return {"on": on, "kinds": kinds, "codes": [p for p in parts if p not in kinds]}
    if on == "penalty":
        return {"on": on, "severities": parts[:1], "fields": parts[1:]}
    if on == "clean_record":
        try:
            return {"on": on, "years": int(parts[0]) if parts else CLEAN_YEARS}
        except ValueError:
            raise _Invalid("trigger.years", "须为整数 / must be a whole number") from None
    return {"on": on}


_CSV_COLUMNS = (*_REQUIRED, "effective_on", "until_on", "reaches_legal_rep")


def _from_csv(path: Path, text: str) -> Sequence[Measure]:
    reader = csv.DictReader(io.StringIO(text))
    header = reader.fieldnames or []
    unknown = [name for name in header if name not in _CSV_COLUMNS]
    missing = [name for name in _REQUIRED if name not in header]
    if unknown or missing:
        what = f"unknown column {unknown[0]!r}" if unknown else f"missing column {missing[0]!r}"
        raise MeasuresError(f"{path}: {what} (columns: {', '.join(_CSV_COLUMNS)})")
    measures = []
    for row in reader:
        entry: dict[str, Any] = {key: value for key, value in row.items() if value}
        if "trigger" in entry:
            entry["trigger"] = [part for part in entry["trigger"].split("|") if part.strip()]
        measures.append(_checked(path, f"row {reader.line_num}", entry, FIELDS))
    return measures
