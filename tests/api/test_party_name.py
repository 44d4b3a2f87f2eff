"""A decision names its party as it stood that day: API, record page and search keep that name
beside the subject's current one."""

import datetime as dt
from pathlib import Path

import sqlalchemy as sa
from sqlmodel import Session, col, select

from disclosure import ingest, models, privacy, settings, urls
from publishers import records
from search_index import indexer, search
from tests import factories
from tests.api.conftest import Run
from tests.template_rows import doc, penalty_cells, write_csv

ON = dt.date(2026, 6, 1)
OLD, NEW = "湛江市赤坎区鸿达海鲜有限公司", "湛江市赤坎区鸿达粮油股份有限公司"


def test_each_decision_shows_its_own_party_name(
    run: Run, engine: sa.Engine, app_settings: settings.Settings, tmp_path: Path
) -> None:
    rows = [penalty_cells(decision_doc_no=doc(n), subject_name=OLD) for n in (1, 2)]
    path = write_csv(tmp_path / "p.csv", rows)
    with Session(engine) as session, session.begin():
        ingest.ingest(session, path, kind=models.RecordKind.PENALTY, ctx=factories.ctx(ON))
    write_csv(path, [rows[1] | {"subject_name": NEW}])  # the second decision, under a new name
    with Session(engine) as session, session.begin():
        ingest.ingest(session, path, kind=models.RecordKind.PENALTY, ctx=factories.ctx(ON))

    query = (
        "{ penalties(first: 5) { edges { node { decisionDocNo partyName subject { name } } } } }"
    )
    nodes = [e["node"] for e in run(query, on=ON)["data"]["penalties"]["edges"]]
    assert sorted((n["decisionDocNo"], n["partyName"], n["subject"]["name"]) for n in nodes) == [
        (doc(1), OLD, NEW),
        (doc(2), NEW, NEW),
    ]

    with Session(engine) as session:
        first = session.exec(
            select(models.Penalty).where(col(models.Penalty.decision_doc_no) == doc(1))
        ).one()
        page = records.render_record(privacy.project(first, ON), urls.Urls("https://example.org"))
    assert f"<title>{OLD}｜" in page
    assert f">{OLD}</a>" in page and f'<dd class="current-name">{NEW}</dd>' in page

    indexer.rebuild(app_settings.index_dir, engine, on=ON)
    searcher = search.Searcher(app_settings.index_dir)
    query = "query ($q: String!) { search(query: $q) { edges { node { record { %s } } } } }"
    query %= "... on Penalty { decisionDocNo }"
    try:
        found = {
            word: sorted(
                e["node"]["record"]["decisionDocNo"]
                for e in run(query, {"q": word}, on=ON, searcher=searcher)["data"]["search"][
                    "edges"
                ]
            )
            for word in ("海鲜", "粮油")
        }
    finally:
        searcher.close()
    # the old name finds only the decision that gave it; the current one finds both
    assert found == {"海鲜": [doc(1)], "粮油": [doc(1), doc(2)]}
