"""Realistic, deterministic synthetic data: the district's departments and lists, subjects with
valid codes, and four years of decisions in which expiry, exits, repairs, objections and
withdrawals all happen (the last through the real workflows)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import random
import tomllib
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from dateutil.relativedelta import relativedelta
from sqlmodel import Session, col, select
from stdnum.cn import ric, uscc

from disclosure import (
    db,
    events,
    idkey,
    lifecycle,
    models,
    privacy,
    sample_names,
    sample_stories,
    workdays,
)

VOCABULARY = Path(__file__).with_name("sample.toml")
BATCH = 5_000
YEARS_BACK = 4
ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)  # GB 11714 organisation code check digit


class SampleError(RuntimeError):
    """Sample data cannot be generated into this database."""


@functools.cache
def vocabulary() -> dict[str, Any]:
    """The words and institutions sample data is made of (sample.toml)."""
    return tomllib.loads(VOCABULARY.read_text(encoding="utf-8"))


def org_code(body: str) -> str:
    """An 8-character organisation code body with its GB 11714 check character appended."""
    total = sum(int(char, 36) * weight for char, weight in zip(body, ORG_WEIGHTS, strict=True))
    check = 11 - total % 11
    return body + {10: "X", 11: "0"}.get(check, str(check))


def credit_code(rng: random.Random, *, registrar: str, kind: str, region: str) -> str:
    """A unified social credit code with valid check characters (GB 32100)."""
    first17 = registrar + kind + region + org_code(f"{rng.randrange(10**8):08d}")
    return first17 + uscc.calc_check_digit(first17)


def id_number(rng: random.Random, region: str) -> str:
    """A resident identity number with a valid birth date and check digit (GB 11643)."""
    born = dt.date(1960, 1, 1) + dt.timedelta(days=rng.randrange(40 * 365))
    first17 = f"{region}{born:%Y%m%d}{rng.randrange(1000):03d}"
    return first17 + ric.calc_check_digit(first17 + "0")


def department_code(name: str) -> str:
    """The fixed credit code of a sample department (a government organ, 11…)."""
    return credit_code(random.Random(name), registrar="1", kind="1", region="440802")


@dataclasses.dataclass
class SampleReport:
    """What `gongshi sample` created."""

    subjects: int = 0
    created: Counter[models.RecordKind] = dataclasses.field(default_factory=Counter)
    stories: Counter[str] = dataclasses.field(default_factory=Counter)


def ensure_departments(session: Session) -> dict[str, models.Department]:
    """The sample departments, created if missing, by name."""
    found = {}
    for entry in vocabulary()["department"]:
        code = department_code(entry["name"])
        unit = session.exec(
            select(models.Department).where(col(models.Department.credit_code) == code)
        ).first()
        if unit is None:
            unit = models.Department(credit_code=code, name=entry["name"])
            session.add(unit)
        found[entry["name"]] = unit
    session.flush()
    return found


def ensure_lists(
    session: Session, departments: dict[str, models.Department]
) -> dict[str, models.List]:
    """The sample named lists with their joint measures, created if missing, by code."""
    found = {}
    for entry in vocabulary()["list"]:
        named = session.exec(
            select(models.List).where(col(models.List.code) == entry["code"])
        ).first()
        if named is None:
            named = models.List(
                code=entry["code"],
                kind=models.ListKind(entry["kind"]),
                name=entry["name"],
                authority_id=departments[entry["authority"]].id,
                legal_basis=entry["legal_basis"],
                listing_criteria=entry["listing_criteria"],
                exit_criteria=entry["exit_criteria"],
                default_validity_months=entry.get("validity_months"),
                min_listing_months=entry.get("min_months"),
                measures=[
                    models.JointMeasure(
                        measure=measure, implementing_department=unit, mandatory=mandatory
                    )
                    for measure, unit, mandatory in entry["measures"]
                ],
            )
            session.add(named)
        found[entry["code"]] = named
    session.flush()
    return found


# Keys the digests of the synthetic people when no key is given: their numbers are made up.
SAMPLE_ID_KEY = idkey.IdKey.of(b"gongshi sample data: made-up identity numbers")


def _subject_row(
    rng: random.Random, codes: set[str], id_key: idkey.IdKey, distinct: sample_names.Distinct
) -> dict[str, Any]:
    words = vocabulary()["names"]
    region = rng.choice(vocabulary()["region_codes"])
    roll = rng.random()
    person = rng.choice(words["surname"]) + rng.choice(words["given"])
    if roll < 0.05:
        number = id_number(rng, region)
        while number in codes:
            number = id_number(rng, region)
        codes.add(number)
        return {
            "category": models.SubjectCategory.NATURAL_PERSON,
            "name": person,
            **models.name_keys(person),
            "id_type": "身份证",
            **privacy.person_identity(number, id_key),
        }
    business = roll < 0.20
    code = credit_code(rng, registrar="9", kind="2" if business else "1", region=region)
    while code in codes:
        code = credit_code(rng, registrar="9", kind="2" if business else "1", region=region)
    codes.add(code)
    if business:
        name = distinct.name(vocabulary()["district"], f"{person[0]}记", rng.choice(words["shop"]))
    else:
        head = f"{vocabulary()['city']}{rng.choice(['', vocabulary()['district']])}"
        trade = rng.choice(words["trade"])
        name = distinct.name(head, trade, rng.choice(words["industry"]) + rng.choice(words["form"]))
    return {
        "category": models.SubjectCategory.INDIVIDUAL_BUSINESS
        if business
        else models.SubjectCategory.LEGAL_PERSON,
        "name": name,
        **models.name_keys(name),
        "credit_code": code,
        "legal_rep_name": person,
        "legal_rep_id_type": "身份证",
    }


def _insert(session: Session, model: type[Any], rows: list[dict[str, Any]]) -> list[int]:
    """Insert rows in bulk with the next free ids (a plain executemany, the fastest path)."""
    if not rows:
        return []
    table = model.__table__
    first = session.execute(sa.select(sa.func.coalesce(sa.func.max(table.c.id), 0))).scalar_one()
    ids = list(range(first + 1, first + 1 + len(rows)))
    keys = sorted(set().union(*rows))
    db.bulk_insert(
        session.connection(),
        table,
        [
            {"id": row_id} | {key: row.get(key) for key in keys}
            for row_id, row in zip(ids, rows, strict=True)
        ],
    )
    return ids


def _advance_sequences(session: Session, models_: Sequence[type[Any]]) -> None:
    """After inserts with explicit ids, move PostgreSQL's id sequences past them."""
    if session.get_bind().dialect.name != "postgresql":
        return
    for model in models_:
        name = model.__table__.name
        session.execute(
            sa.text(
                f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                f"(SELECT coalesce(max(id), 0) + 1 FROM {name}), false)"
            )
        )


