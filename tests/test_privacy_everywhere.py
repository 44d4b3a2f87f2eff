"""No natural person's identity number, unmasked, in any output: the API's answers, the search
index, the published pages, feeds and bulk files, what the commands print and the logs — nor in
the database, which never stores it whole.

People come in through both doors (a template file and the API), with their numbers typed into
the identity column and into the free text, and one with a number that is not valid."""

from __future__ import annotations

import logging
import random
import re
import time
from collections.abc import Iterator
from pathlib import Path

import alembic.command
import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from sqlmodel import Session, SQLModel
from starlette.testclient import TestClient
from stdnum.cn import ric

from api.app import create_app
from disclosure import db, sample, settings
from gongshi import cli
from tests import factories
from tests.api.conftest import ON
from tests.api.test_mutations import SUBMIT
from tests.api.test_mutations_http import department_token
from tests.disclosure.test_ingest import KEYS, write_csv
from tests.disclosure.test_validation import penalty_cells
from tests.publishers import site_helpers


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
    with TestClient(create_app(app_settings, engine, as_of=ON, follow_seconds=0.1)) as client:
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

    command("lifecycle", "--as-of", ON.isoformat())
    command("publish", "--out", str(tmp_path / "out"), "--as-of", ON.isoformat())
    command("audit", "--since", "2000-01-01")
    outputs["logs"] = caplog.text.encode()
    published = dict(files(tmp_path / "out" / "current"))
    assert any(path.startswith("records/") for path in published)
    assert any(path.startswith("feeds/") for path in published)
    assert any(path.startswith("data/") for path in published)
    masked = PEOPLE[0][:6] + "********" + PEOPLE[0][-4:]
    assert any(masked.encode() in data for data in published.values())
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
