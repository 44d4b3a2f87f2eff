"""No natural person's identity number, unmasked, in any output: the API's answers, the search
index, the published pages, feeds and bulk files, what the commands print and the logs — nor in
the database, which never stores it whole.

People come in through both doors (a template file and the API), with their numbers typed into
the identity column and into the free text, and one with a number that is not valid."""

from __future__ import annotations

import logging
import random
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import alembic.command
import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from sqlmodel import Session, SQLModel, select
from starlette.testclient import TestClient
from stdnum.cn import ric

from api.app import create_app
from disclosure import (
    credit_report,
    db,
    lifecycle,
    list_measures,
    models,
    report_codes,
    sample,
    settings,
    tokens,
)
from disclosure.queries import change_log
from gongshi import cli, report_pdf, served_feeds, served_reports
from tests import factories
from tests.api.conftest import ON
from tests.api.documents import SUBMIT
from tests.factories import department_token
from tests.publishers import site_helpers
from tests.template_rows import KEYS, penalty_cells, write_csv


def valid_number(seed: int) -> str:
    """A resident identity number stdnum accepts (its region checks know when each county code
    was in use)."""
    rng = random.Random(seed)
    while not ric.is_valid(number := sample.id_number(rng, "440802")):
        pass
    return number


PEOPLE = [valid_number(seed) for seed in (11, 12)]
INVALID = PEOPLE[0][:-1] + ("0" if PEOPLE[0][-1] != "0" else "1")  # a wrong check digit
NUMBERS = [*PEOPLE, INVALID]
# How people type numbers into free text: glued to letters, split by spaces, hyphens or dots,
# in full-width digits, with a stray letter after it.
SPELLINGS = [
    "ID440802198503171237",
    "sfz440802199206115671",
    "No.440802198503171237x",
    "440802199911111115a",
    "440802 20011231 1351",
    "440802-19991111-1115",
    "440802.1988.0607.4522",
    "４４０８０２１９９００５０３２２１２",
]
# Their birth dates: gone from every output, so that nothing finds them.
BORN = sorted(
    {
        re.sub(r"\D", "", s.translate(str.maketrans("０１２３４５６７８９", "0123456789")))[6:14]
        for s in SPELLINGS
    }
)
MOBILE = "13812345678"
# an implementing department's feedback (触发反馈) is government-internal: never public
FEEDBACK_NOTE = "内部反馈：已暂停其投标资格，经办人王某"
REPORT = """mutation($code: String!) { reportMeasureApplied(creditCode: $code, measure: "CJ-03",
  appliedOn: "%s", outcome: APPLIED, note: "%s") { __typename } }"""
STANDINGS = """query($codes: [String!]!) { standings(creditCodes: $codes) { creditCode cleanSince
  measures { code state triggers { globalId url } } } }"""
ID_LIKE = re.compile(rb"(?<![0-9])[0-9]{17}[0-9Xx](?![0-9])")
SEARCH = """{ search(query: "%s") { edges { node { highlights { field snippet }
  record { ... on Penalty { violationFacts subject { maskedIdNumber } } } } } } }"""
QUERIES = [
    """{ penalties(first: 100) { edges { node { id decisionDocNo violationFacts content remarks
       subject { key name category creditCode maskedIdNumber legalRepName } } } } }""",
    "{ changes(first: 1000) { changes { type kind recordId } } }",
    "{ stats { asOf } }",
]


def person(number: str, doc: str, name: str) -> dict[str, str]:
    return penalty_cells(
        subject_name=name,
        subject_category="自然人",
        subject_uscc="",
        legal_rep_name="",
        person_id_type="身份证",
        person_id_no=number,
        decision_doc_no=doc,
        violation_facts=f"当事人{name}（身份证号码{number}，联系电话{MOBILE}）无证经营烟花爆竹，"
        f"同行人 {'、'.join(SPELLINGS)}",
        remarks=f"证件号{number}；备注 {SPELLINGS[4]}；手机 138-1234-5678",
    )


