"""All tables of gongshi, with the glossary of DESIGN.md.

Nothing here decides visibility or masks anything: `lifecycle` and `privacy` do, from these rows.
"""

import datetime as dt
import enum
from decimal import Decimal
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlmodel import JSON, Field, Relationship, SQLModel

from disclosure import names


class SubjectCategory(enum.StrEnum):
    """行政相对人类别."""

    LEGAL_PERSON = "legal_person"
    INDIVIDUAL_BUSINESS = "individual_business"
    NATURAL_PERSON = "natural_person"

    @property
    def zh(self) -> str:
        """Its Chinese name (法人及非法人组织, 个体工商户, 自然人), as pages say it."""
        return _SUBJECT_CATEGORY_ZH[self]


_SUBJECT_CATEGORY_ZH = {
    SubjectCategory.LEGAL_PERSON: "法人及非法人组织",
    SubjectCategory.INDIVIDUAL_BUSINESS: "个体工商户",
    SubjectCategory.NATURAL_PERSON: "自然人",
}


class Severity(enum.StrEnum):
    """失信程度 of a penalty: drives its publicity window."""

    MINOR = "minor"
    GENERAL = "general"
    SERIOUS = "serious"

    @property
    def zh(self) -> str:
        """Its Chinese name (轻微, 一般, 严重), as templates, messages and pages say it."""
        return _SEVERITY_ZH[self]


_SEVERITY_ZH = {Severity.MINOR: "轻微", Severity.GENERAL: "一般", Severity.SERIOUS: "严重"}


class LicenseCategory(enum.StrEnum):
    """许可类别 (XK_XKLB)."""

    ORDINARY = "普通"
    FRANCHISE = "特许"
    RECOGNITION = "认可"
    APPROVAL = "核准"
    REGISTRATION = "登记"
    OTHER = "其他"


class ListKind(enum.StrEnum):
    """Kind of a named list; lists are shown in this order, red first."""

    RED = "red"  # 诚信典型, 守信激励
    BLACK = "black"  # 严重失信主体名单
    WATCH = "watch"

    @property
    def zh(self) -> str:
        """Its Chinese name (红名单, 黑名单, 重点关注名单), as pages and feeds say it."""
        return _LIST_KIND_ZH[self]


_LIST_KIND_ZH = {ListKind.RED: "红名单", ListKind.BLACK: "黑名单", ListKind.WATCH: "重点关注名单"}


class RecordKind(enum.StrEnum):
    """The kinds of public records; every event, objection and repair names one."""

    LICENSE = "license"
    PENALTY = "penalty"
    LIST_ENTRY = "list_entry"

    @property
    def zh(self) -> str:
        """Its Chinese name (行政许可, 行政处罚, 名单条目), as templates, messages and pages say
        it."""
        return _RECORD_KIND_ZH[self]


_RECORD_KIND_ZH = {
    RecordKind.LICENSE: "行政许可",
    RecordKind.PENALTY: "行政处罚",
    RecordKind.LIST_ENTRY: "名单条目",
}


class EventType(enum.StrEnum):
    """What happened to a record, as the change log records it."""

    PUBLISHED = "PUBLISHED"
    CORRECTED = "CORRECTED"
    WITHDRAWN = "WITHDRAWN"
    EXPIRED = "EXPIRED"
    EXITED = "EXITED"
    OBJECTION_OPENED = "OBJECTION_OPENED"
    OBJECTION_CLOSED = "OBJECTION_CLOSED"
    REPAIRED = "REPAIRED"


# A record has each of these at most once; the database enforces it (see Event).
ONCE_PER_RECORD = (
    EventType.PUBLISHED,
    EventType.WITHDRAWN,
    EventType.EXPIRED,
    EventType.EXITED,
    EventType.REPAIRED,
)


_ONCE_SQL = "type IN ({})".format(", ".join(f"'{t.value}'" for t in ONCE_PER_RECORD))


class EndReason(enum.StrEnum):
    """Why publication ended before the record's own end date."""

    WITHDRAWN = "withdrawn"  # 撤回
    REPAIRED = "repaired"  # 信用修复
    OBJECTION_UPHELD = "objection_upheld"  # 异议成立
    REVOKED = "revoked"  # 撤销认定 (list entries)