class _Decisions:
    """Builds decision rows: dates, document numbers and kind-specific fields."""

    def __init__(
        self,
        rng: random.Random,
        as_of: dt.date,
        departments: dict[str, models.Department],
        lists: dict[str, models.List],
        rules: lifecycle.Rules,
        calendar: workdays.Calendar,
        records: int,
    ) -> None:
        self.rng, self.as_of, self.rules, self.calendar = rng, as_of, rules, calendar
        self.departments = departments
        self.prefixes = {d["name"]: d["prefix"] for d in vocabulary()["department"]}
        self.activity: dict[str, dict[str, list[list[str]]]] = vocabulary()["activity"]
        self.active = sorted(self.activity)
        self.lists = list(lists.values())
        self.numbers: Counter[tuple[str, str, int]] = Counter()
        self.first_day = as_of - relativedelta(years=YEARS_BACK)
        # Decisions arrive in date order, as they would in a running system: ids grow with time
        # and every date-led index is appended to, not scattered into.
        span = (as_of - self.first_day).days + 1
        self.days = iter(sorted(rng.randrange(span) for _ in range(records)))

    def _common(self, authority: str, letter: str, subject_id: int) -> dict[str, Any]:
        rng = self.rng
        decision_on = self.first_day + dt.timedelta(days=next(self.days))
        delay = rng.randint(1, 7) if rng.random() < 0.9 else rng.randint(8, 25)
        published_on = min(workdays.add_working_days(decision_on, delay, self.calendar), self.as_of)
        key = (authority, letter, decision_on.year)
        self.numbers[key] += 1
        unit = self.departments[authority]
        return {
            "subject_id": subject_id,
            "authority_id": unit.id,
            "source_unit_id": unit.id,
            "decision_doc_no": (
                f"{self.prefixes[authority]}{letter}〔{decision_on.year}〕{self.numbers[key]}号"
            ),
            "decision_on": decision_on,
            "published_on": published_on,
        }

    def license(self, subject_id: int) -> dict[str, Any]:
        rng = self.rng
        authority = rng.choice(self.active)
        certificate, category, content = rng.choice(self.activity[authority]["licenses"])
        row = self._common(authority, "许", subject_id)
        years = rng.choice([3, 5, 5, None])
        return row | {
            "decision_doc_name": "准予行政许可决定书",
            "category": models.LicenseCategory(category),
            "certificate_name": certificate,
            "license_no": f"{rng.randrange(10**11):011d}",
            "content": content,
            "valid_from_on": row["decision_on"],
            "valid_to_on": row["decision_on"] + relativedelta(years=years) if years else None,
        }

    def penalty(self, subject_id: int) -> dict[str, Any]:
        rng = self.rng
        authority = rng.choice(self.active)
        violation, basis, facts = rng.choice(self.activity[authority]["penalties"])
        row = self._common(authority, "罚", subject_id)
        roll = rng.random()
        severity = (
            models.Severity.MINOR
            if roll < 0.15
            else models.Severity.SERIOUS
            if roll > 0.8
            else models.Severity.GENERAL
        )
        amount = Decimal(rng.randrange(1, 2000)) / 100  # 0.01 – 20 万元
        fine: Decimal | None = amount
        confiscated = None
        if severity is models.Severity.MINOR:
            categories, content, fine = "警告", "警告", None
        elif severity is models.Severity.SERIOUS and rng.random() < 0.4:
            fine = amount * 10
            confiscated = Decimal(rng.randrange(1, 500)) / 100
            categories = "罚款;没收违法所得"
            content = f"罚款{fine * 10000:.2f}元，没收违法所得{confiscated * 10000:.2f}元"
        else:
            categories, content = "罚款", f"罚款{amount * 10000:.2f}元"
        window = lifecycle.publicity_window(severity, row["decision_on"], self.rules)
        supplied = None
        if rng.random() < (0.5 if severity is models.Severity.MINOR else 0.2):
            span = (window.max_end_on - window.min_end_on).days
            supplied = window.min_end_on + dt.timedelta(days=rng.randint(0, span))
        return row | {
            "violation_type": violation,
            "violation_facts": facts,
            "legal_basis": basis,
            "categories": categories,
            "content": content,
            "fine_amount_wan": fine,
            "confiscation_amount_wan": confiscated,
            "valid_until_on": row["decision_on"] + dt.timedelta(days=rng.choice([7, 15, 30])),
            "severity": severity,
            "publicity_end_on": lifecycle.publicity_end(
                severity, row["decision_on"], supplied, self.rules
            ),
        }

    def list_entry(self, subject_id: int) -> dict[str, Any]:
        named = self.rng.choice(self.lists)
        authority = next(n for n, d in self.departments.items() if d.id == named.authority_id)
        row = self._common(authority, "认", subject_id)
        months = named.default_validity_months
        return row | {
            "list_id": named.id,
            "reason": f"经认定符合{named.name}列入标准：{named.listing_criteria}",
            "valid_until_on": row["decision_on"] + relativedelta(months=months) if months else None,
        }