def found_numbers(data: bytes) -> set[str]:
    """The identity numbers of this test (or their birth dates), its mobile number, and any other
    valid identity number, in `data`."""
    leaks = {number for number in [*NUMBERS, *BORN, MOBILE] if number.encode() in data}
    leaks |= {m.decode() for m in ID_LIKE.findall(data) if ric.is_valid(m.decode())}
    return leaks


def report_text(data: bytes) -> bytes:
    """A credit report's text, as pdftotext reads it (the tests of the report need it; without
    it the report's content is scanned instead, by `report_contents`)."""
    if not data.startswith(b"%PDF") or shutil.which("pdftotext") is None:
        return data
    return subprocess.run(
        ["pdftotext", "-enc", "UTF-8", "-", "-"], input=data, capture_output=True, check=True
    ).stdout


def report_contents(session: Session, key: str) -> tuple[bytes, str | None]:
    """What a subject's credit report of ON is made from, and its verification code."""
    found = credit_report.build(
        session, key, ON, rules=lifecycle.Rules(), catalogue=list_measures.catalogue(session)
    )
    if found is None:
        return b"", None
    return found.content.model_dump_json().encode(), found.content.subject.key


def files(folder: Path) -> Iterator[tuple[str, bytes]]:
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            yield str(path.relative_to(folder)), site_helpers.readable(path.read_bytes())