class WithdrawalKind(enum.StrEnum):
    """Why a decision is withdrawn (行政处罚法 Art. 48, and an upheld objection)."""

    CHANGED = "changed"  # 变更
    REVOKED = "revoked"  # 撤销
    CONFIRMED_ILLEGAL = "confirmed_illegal"  # 确认违法
    CONFIRMED_INVALID = "confirmed_invalid"  # 确认无效
    OBJECTION_UPHELD = "objection_upheld"  # 异议成立
    OTHER = "other"


class ObjectionOutcome(enum.StrEnum):
    """How an objection (异议) was resolved."""

    CORRECTED = "corrected"  # upheld: the record is corrected
    WITHDRAWN = "withdrawn"  # upheld: publication ends
    REJECTED = "rejected"  # not upheld: the annotation is removed


class Role(enum.StrEnum):
    """What an API token may do."""

    DEPARTMENT = "department"  # a data-providing department: its own records only
    OPERATOR = "operator"  # the platform operator (区发展和改革局): objections and repair intake
    IMPLEMENTER = "implementer"  # an implementing department (实施部门): reports measures applied


class FeedbackOutcome(enum.StrEnum):
    """What an implementing department did with a measure that applied (触发反馈)."""

    APPLIED = "applied"  # 已实施
    NOT_APPLIED = "not_applied"  # 未实施 (a recommended measure, with the reason in the note)


class RepairStatus(enum.StrEnum):
    """State of a credit repair (信用修复) application."""

    APPLIED = "applied"
    APPROVED = "approved"
    REFUSED = "refused"


def enum_column(kind: type[enum.StrEnum]) -> sa.Enum:
    """A portable column type storing an enum's values as text (no database enum types)."""
    return sa.Enum(
        kind,
        native_enum=False,
        create_constraint=False,
        length=max(len(member.value) for member in kind) + 8,
        values_callable=lambda members: [member.value for member in members],
        validate_strings=True,
    )


