"""schemathesis against the GraphQL schema: generated queries and mutations, valid and invalid,
with a department's token, the operator's and none, over sample data. Whatever is sent, the
server does not fail, every error is masked or the caller's own with a stable code, and every
answer conforms to the schema; and every query is answered exactly as graphql-core's standard
executor answers it (api.execution's short way changes nothing but the time)."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
import sqlalchemy as sa
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import response_schema_conformance
from sqlmodel import Session, col, select
from starlette.applications import Starlette
from starlette.testclient import TestClient

from api import errors as api_errors
from api.app import create_app
from api.cursors import global_id
from api.limits import Limits
from disclosure import lifecycle, models, sample, template, tokens, workdays
from disclosure import settings as gongshi_settings
from search_index import indexer
from tests import conftest
from tests.api.conftest import ON

POSITIVE, NEGATIVE = GenerationMode.POSITIVE, GenerationMode.NEGATIVE

# Every code an error may carry: the GraphQL ones and those of requests refused before GraphQL.
CODES = {
    api_errors.PARSE_FAILED,
    api_errors.VALIDATION_FAILED,
    api_errors.BAD_USER_INPUT,
    api_errors.COST_EXCEEDED,
    api_errors.TimeBudgetExceeded.code,
    api_errors.INTERNAL,
    api_errors.RATE_LIMITED,
    "BAD_REQUEST",
    "METHOD_NOT_ALLOWED",
    "PAYLOAD_TOO_LARGE",
    "UNSUPPORTED_MEDIA_TYPE",
}
# What a leaked exception looks like: a traceback, a source line, a driver's or ORM's words.
LEAK = re.compile(
    r"Traceback|File \"|line \d+, in|sqlalchemy|psycopg|sqlite3|whoosh|"
    r"\b[A-Z]\w*(Error|Exception)\b|object has no attribute|unexpected keyword"
)


@pytest.fixture
def fuzzed(engine: sa.Engine, app_settings: gongshi_settings.Settings) -> Iterator[Fuzzed]:
    """An API node over sample data with a search index, and values worth sending to it."""
    with Session(engine, expire_on_commit=False) as session, session.begin():
        sample.generate(
            session,
            records=120,
            seed=9,
            as_of=ON,
            rules=lifecycle.Rules(),
            calendar=workdays.Calendar(),
        )
    yield Fuzzed(engine, app_settings)


class Fuzzed:
    """The app under test, tokens to write with, and dictionaries of real values (record IDs,
    credit codes, page sizes near the caps, template columns) that lead generated operations
    past the first check into the resolvers."""

    def __init__(self, engine: sa.Engine, app_settings: gongshi_settings.Settings) -> None:
        with Session(engine, expire_on_commit=False) as session, session.begin():
            records: list[models.Record] = [
                *session.exec(select(models.License).limit(12)),
                *session.exec(select(models.Penalty).limit(12)),
                *session.exec(select(models.ListEntry).limit(12)),
            ]
            ids = [global_id(record.KIND, record.id or 0) for record in records]
            penalty = session.exec(select(models.Penalty)).first()
            assert penalty is not None
            unit = session.get(models.Department, penalty.source_unit_id)
            assert unit is not None
            department = tokens.create(
                session, unit_code=unit.credit_code, role=models.Role.DEPARTMENT
            )[1]
            operator = tokens.create(
                session, unit_code=unit.credit_code, role=models.Role.OPERATOR
            )[1]
            subjects = session.exec(
                select(models.Subject.credit_code).where(
                    col(models.Subject.credit_code).is_not(None)
                )
            ).all()
            units = session.exec(select(models.Department.credit_code)).all()
            lists = session.exec(select(models.List.code)).all()
        indexer.rebuild(app_settings.index_dir, engine, on=ON)
        self.app: Starlette = create_app(app_settings, engine, as_of=ON)
        standard = create_app(app_settings, engine, as_of=ON, limits=Limits(standard_executor=True))
        self.standard = TestClient(standard)
        self.headers: list[dict[str, str]] = [
            {},
            {"authorization": f"Bearer {department}"},
            {"authorization": f"Bearer {operator}"},
            {"authorization": "Bearer gs_not-a-token"},
        ]
        columns = sorted({column.zh for kind in template.COLUMNS.values() for column in kind})
        too_far = [_b64(f"{kind.value}:{2**40}") for kind in models.RecordKind]
        cursors = [_b64(text) for text in ("k:2026-01-01:99999999999", "e:-1", "search:0")] + [
            _b64(f"e:{2**70}"),
            _b64(f"search:{2**40}"),
            "",
        ]
        self.config = SchemathesisConfig.from_dict(
            {
                "dictionaries": {
                    "pages": {"values": [0, 1, 2, 20, 100, 101, 1000, 1001, -1]},
                    "ids": {"values": ids + too_far},
                    "numbers": {"values": [0, 1, 2, 3, 4, -1]},
                    "codes": {"values": [code for code in subjects[:20] if code] + list(units)},
                    "units": {"values": list(units)},
                    "lists": {"values": list(lists)},
                    "columns": {"values": columns},
                    "cursors": {"values": cursors},
                    "fields": {"values": FIELDS},
                    "texts": {"values": TEXTS},
                },
                "generation": {
                    "dictionaries": {"string": {"dictionary": "texts", "probability": 0.5}}
                },
                "parameters": {
                    "*.*.first": {"dictionary": "pages", "probability": 0.9},
                    "*.*.after": {"dictionary": "cursors", "probability": 0.3},
                    "*.*.id": {"dictionary": "ids", "probability": 0.8},
                    "*.*.repairId": {"dictionary": "numbers", "probability": 0.8},
                    "*.*.objectionId": {"dictionary": "numbers", "probability": 0.8},
                    "*.*.creditCode": {"dictionary": "codes", "probability": 0.8},
                    "*.*.department": {"dictionary": "units", "probability": 0.6},
                    "*.*.filter.department": {"dictionary": "units", "probability": 0.6},
                    "*.*.filter.authority": {"dictionary": "units", "probability": 0.6},
                    "*.*.filter.list": {"dictionary": "lists", "probability": 0.6},
                    "*.*.columns[*]": {"dictionary": "columns", "probability": 0.9},
                    "*.*.corrections[*].field": {"dictionary": "fields", "probability": 0.9},
                },
            }
        )


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode()


# Fields a correction may name, and texts that have broken or could break a resolver: NUL,
# numbers past every column's range, overlong values, placeholders, odd amounts and dates.
FIELDS = ["content", "fineAmountWan", "decisionOn", "decisionDocNo", "severity", "subjectId"]
FIELDS += ["sourceUnitId", "publicityEndOn", "validToOn", "categories", "id", "nope"]
TEXTS = ["", " ", "\x00", "a\x00b", "%", "_", "'", "\\", "\r\n", "\u202e", "𠀀", "赤" * 600]
TEXTS += ["A" * 300, "00000000000000000X", "9144080000000000XX", "2099/12/31", "0001-01-01"]
TEXTS += ["9999-12-31", "NaN", "Infinity", "1e999999", "-1", "0.0000001", "9" * 30, str(2**40)]


# answers that depend on the moment, not on the executor: a client's budget, the time budget
MOMENTARY = {api_errors.RATE_LIMITED, api_errors.TIME_BUDGET}


def check(case: Case[Any], headers: dict[str, str], standard: TestClient | None = None) -> None:
    """Send the case; fail on a server error, a non-conforming answer or an unmasked error,
    or (with `standard`, for queries) on an answer other than the standard executor's."""
    response = case.call(headers=headers)
    if standard is not None:
        expected = standard.post("/graphql", json={"query": case.body}, headers=headers)
        answers = [response.json(), expected.json()]
        codes = {
            (error.get("extensions") or {}).get("code")
            for answer in answers
            for error in answer.get("errors") or []
        }
        if not codes & MOMENTARY:
            assert (response.status_code, answers[0]) == (expected.status_code, answers[1]), (
                f"the short way and the standard executor differ, for {case.body!r}"
            )
    case.validate_response(
        response, checks=[not_a_server_error, response_schema_conformance], headers=headers
    )
    body: Any = response.json()
    errors = body.get("errors") or []
    for error in errors:
        code = (error.get("extensions") or {}).get("code")
        assert code in CODES, f"an error without a stable code: {error}"
        assert code != api_errors.INTERNAL, f"an unexpected error, for {case.body!r}"
        assert not LEAK.search(error["message"]), f"an exception leaked: {error['message']}"


@pytest.mark.parametrize(("mode", "per_field"), [(POSITIVE, conftest.examples(40)), (NEGATIVE, 12)])
def test_generated_operations_never_fail_the_server(
    fuzzed: Fuzzed, mode: GenerationMode, per_field: int
) -> None:
    schema = schemathesis.graphql.from_asgi("/graphql", fuzzed.app, config=fuzzed.config)
    # every root field of Query and of Mutation, each fuzzed in turn
    fields = [(root, field) for root in ("Query", "Mutation") for field in schema[root].values()]
    assert len(fields) >= 20
    for root, field in fields:
        # a mutation changes what the second executor would see: queries only are compared
        standard = fuzzed.standard if root == "Query" else None

        @given(case=field.as_strategy(mode), headers=st.sampled_from(fuzzed.headers))
        @settings(
            max_examples=per_field,
            deadline=None,
            database=None,
            phases=[Phase.generate, Phase.shrink],
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        )
        def fuzz(case: Case[Any], headers: dict[str, str]) -> None:
            check(case, headers, standard)  # noqa: B023 (called here, within the iteration)

        fuzz()