def test_no_output_holds_an_unmasked_identity_number(
    engine: sa.Engine,
    session: Session,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    if db.current_revision(engine) is None:  # the SQLite test file was made from the models
        alembic.command.stamp(db.alembic_config(engine), "head")
    url = engine.url.render_as_string(hide_password=False)
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("GONGSHI_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("GONGSHI_BASE_URL", "https://credit.example.gov.cn/")
    monkeypatch.setenv("GONGSHI_ID_KEY", factories.ID_KEY_TEXT)
    app_settings = settings.Settings(
        database_url=url, data_dir=tmp_path / "var", id_key=factories.ID_KEY
    )
    secret = department_token(session)
    blacklisted = factories.add_subject(session)
    factories.add_list_entry(session, on=ON, subject_id=blacklisted.id)
    finance = factories.add_department(session, "赤坎区财政局")
    implementer = tokens.create(
        session, unit_code=finance.credit_code, role=models.Role.IMPLEMENTER
    )[1]
    session.commit()
    outputs: dict[str, bytes] = {}
    runner = CliRunner()

    def command(*args: str) -> None:
        result = runner.invoke(cli.main, list(args))
        assert result.exit_code in (0, 3), result.output
        outputs[f"gongshi {' '.join(args)}"] = result.output.encode()

    # the file door: one person accepted, one rejected for the invalid number
    (tmp_path / "in").mkdir()
    sent = write_csv(
        tmp_path / "in" / "penalties.csv",
        [
            person(PEOPLE[0], "赤市监罚〔2026〕501号", "陈志强"),
            person(INVALID, "赤市监罚〔2026〕502号", "林国华"),
        ],
    )
    command("ingest", str(sent), "--kind", "penalty", "--as-of", ON.isoformat())
    command("index", "--rebuild", "--as-of", ON.isoformat())

    # the API door, with the index following the change log
    feed_routes = served_feeds.FeedRoutes(app_settings, engine, as_of=ON).routes()
    feed_routes += served_reports.ReportRoutes(app_settings, engine, as_of=ON).routes()
    served = create_app(app_settings, engine, as_of=ON, follow_seconds=0.1, routes=feed_routes)
    with TestClient(served) as client:
        bearer = {"authorization": f"Bearer {secret}"}
        batch = [
            person(PEOPLE[1], "赤市监罚〔2026〕503号", "黄丽萍"),
            person(INVALID, "赤市监罚〔2026〕504号", "林国华"),
        ]
        answer = client.post(
            "/graphql",
            json={
                "query": SUBMIT,
                "variables": {
                    "columns": KEYS,
                    "rows": [[row.get(k, "") for k in KEYS] for row in batch],
                },
            },
            headers=bearer,
        )
        assert answer.json()["data"]["submitPenalties"]["accepted"] == 1, answer.text
        outputs["submitPenalties"] = answer.content
        reported = client.post(
            "/graphql",
            json={
                "query": REPORT % (ON.isoformat(), FEEDBACK_NOTE),
                "variables": {"code": blacklisted.credit_code},
            },
            headers={"authorization": f"Bearer {implementer}"},
        )
        assert reported.json()["data"]["reportMeasureApplied"] == {"__typename": "MeasureReport"}, (
            reported.text
        )
        for query, variables in (
            (STANDINGS, {"codes": [blacklisted.credit_code]}),
            (f'{{ stats {{ feedback(month: "{ON:%Y-%m}") {{ measure applied }} }} }}', {}),
        ):
            response = client.post("/graphql", json={"query": query, "variables": variables})
            assert "errors" not in response.json(), response.text
            outputs[query] = response.content
        for query in QUERIES:
            response = client.post("/graphql", json={"query": query})
            assert "errors" not in response.json(), response.text
            outputs[query] = response.content
        deadline = time.monotonic() + 10
        for term in ("陈志强", "黄丽萍", *NUMBERS, *BORN, MOBILE, PEOPLE[0][:6]):
            search = SEARCH % term
            while True:
                response = client.post("/graphql", json={"query": search})
                assert "errors" not in response.json(), response.text
                if term != "黄丽萍" or response.json()["data"]["search"]["edges"]:
                    break
                assert time.monotonic() < deadline, "the submitted person never became searchable"
                time.sleep(0.1)
            outputs[f"search {term}"] = response.content
        assert b"\xe9\xbb\x84\xe4\xb8\xbd\xe8\x90\x8d" in outputs["search 黄丽萍"]  # 黄丽萍 found
        # the feeds made on request: any search's, and every subject's
        caplog.set_level(logging.WARNING, logger="httpx")  # the test client logs its own URLs
        for term in ("陈志强", "黄丽萍", *NUMBERS, PEOPLE[0][:6]):
            response = client.get("/feeds/search.atom", params={"q": term})
            assert response.status_code == 200, response.text
            outputs[f"search feed {term}"] = response.content
        assert "黄丽萍".encode() in outputs["search feed 黄丽萍"]
        for subject in session.exec(select(models.Subject)).all():
            key = subject.credit_code or f"P{subject.id}"
            response = client.get(f"/feeds/subjects/{key}.atom")
            assert response.status_code == 200, response.text
            outputs[f"subject feed {key}"] = response.content
        # the credit reports (公共信用信息报告): their PDFs' text, their verification, their 404s
        report_key = report_codes.report_key(app_settings)
        reports = 0
        for subject in session.exec(select(models.Subject)).all():
            key = subject.credit_code or f"P{subject.id}"
            response = client.get(f"/reports/{key}.pdf")
            assert response.status_code in (200, 404, 503), response.text
            outputs[f"report {key}"] = report_text(response.content)
            content, public_key = report_contents(session, key)
            outputs[f"report content {key}"] = content
            if public_key is None:
                continue
            reports += 1
            version = change_log.last_event_id(session)
            digest = credit_report.digest(credit_report.ReportContent.model_validate_json(content))
            code = report_codes.issue(public_key, ON, version, digest, report_key)
            for accept in ("text/html", "*/*"):
                response = client.get(f"/reports/verify/{code}", headers={"accept": accept})
                assert response.status_code == 200 and "MATCHES" in response.text, response.text
                outputs[f"verify {key} {accept}"] = response.content
        assert reports >= 3  # the two people and the black-listed company
        if shutil.which("pdftotext") and report_pdf.font_missing() is None:
            title = "公共信用信息报告".encode()
            assert sum(title in data for name, data in outputs.items() if "report" in name) >= 3
        for number in NUMBERS:
            for path in (f"/reports/{number}.pdf", f"/reports/verify/{number}"):
                response = client.get(path, headers={"accept": "text/html"})
                assert response.status_code == 404
                outputs[path] = response.content
        caplog.set_level(logging.DEBUG, logger="httpx")

    command("lifecycle", "--as-of", ON.isoformat())
    command("publish", "--out", str(tmp_path / "out"), "--as-of", ON.isoformat())
    command("audit", "--since", "2000-01-01")
    command(
        "report",
        "feedback",
        "--month",
        f"{ON:%Y-%m}",
        "--as-of",
        ON.isoformat(),
        "--out",
        str(tmp_path),
    )
    for subject in session.exec(select(models.Subject)).all():
        key = subject.credit_code or f"P{subject.id}"
        pdf = tmp_path / f"report-{key}.pdf"
        result = runner.invoke(
            cli.main, ["report", "subject", key, "--as-of", ON.isoformat(), "--out", str(pdf)]
        )
        outputs[f"gongshi report subject {key}"] = result.output.encode()
        if pdf.exists():
            outputs[pdf.name] = report_text(pdf.read_bytes())
    month = f"feedback-{ON:%Y-%m}"
    for suffix in (".csv", ".xlsx"):
        outputs[month + suffix] = site_helpers.readable((tmp_path / (month + suffix)).read_bytes())
    outputs["logs"] = caplog.text.encode()
    published = dict(files(tmp_path / "out" / "current"))
    assert any(path.startswith("records/") for path in published)
    assert any(path.startswith("feeds/") for path in published)
    assert any(path.startswith("data/") for path in published)
    masked = PEOPLE[0][:6] + "********" + PEOPLE[0][-4:]
    assert any(masked.encode() in data for data in published.values())
    # the data files beside the pages and the uncompressed bulk CSVs are scanned too: a
    # person's subject page data shows the masked number
    for suffix in (".json", ".csv"):
        beside = [
            path for path in published if path.startswith("subjects/") and path.endswith(suffix)
        ]
        assert any(masked.encode() in published[path] for path in beside), suffix
    assert any(
        masked.encode() in published[p] for p in published if re.fullmatch(r"data/[\w-]+\.csv", p)
    )
    # and so is what the publisher keeps beside the release for the next publish (never served)
    kept = {
        str(path): site_helpers.readable(path.read_bytes())
        for path in (tmp_path / "out" / "releases").glob("*.*")
    }
    assert any(masked.encode() in data for data in kept.values())
    published |= kept
    # the search index is read as text too: its pages show the masked number
    bundles = b"".join(data for path, data in published.items() if path.startswith("search/"))
    assert masked.encode() in bundles
    index = dict(files(tmp_path / "var" / "index"))
    assert index, "the search index was not written"
    with engine.connect() as connection:
        database = {
            table.name: repr(connection.execute(sa.select(table)).all()).encode()
            for table in SQLModel.metadata.sorted_tables
        }

    leaks = {
        f"{kind}: {name}": found
        for kind, outputs_of_kind in (
            ("output", outputs),
            ("published", published),
            ("index", index),
            ("database", database),
        )
        for name, data in outputs_of_kind.items()
        if (found := found_numbers(data))
    }
    assert leaks == {}
    note = FEEDBACK_NOTE.encode()
    assert note in database["measure_report"]
    internal = {
        name
        for kind, outputs_of_kind in (
            ("output", outputs),
            ("published", published),
            ("index", index),
        )
        for name, data in outputs_of_kind.items()
        if note in data or "王某".encode() in data
    }
    assert internal == set()


REPORTER = "隐名举报人欧阳秋"
REPORTER_CONTACT = "13987654321"
APPLICANT_CONTACT = "0759-3888777"


def test_a_reporters_identity_is_in_no_output(
    engine: sa.Engine,
    session: Session,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from disclosure import models
    from tests.portal import helpers

    caplog.set_level(logging.DEBUG)
    if db.current_revision(engine) is None:
        alembic.command.stamp(db.alembic_config(engine), "head")
    url = engine.url.render_as_string(hide_password=False)
    for name, value in {
        "DATABASE_URL": url,
        "GONGSHI_DATA_DIR": str(tmp_path / "var"),
        "GONGSHI_BASE_URL": "https://credit.example.gov.cn/",
        "GONGSHI_ID_KEY": factories.ID_KEY_TEXT,
    }.items():
        monkeypatch.setenv(name, value)
    app_settings = settings.Settings(
        database_url=url, data_dir=tmp_path / "var", id_key=factories.ID_KEY
    )
    unit = factories.add_department(session)
    penalty = factories.add_penalty(session, on=ON, source_unit_id=unit.id, authority_id=unit.id)
    session.commit()
    helpers.account(session, unit, "wangfang")
    outputs: dict[str, bytes] = {}
    web = TestClient(helpers.node(app_settings, engine))  # type: ignore[arg-type]
    with web:
        form = web.get("/portal/report")
        filed = web.post(
            "/portal/report",
            data={
                "csrf": helpers.csrf(form.text),
                "department": str(unit.id),
                "reported_party": penalty.subject.name,
                "text": f"{penalty.subject.name}继续销售过期食品",
                "reporter_name": REPORTER,
                "reporter_contact": REPORTER_CONTACT,
            },
        )
        assert filed.status_code == 200 and "已受理" in filed.text
        outputs["track page"] = filed.content
        apply_path = f"/portal/apply/penalty/{penalty.id}"
        objection = web.post(
            apply_path,
            data={
                "csrf": helpers.csrf(web.get(apply_path).text),
                "type": "objection",
                "applicant": "鸿达食品",
                "contact": APPLICANT_CONTACT,
                "text": "样品来源有误",
            },
        )
        assert objection.status_code == 200, objection.text
        helpers.sign_in(web, "wangfang")
        desk = web.get("/portal/")
        assert "继续销售过期食品" in desk.text  # the department sees the report, not who sent it
        outputs["desk"] = desk.content
        export = web.get("/portal/queue.csv")
        assert "继续销售过期食品".encode() in export.content
        assert APPLICANT_CONTACT.encode() in export.content  # an objector's contact is for it
        outputs["queue.csv"] = export.content
        for query in QUERIES:
            outputs[query] = web.post("/graphql", json={"query": query}).content
    runner = CliRunner()
    for args in (
        ["index", "--rebuild", "--as-of", ON.isoformat()],
        ["publish", "--out", str(tmp_path / "out"), "--as-of", ON.isoformat()],
        ["audit", "--since", "2000-01-01"],
        ["overdue", "--as-of", "2026-12-31"],
    ):
        result = runner.invoke(cli.main, args)
        assert result.exit_code == 0, result.output
        outputs[" ".join(args)] = result.output.encode()
    outputs["logs"] = caplog.text.encode()
    published = dict(files(tmp_path / "out" / "current"))
    index = dict(files(tmp_path / "var" / "index"))
    assert any(path.startswith("records/") for path in published) and index
    with engine.connect() as connection:
        events = repr(connection.execute(sa.select(models.Event)).all()).encode()
    secrets_ = [s.encode() for s in (REPORTER, REPORTER_CONTACT)]
    leaks = {
        name
        for name, data in [*outputs.items(), *published.items(), *index.items(), ("events", events)]
        if any(secret in data for secret in secrets_)
        or (name != "queue.csv" and APPLICANT_CONTACT.encode() in data)
    }
    assert leaks == set()
    with engine.connect() as connection:  # the identity is kept, apart, for the bureau
        assert REPORTER in repr(connection.execute(sa.text("SELECT name FROM reporter")).all())