class UTCDateTime(sa.TypeDecorator[dt.datetime]):
    """Timezone-aware UTC instants on every engine (SQLite has no time zones)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: sa.Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: instants must be timezone-aware")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> dt.datetime | None:
        if value is None:
            return None
        assert isinstance(value, dt.datetime)
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


FEN_PER_WAN = 1_000_000  # 1 万元 = 10,000 元 = 1,000,000 分


class WanYuan(sa.TypeDecorator[Decimal]):
    """Amounts in 万元, stored exactly as whole 分 (fen) so every engine sums and sorts them."""

    impl = sa.BigInteger
    cache_ok = True

    def process_bind_param(self, value: Decimal | None, dialect: sa.Dialect) -> int | None:
        if value is None:
            return None
        fen = Decimal(value) * FEN_PER_WAN
        if fen != fen.to_integral_value():
            raise ValueError(f"{value} 万元 is not a whole number of 分 (at most 6 decimals)")
        return int(fen)

    def process_result_value(self, value: int | None, dialect: sa.Dialect) -> Decimal | None:
        return None if value is None else Decimal(value) / FEN_PER_WAN


def now_utc() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# Keys compare by code point on every engine (SQLite's default; PostgreSQL's "C" collation), so
# a key's prefix is one index range.
KEY_TYPE = sa.String(200).with_variant(sa.String(200, collation="C"), "postgresql")


class Department(SQLModel, table=True):
    """A government body of the district (单位): issuing authority and/or source unit."""

    id: int | None = Field(default=None, primary_key=True)
    credit_code: str = Field(max_length=18, unique=True)  # 统一社会信用代码
    name: str = Field(max_length=200, index=True)


class Subject(SQLModel, table=True):
    """信用主体 / 行政相对人: the organisation or person records are about.

    A person's identity number is never stored whole, so no query, log or database error can show
    it: only its masked form (first 6 / last 4) and a digest to recognise the same person again.
    Legal representatives' identity numbers are not kept at all: nothing here needs them.
    """

    id: int | None = Field(default=None, primary_key=True)
    category: SubjectCategory = Field(sa_type=enum_column(SubjectCategory))
    name: str = Field(max_length=200)  # 行政相对人名称
    credit_code: str | None = Field(default=None, max_length=18, unique=True)  # 代码_1
    business_reg_no: str | None = Field(default=None, max_length=50)  # 代码_2 工商注册号
    org_code: str | None = Field(default=None, max_length=20)  # 代码_3 组织机构代码
    tax_reg_no: str | None = Field(default=None, max_length=50)  # 代码_4 税务登记号
    institution_cert_no: str | None = Field(default=None, max_length=50)  # 代码_5 事业单位证书号
    social_org_reg_no: str | None = Field(default=None, max_length=50)  # 代码_6 社会组织登记证号
    legal_rep_name: str | None = Field(default=None, max_length=100)  # 法定代表人 / 经营者
    legal_rep_id_type: str | None = Field(default=None, max_length=50)  # 法定代表人证件类型
    id_type: str | None = Field(default=None, max_length=50)  # 证件类型 (natural persons)
    id_number_masked: str | None = Field(default=None, max_length=50)  # 证件号码, masked
    id_number_digest: str | None = Field(default=None, max_length=64, unique=True)
    # names.normalise(name), and it reversed: screening finds a name by its key, and a misspelt
    # one by the key's first or last half (prefix ranges on both); kept from `name` by
    # `name_keys`, on every write
    name_key: str | None = Field(default=None, sa_type=KEY_TYPE, index=True)
    name_key_reversed: str | None = Field(default=None, sa_type=KEY_TYPE, index=True)


def name_keys(name: str) -> dict[str, str]:
    """The screening keys of a subject named `name`, as its columns store them."""
    key = names.normalise(name)
    return {"name_key": key, "name_key_reversed": key[::-1]}


@sa.event.listens_for(Subject, "before_insert")
@sa.event.listens_for(Subject, "before_update")
def _keep_name_keys(_mapper: Any, _connection: Any, subject: Subject) -> None:
    if subject.name is None:  # the database refuses it, with its own error
        return
    for column, value in name_keys(subject.name).items():
        setattr(subject, column, value)


class RecordBase(SQLModel):
    """What every public record has: who, by whom, when, and how its publication ended."""

    subject_id: int = Field(foreign_key="subject.id", index=True)
    # 行政相对人名称 as this decision named it: the subject's name may change after, not this
    party_name: str | None = Field(default=None, max_length=200)
    authority_id: int = Field(foreign_key="department.id")  # 许可/处罚/认定机关
    source_unit_id: int = Field(foreign_key="department.id")  # 数据来源单位
    decision_doc_no: str = Field(max_length=200)  # 决定书文号 (natural key with the authority)
    decision_on: dt.date  # 决定日期 / 认定日期
    published_on: dt.date  # the day it went public on this platform
    remarks: str | None = Field(default=None)  # 备注
    ended_on: dt.date | None = Field(default=None)  # first day no longer public
    end_reason: EndReason | None = Field(default=None, sa_type=enum_column(EndReason))
    end_explanation: str | None = Field(default=None)  # 说明理由: the department's public reason
    objection_opened_on: dt.date | None = Field(default=None)  # set while an objection is open
    created_at: dt.datetime = Field(
        default_factory=now_utc, sa_type=UTCDateTime, sa_column_kwargs={"default": now_utc}
    )
    updated_at: dt.datetime = Field(
        default_factory=now_utc, sa_type=UTCDateTime, sa_column_kwargs={"default": now_utc}
    )


def _joined(foreign_key: str | None = None) -> dict[str, Any]:
    """Relationship options: parties of a record load with it, in the same query."""
    options: dict[str, Any] = {"lazy": "joined", "innerjoin": True}
    if foreign_key is not None:
        options["foreign_keys"] = foreign_key
    return options


def _record_indexes(table: str, *filters: str) -> tuple[sa.Index | sa.UniqueConstraint, ...]:
    """The natural key, and keyset paging by decision date overall and within each filter.

    Every index slows bulk ingestion (about 1k rows/s each on SQLite): none here is redundant.
    """
    return (
        sa.UniqueConstraint("authority_id", "decision_doc_no", name=f"uq_{table}_natural_key"),
        sa.Index(f"ix_{table}_decision", "decision_on", "id"),
        sa.Index(f"ix_{table}_published", "published_on", "id"),
        *(
            sa.Index(f"ix_{table}_{column}_decision", column, "decision_on", "id")
            for column in ("authority_id", "source_unit_id", *filters)
        ),
    )


class License(RecordBase, table=True):
    """行政许可: an administrative licensing decision."""

    KIND: ClassVar[RecordKind] = RecordKind.LICENSE
    __table_args__ = _record_indexes("license", "category")

    id: int | None = Field(default=None, primary_key=True)
    subject: Subject = Relationship(sa_relationship_kwargs=_joined())
    authority: Department = Relationship(sa_relationship_kwargs=_joined("License.authority_id"))
    source_unit: Department = Relationship(sa_relationship_kwargs=_joined("License.source_unit_id"))
    decision_doc_name: str = Field(max_length=200)  # 行政许可决定文书名称
    category: LicenseCategory = Field(sa_type=enum_column(LicenseCategory))
    certificate_name: str | None = Field(default=None, max_length=200)  # 许可证书名称
    license_no: str | None = Field(default=None, max_length=100)  # 许可编号
    content: str  # 许可内容
    valid_from_on: dt.date  # 有效期自
    valid_to_on: dt.date | None = Field(default=None)  # 有效期至; None = 长期 (2099/12/31)


class Penalty(RecordBase, table=True):
    """行政处罚: an administrative penalty decision."""

    KIND: ClassVar[RecordKind] = RecordKind.PENALTY
    __table_args__ = (
        *_record_indexes("penalty", "severity"),
        # with the decision date: the oldest public penalty's is read from the index alone
        sa.Index("ix_penalty_publicity_end", "publicity_end_on", "decision_on"),
    )

    id: int | None = Field(default=None, primary_key=True)
    subject: Subject = Relationship(sa_relationship_kwargs=_joined())
    authority: Department = Relationship(sa_relationship_kwargs=_joined("Penalty.authority_id"))
    source_unit: Department = Relationship(sa_relationship_kwargs=_joined("Penalty.source_unit_id"))
    violation_type: str = Field(max_length=500)  # 违法行为类型
    violation_facts: str  # 违法事实
    legal_basis: str  # 处罚依据
    categories: str = Field(max_length=200)  # 处罚类别, Art. 9 labels joined by ";"
    content: str  # 处罚内容
    fine_amount_wan: Decimal | None = Field(default=None, sa_type=WanYuan)  # 罚款金额（万元）
    confiscation_amount_wan: Decimal | None = Field(
        default=None, sa_type=WanYuan
    )  # 没收金额（万元）
    suspended_revoked_license: str | None = Field(default=None, max_length=500)  # 暂扣或吊销证照
    valid_until_on: dt.date | None = Field(default=None)  # 处罚有效期; None = 长期
    severity: Severity = Field(sa_type=enum_column(Severity))
    # 公示截止期: the last day of publicity; None = not published (a minor penalty by default)
    publicity_end_on: dt.date | None = Field(default=None)


class List(SQLModel, table=True):
    """A named list (红名单, 黑名单, 重点关注名单, 失信被执行人, …) with its legal ground."""

    __tablename__ = "credit_list"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=50, unique=True)  # stable slug for URLs and filters
    kind: ListKind = Field(sa_type=enum_column(ListKind), index=True)
    name: str = Field(max_length=200)
    authority_id: int | None = Field(default=None, foreign_key="department.id")  # 认定部门
    legal_basis: str  # 设列依据
    listing_criteria: str  # 列入标准
    exit_criteria: str  # 移出条件
    default_validity_months: int | None = Field(default=None)  # None = until exit
    min_listing_months: int | None = Field(default=None)  # repair possible after; None = any time

    measures: list["JointMeasure"] = Relationship(
        sa_relationship_kwargs={"order_by": "JointMeasure.id"}
    )


class JointMeasure(SQLModel, table=True):
    """联合奖惩措施清单: one measure a list entails, and who implements it; `disclosure.measures`
    reads it into the measures list beside the built-in and configured measures."""

    __tablename__ = "joint_measure"

    id: int | None = Field(default=None, primary_key=True)
    list_id: int | None = Field(default=None, foreign_key="credit_list.id", index=True)
    measure: str  # 措施
    implementing_department: str = Field(max_length=200)  # 实施部门
    mandatory: bool  # 必须执行 (True) or 推荐 (False)
    code: str | None = Field(default=None, max_length=100, unique=True)  # None: "<list>-<id>"
    legal_basis: str | None = Field(default=None)  # None: the list's 设列依据
    effective_on: dt.date | None = Field(default=None)  # None: as long as the list
    # (九): the measure reaches the organisation's legal representative and responsible persons
    reaches_legal_representative: bool = Field(
        default=False, sa_column_kwargs={"server_default": sa.false()}
    )


class ListEntry(RecordBase, table=True):
    """名单条目: a subject's inclusion in a named list, public until its exit (移出)."""

    KIND: ClassVar[RecordKind] = RecordKind.LIST_ENTRY
    __tablename__ = "list_entry"
    __table_args__ = (
        *_record_indexes("list_entry", "list_id"),
        sa.Index("ix_list_entry_valid_until", "valid_until_on"),
    )

    id: int | None = Field(default=None, primary_key=True)
    subject: Subject = Relationship(sa_relationship_kwargs=_joined())
    authority: Department = Relationship(sa_relationship_kwargs=_joined("ListEntry.authority_id"))
    source_unit: Department = Relationship(
        sa_relationship_kwargs=_joined("ListEntry.source_unit_id")
    )
    list_id: int = Field(foreign_key="credit_list.id")
    credit_list: List = Relationship(sa_relationship_kwargs=_joined())
    reason: str  # 列入事由
    valid_until_on: dt.date | None = Field(default=None)  # 有效期至; None = until exit