KIND_SHARES = (
    (models.RecordKind.LICENSE, 0.45),
    (models.RecordKind.PENALTY, 0.40),
    (models.RecordKind.LIST_ENTRY, 0.15),
)


def generate(
    session: Session,
    *,
    records: int,
    seed: int,
    as_of: dt.date,
    rules: lifecycle.Rules,
    calendar: workdays.Calendar,
    progress: Callable[[int], None] | None = None,
    kinds: Sequence[models.RecordKind] | None = None,
    id_key: idkey.IdKey | None = None,
) -> SampleReport:
    """Create `records` decisions and list entries (with subjects, departments and lists) and
    run the stories that end some of them, all in the session's transaction. `kinds` limits the
    records to some kinds (default: all three, in their usual shares)."""
    existing = sum(
        session.execute(sa.select(sa.func.count()).select_from(model)).scalar_one()
        for model in models.RECORD_MODELS.values()
    )
    if existing:
        raise SampleError(
            f"the database already holds {existing} records; sample data goes into an empty one"
        )
    rng = random.Random(seed)
    report = SampleReport()
    departments = ensure_departments(session)
    lists = ensure_lists(session, departments)
    codes: set[str] = set()
    subject_ids: list[int] = []
    subject_count = max(20, records // 3)
    distinct = sample_names.Distinct(seed, vocabulary()["names"]["distinct"])
    for start in range(0, subject_count, BATCH):
        rows = [
            _subject_row(rng, codes, id_key or SAMPLE_ID_KEY, distinct)
            for _ in range(min(BATCH, subject_count - start))
        ]
        subject_ids += _insert(session, models.Subject, rows)
    report.subjects = len(subject_ids)

    decisions = _Decisions(rng, as_of, departments, lists, rules, calendar, records)
    build = {
        models.RecordKind.LICENSE: decisions.license,
        models.RecordKind.PENALTY: decisions.penalty,
        models.RecordKind.LIST_ENTRY: decisions.list_entry,
    }
    shares = [(kind, share) for kind, share in KIND_SHARES if kinds is None or kind in kinds]
    chosen = [kind for kind, _share in shares]
    weights = [share for _kind, share in shares]
    done = 0
    while done < records:
        size = min(BATCH, records - done)
        batch: dict[models.RecordKind, list[dict[str, Any]]] = defaultdict(list)
        for kind in rng.choices(chosen, weights, k=size):
            batch[kind].append(build[kind](rng.choice(subject_ids)))
        for kind, rows in batch.items():
            ids = _insert(session, models.RECORD_MODELS[kind], rows)
            events.append_many(
                session,
                (
                    events.row(
                        kind,
                        record_id,
                        models.EventType.PUBLISHED,
                        effective_on=row["published_on"],
                        actor="sample",
                        payload=events.published_payload(row),
                    )
                    for record_id, row in zip(ids, rows, strict=True)
                ),
            )
            report.created[kind] += len(ids)
        done += size
        if progress is not None:
            progress(size)
    _advance_sequences(session, [models.Subject, *models.RECORD_MODELS.values()])
    report.stories = sample_stories.tell(session, rng, records, as_of, rules, calendar)
    return report