Record = License | Penalty | ListEntry
RecordModel = type[License] | type[Penalty] | type[ListEntry]
RECORD_MODELS: dict[RecordKind, RecordModel] = {
    RecordKind.LICENSE: License,
    RecordKind.PENALTY: Penalty,
    RecordKind.LIST_ENTRY: ListEntry,
}


class RecordRef(SQLModel):
    """A reference to one record of any kind."""

    record_kind: RecordKind = Field(sa_type=enum_column(RecordKind))
    record_id: int


class Objection(RecordRef, table=True):
    """异议: a subject disputes a record; the record is annotated while it is open."""

    __table_args__ = (sa.Index("ix_objection_record", "record_kind", "record_id"),)

    id: int | None = Field(default=None, primary_key=True)
    grounds: str  # 异议理由 (internal)
    opened_on: dt.date
    due_on: dt.date  # decision due, in working days
    opened_by: str = Field(max_length=200)
    closed_on: dt.date | None = Field(default=None)
    outcome: ObjectionOutcome | None = Field(default=None, sa_type=enum_column(ObjectionOutcome))
    closed_by: str | None = Field(default=None, max_length=200)


class Repair(RecordRef, table=True):
    """信用修复: an application to end a negative record's publication after its minimum period."""

    __table_args__ = (sa.Index("ix_repair_record", "record_kind", "record_id"),)

    id: int | None = Field(default=None, primary_key=True)
    applied_on: dt.date
    commitment: str  # 信用承诺
    applied_by: str = Field(max_length=200)
    due_on: dt.date | None = Field(default=None)  # decision due, in working days
    status: RepairStatus = Field(sa_type=enum_column(RepairStatus))
    decided_on: dt.date | None = Field(default=None)
    decided_by: str | None = Field(default=None, max_length=200)
    note: str | None = Field(default=None)


class Withdrawal(RecordRef, table=True):
    """撤回: a decision changed, revoked or annulled, withdrawn with a public reason."""

    __table_args__ = (sa.Index("ix_withdrawal_record", "record_kind", "record_id"),)

    id: int | None = Field(default=None, primary_key=True)
    withdrawn_on: dt.date
    decision_changed_on: dt.date | None = Field(default=None)  # when the decision was revoked …
    kind: WithdrawalKind = Field(sa_type=enum_column(WithdrawalKind))
    reason: str  # 撤回理由, public
    actor: str = Field(max_length=200)


class Event(RecordRef, table=True):
    """The change log: one row per state change of a record, appended with the change."""

    __table_args__ = (
        sa.Index("ix_event_record", "record_kind", "record_id", "type"),
        sa.Index(
            "uq_event_once",
            "record_kind",
            "record_id",
            "type",
            unique=True,
            sqlite_where=sa.text(_ONCE_SQL),
            postgresql_where=sa.text(_ONCE_SQL),
        ),
    )

    # BIGINT on PostgreSQL; SQLite autoincrements only an INTEGER PRIMARY KEY
    id: int | None = Field(
        default=None,
        primary_key=True,
        sa_type=sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
    )
    type: EventType = Field(sa_type=enum_column(EventType))
    occurred_at: dt.datetime = Field(sa_type=UTCDateTime)  # when it was recorded
    effective_on: dt.date  # the day it takes effect publicly
    actor: str = Field(max_length=200)
    payload: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)


class MeasureReport(SQLModel, table=True):
    """触发反馈: an implementing department's report that it applied a measure to a subject.

    Government-internal (政务共享): never in a public output, only counted. Whether it must be
    undone is computed from its triggering records (`disclosure.feedback`), never stored."""

    __tablename__ = "measure_report"
    __table_args__ = (
        sa.Index("ix_measure_report_applied", "applied_on"),
        sa.Index("ix_measure_report_unit", "unit_id", "applied_on"),
        sa.Index("ix_measure_report_subject", "subject_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    measure_code: str = Field(max_length=100)
    subject_id: int = Field(foreign_key="subject.id")
    unit_id: int = Field(foreign_key="department.id")  # the implementing department reporting
    token_id: int | None = Field(default=None, foreign_key="token.id")
    applied_on: dt.date
    outcome: FeedbackOutcome = Field(sa_type=enum_column(FeedbackOutcome))
    note: str | None = Field(default=None)
    triggers: list[str] = Field(default_factory=list, sa_type=JSON)  # "<kind>:<id>" relied on
    reported_at: dt.datetime = Field(default_factory=now_utc, sa_type=UTCDateTime)
    reversed_on: dt.date | None = Field(default=None)  # the department undid it (恢复信誉)
    reversal_note: str | None = Field(default=None)


class Token(SQLModel, table=True):
    """An API token of a department or the operator. Only a digest of the secret is kept."""

    id: int | None = Field(default=None, primary_key=True)
    unit_id: int = Field(foreign_key="department.id")
    role: Role = Field(sa_type=enum_column(Role))
    digest: str = Field(max_length=64, unique=True)  # sha256 of the secret
    created_at: dt.datetime = Field(default_factory=now_utc, sa_type=UTCDateTime)
    expires_on: dt.date | None = Field(default=None)  # last valid day; None = until revoked
    revoked_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)

    unit: Department = Relationship(sa_relationship_kwargs=_joined())


class AuditEntry(SQLModel, table=True):
    """One write attempt through the API or the portal, allowed or refused, and every portal
    login and logout: append-only, written in the transaction of its effect. Never holds a
    token, a password or a request body."""

    __tablename__ = "audit_entry"

    id: int | None = Field(
        default=None,
        primary_key=True,
        sa_type=sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
    )
    at: dt.datetime = Field(default_factory=now_utc, sa_type=UTCDateTime, index=True)
    token_id: int | None = Field(default=None, foreign_key="token.id")
    unit_id: int | None = Field(default=None, foreign_key="department.id")
    # the portal account that acted (portal_models.Account); no foreign key: accounts may go
    user_id: int | None = Field(default=None)
    operation: str = Field(max_length=100)
    records: list[str] = Field(default_factory=list, sa_type=JSON)  # "<kind>:<id>"
    outcome: str = Field(max_length=100)  # ok | unauthenticated | forbidden | a refusal's code


class IdKeyCheck(SQLModel, table=True):
    """The check of the identity-number key a database's digests were made with
    (`disclosure.idkey`): it recognises that key, and tells nothing without it."""

    __tablename__ = "id_key_check"
    id: int = Field(default=1, primary_key=True)
    value: str = Field(max_length=64)


# The audit trail is append-only in the database itself, not only by convention.
APPEND_ONLY_DDL = {
    "sqlite": [
        f"CREATE TRIGGER audit_entry_no_{verb.lower()} BEFORE {verb} ON audit_entry "
        "BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END"
        for verb in ("UPDATE", "DELETE")
    ],
    "postgresql": [
        "CREATE FUNCTION audit_entry_append_only() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN RAISE EXCEPTION 'audit entries are append-only'; END $$",
        "CREATE TRIGGER audit_entry_append_only BEFORE UPDATE OR DELETE ON audit_entry "
        "FOR EACH ROW EXECUTE FUNCTION audit_entry_append_only()",
    ],
}
for _dialect, _statements in APPEND_ONLY_DDL.items():
    for _statement in _statements:
        sa.event.listen(
            AuditEntry.__table__,  # type: ignore[attr-defined]
            "after_create",
            sa.DDL(_statement).execute_if(dialect=_dialect),  # type: ignore[no-untyped-call]
        )


# The search rows of every kind of record, in one table (see `disclosure.search_rows`): one
# full-text search of all kinds is one index lookup, as a single index answers it.
SEARCH_TABLE = "search_row"
# Whether the writers keep the search rows: a row here once `gongshi index --rebuild` with
# GONGSHI_SEARCH=database has filled them; until then no writer pays for them (a node searching
# the whoosh index needs none) and a node searching the database has nothing to search.
SEARCH_STATE_TABLE = "search_row_state"


def is_search_table(name: str) -> bool:
    """Whether a table of the database belongs to search: not a SQLModel table (an FTS5 table
    cannot be one), and on SQLite with FTS5's shadow tables named after it."""
    return name == SEARCH_TABLE or name.startswith(SEARCH_TABLE + "_")


def _search_ddl(dialect: str) -> list[str]:
    if dialect == "sqlite":
        # rowid = the row's key (`search_rows.key`); the four token columns, then what a hit
        # shows
        return [
            f"CREATE VIRTUAL TABLE IF NOT EXISTS {SEARCH_TABLE} USING fts5(name, text, authority,"
            " codes, department UNINDEXED, shown_name UNINDEXED, shown_body UNINDEXED,"
            " tokenize='unicode61')",
            f"CREATE TABLE IF NOT EXISTS {SEARCH_STATE_TABLE} (kept BOOLEAN NOT NULL)",
        ]
    return [
        f"CREATE TABLE IF NOT EXISTS {SEARCH_TABLE} (key BIGINT PRIMARY KEY,"
        " document TSVECTOR NOT NULL, department VARCHAR(18) NOT NULL,"
        " shown_name TEXT NOT NULL, shown_body TEXT NOT NULL)",
        f"CREATE INDEX IF NOT EXISTS ix_{SEARCH_TABLE}_document ON {SEARCH_TABLE}"
        " USING gin (document)",
        f"CREATE TABLE IF NOT EXISTS {SEARCH_STATE_TABLE} (kept BOOLEAN NOT NULL)",
    ]


# The search table, as migration 0012 creates it; `create_all` makes it too.
SEARCH_DDL = {dialect: _search_ddl(dialect) for dialect in ("sqlite", "postgresql")}
for _dialect, _statements in SEARCH_DDL.items():
    for _statement in _statements:
        sa.event.listen(
            SQLModel.metadata,
            "after_create",
            sa.DDL(_statement).execute_if(dialect=_dialect),  # type: ignore[no-untyped-call]
        )
for _table in (SEARCH_TABLE, SEARCH_STATE_TABLE):
    sa.event.listen(
        SQLModel.metadata,
        "before_drop",
        sa.DDL(f"DROP TABLE IF EXISTS {_table}"),  # type: ignore[no-untyped-call]
    )


# the portal's tables share this metadata; imported last, since they refer to the tables above
from disclosure import portal_models  # noqa: E402, F401
