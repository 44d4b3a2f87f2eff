import datetime as dt
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from disclosure import db, endings, lifecycle, models, privacy, search_rows, settings, workdays
from disclosure import sample as sample_data
from search_index import analysis, backends, database, indexer, search
from tests import factories, search_backends

ON = dt.date(2026, 11, 28)


def _sample(engine: sa.Engine) -> None:
    with Session(engine) as session, session.begin():
        sample_data.generate(
            session,
            records=400,
            seed=5,
            as_of=ON,
            rules=lifecycle.Rules(),
            calendar=workdays.Calendar(),
        )


@pytest.fixture(params=search_backends.BACKENDS)
def searcher(
    request: pytest.FixtureRequest, engine: sa.Engine, tmp_path: Path
) -> Iterator[search.Backend]:
    """Each backend in turn over the same sample: every test of it must pass on both."""
    _sample(engine)
    found = search_backends.open_searcher(request.param, engine, tmp_path / "index", ON)
    yield found
    found.close()


@pytest.fixture
def whoosh_searcher(engine: sa.Engine, tmp_path: Path) -> Iterator[search.Backend]:
    _sample(engine)
    found = search_backends.open_searcher("whoosh", engine, tmp_path / "index", ON)
    yield found
    found.close()


def _public_names(engine: sa.Engine) -> dict[str, set[tuple[models.RecordKind, int]]]:
    """Subject name → the public records of subjects with that name."""
    names: dict[str, set[tuple[models.RecordKind, int]]] = {}
    with Session(engine) as session:
        for kind, model in models.RECORD_MODELS.items():
            for record in session.exec(select(model).where(lifecycle.public_clause(model, ON))):
                names.setdefault(record.subject.name, set()).add((kind, record.id))  # type: ignore[attr-defined]
    return names


def _found(results: search.Results) -> set[tuple[models.RecordKind, int]]:
    return {(hit.kind, hit.record_id) for hit in results.hits}


def test_analysis_normalises_width_case_and_script() -> None:
    assert analysis.normalize("湛江市赤坎區ＡＢＣ１２３") == "湛江市赤坎区abc123"
    assert analysis.terms("赤坎食品") == ["赤坎", "食品"]
    assert analysis.terms("湛江市 赤坎区") == ["湛江", "江市", "赤坎", "坎区"]


def test_full_names_fragments_and_variants_find_their_records(
    engine: sa.Engine, searcher: search.Backend
) -> None:
    names = _public_names(engine)
    companies = sorted(
        name for name in names if name.endswith("公司") and name.startswith("湛江市赤坎区")
    )
    assert companies
    for name in companies[:15]:
        trade = name[len("湛江市赤坎区") : len("湛江市赤坎区") + 2]  # e.g. 鸿达
        industry_start = len("湛江市赤坎区") + 2
        industry = name[industry_start : industry_start + 2]  # first two characters of it
        expected = names[name]
        queries = [
            name,  # full name
            trade,  # a 2-character brand
            trade + industry,  # 4 characters
            f"赤坎{industry}",  # district + industry, concatenated
            f"赤坎 {industry}",  # and spaced
            name.replace("区", "區"),  # traditional characters
            "".join(chr(ord(c) + 0xFEE0) if c.isascii() and c.isalnum() else c for c in name),
        ]
        for text in queries:
            found = _found(searcher.search(text, limit=200))
            assert expected <= found, (text, expected - found)


def test_exact_credit_code_and_document_number_rank_first(
    engine: sa.Engine, searcher: search.Backend
) -> None:
    with Session(engine) as session:
        penalty = session.exec(
            select(models.Penalty).where(lifecycle.public_clause(models.Penalty, ON))
        ).first()
        assert penalty is not None
        code = penalty.subject.credit_code or ""
        doc_no = penalty.decision_doc_no
    by_doc = searcher.search(doc_no)
    assert (by_doc.hits[0].kind, by_doc.hits[0].record_id) == (
        models.RecordKind.PENALTY,
        penalty.id,
    )
    top = searcher.search(code.lower()).hits[0]
    with Session(engine) as session:
        record = session.get(models.RECORD_MODELS[top.kind], top.record_id)
        assert record is not None
        assert record.subject.credit_code == code  # type: ignore[attr-defined]
    assert (models.RecordKind.PENALTY, penalty.id) in _found(searcher.search(code, limit=200))
    assert (models.RecordKind.PENALTY, penalty.id) in _found(
        searcher.search(code[:8], kinds=[models.RecordKind.PENALTY], limit=500)
    )


def test_body_words_filters_facets_and_date_order(searcher: search.Backend) -> None:
    results = searcher.search("食品安全", limit=50)
    assert results.total > 0
    assert results.total == sum(results.by_kind.values())
    assert sum(results.by_department.values()) == results.total
    only = searcher.search("食品安全", kinds=[models.RecordKind.PENALTY], limit=50)
    assert {hit.kind for hit in only.hits} == {models.RecordKind.PENALTY}
    department = next(iter(results.by_department))
    narrowed = searcher.search("食品安全", department=department, limit=50)
    assert narrowed.total == results.by_department[department]
    dated = searcher.search("许可", order="date", limit=30)
    assert any("<b" in snippet for hit in dated.hits for snippet in hit.highlights.values())


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "the query is empty"),
        ("   ", "the query is empty"),
        ("赤" * 101, "longer than 100 characters"),
        ("!!! ??? ***", "no searchable words"),
    ],
)
def test_bad_queries_get_clear_errors(searcher: search.Backend, text: str, message: str) -> None:
    with pytest.raises(search.QueryError, match=re.escape(message)):
        searcher.search(text)


def test_operators_are_plain_text(searcher: search.Backend) -> None:
    assert searcher.search("食品 AND OR NOT * name:x").total >= 0
    with pytest.raises(search.QueryError, match="results go 1000 deep"):
        searcher.search("食品", offset=990, limit=20)


def test_withdrawn_and_expired_records_leave_the_index(engine: sa.Engine, tmp_path: Path) -> None:
    with Session(engine, expire_on_commit=False) as session, session.begin():
        withdrawn = factories.add_penalty(session, on=ON, decision_on=dt.date(2026, 11, 20))
        expiring = factories.add_penalty(
            session, on=dt.date(2025, 12, 1), decision_on=dt.date(2025, 11, 30)
        )
        kept = factories.add_license(session, on=ON)
    indexer.rebuild(tmp_path / "index", engine, on=ON)
    searcher = search.Searcher(tmp_path / "index")
    assert {withdrawn.id, expiring.id, kept.id} <= {
        hit.record_id for hit in searcher.search("鸿达食品", limit=50).hits
    }
    with Session(engine) as session, session.begin():
        endings.withdraw(
            session,
            session.get(models.Penalty, withdrawn.id),  # type: ignore[arg-type]
            kind=models.WithdrawalKind.REVOKED,
            reason="复议撤销",
            ctx=factories.ctx(ON),
        )
    report = indexer.update(tmp_path / "index", engine, on=dt.date(2026, 12, 1))
    assert (report.events, report.removed) == (1, 2)  # the withdrawal, and the expiry by date
    searcher.refresh()
    hits = {(hit.kind, hit.record_id) for hit in searcher.search("鸿达食品", limit=50).hits}
    assert hits == {(models.RecordKind.LICENSE, kept.id)}
    again = indexer.update(tmp_path / "index", engine, on=dt.date(2026, 12, 1))
    assert (again.events, again.indexed, again.removed) == (0, 0, 0)
    searcher.close()


def test_update_needs_an_index(engine: sa.Engine, tmp_path: Path) -> None:
    with pytest.raises(indexer.IndexUnavailable, match="run `gongshi index --rebuild`"):
        indexer.update(tmp_path / "index", engine, on=ON)


def test_an_index_of_another_document_layout_is_refused_with_what_to_do(
    engine: sa.Engine, tmp_path: Path
) -> None:
    indexer.rebuild(tmp_path / "index", engine, on=ON)
    build = indexer.current(tmp_path / "index")
    assert build is not None
    watermark = build / "watermark.json"
    # what a build of the first layout wrote: no format
    watermark.write_text('{"event_id": 0, "as_of": "2026-11-28"}', encoding="utf-8")
    for attempt in (
        lambda: search.Searcher(tmp_path / "index"),
        lambda: indexer.update(tmp_path / "index", engine, on=ON),
    ):
        with pytest.raises(indexer.IndexUnavailable, match="gongshi index --rebuild"):
            attempt()
    indexer.rebuild(tmp_path / "index", engine, on=ON)
    search.Searcher(tmp_path / "index").close()


def test_two_nodes_with_their_own_folders_converge(engine: sa.Engine, tmp_path: Path) -> None:
    with Session(engine) as session, session.begin():
        factories.add_license(session, on=ON)
    first, second = tmp_path / "node-a", tmp_path / "node-b"
    indexer.rebuild(first, engine, on=ON)
    with Session(engine, expire_on_commit=False) as session, session.begin():
        later = factories.add_penalty(session, on=ON)  # arrives after node a was built
    indexer.rebuild(second, engine, on=ON)
    with Session(engine) as session, session.begin():
        endings.withdraw(
            session,
            session.get(models.Penalty, later.id),  # type: ignore[arg-type]
            kind=models.WithdrawalKind.CHANGED,
            reason="变更",
            ctx=factories.ctx(ON),
        )
        factories.add_list_entry(session, on=ON)
    marks = {indexer.update(folder, engine, on=ON).watermark for folder in (first, second)}
    assert len(marks) == 1
    seen = []
    for folder in (first, second):
        searcher = search.Searcher(folder)
        seen.append(sorted((h.kind, h.record_id) for h in searcher.search("鸿达", limit=50).hits))
        searcher.close()
    assert seen[0] == seen[1]
    assert [kind for kind, _ in seen[0]] == [
        models.RecordKind.LICENSE,
        models.RecordKind.LIST_ENTRY,
    ]


def test_counting_by_kind_stops_at_the_limit_and_says_so(
    searcher: search.Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    exact = searcher.search("赤坎", limit=5, counts="departments")
    assert exact.complete and exact.total > 30
    monkeypatch.setattr(search, "COUNT_LIMIT", 10)
    capped = searcher.search("赤坎", limit=5, counts="kinds")
    assert not capped.complete
    assert capped.total == sum(capped.by_kind.values()) <= 10 * len(models.RecordKind)
    # the same page (records of equal score may come in another order)
    assert [round(hit.score, 6) for hit in capped.hits] == [
        round(hit.score, 6) for hit in exact.hits
    ]
    monkeypatch.setattr(search, "COUNT_LIMIT", 1000)  # above every kind's matches
    counted = searcher.search("赤坎", limit=5, counts="kinds")
    assert (counted.total, counted.by_kind, counted.complete) == (exact.total, exact.by_kind, True)


def test_a_page_alone_counts_nothing_and_knows_whether_more_follow(
    searcher: search.Backend,
) -> None:
    exact = searcher.search("赤坎", limit=5)
    page = searcher.search("赤坎", limit=5, counts="none")
    assert (page.total, page.by_kind, page.by_department) == (0, {}, {})
    assert [round(hit.score, 6) for hit in page.hits] == [round(hit.score, 6) for hit in exact.hits]
    assert page.more and page.complete
    last = searcher.search("赤坎", offset=exact.total - 3, limit=5, counts="none")
    assert (len(last.hits), last.more) == (3, False)
    assert searcher.search("赤坎", offset=exact.total - 5, limit=5, counts="none").more is False
    assert searcher.search("赤坎", offset=exact.total - 6, limit=5, counts="none").more is True


@pytest.mark.parametrize(
    ("counts", "order"), [("departments", "relevance"), ("kinds", "date"), ("kinds", "relevance")]
)
def test_a_search_its_time_budget_cuts_short_still_counts_every_match(
    whoosh_searcher: search.Backend,
    monkeypatch: pytest.MonkeyPatch,
    counts: search.Counts,
    order: Literal["relevance", "date"],
) -> None:
    """whoosh's time budget (the database backend's statement runs to its end)."""
    searcher = whoosh_searcher
    exact = searcher.search("赤坎", limit=5, counts=counts, order=order)
    assert exact.complete
    monkeypatch.setattr(search, "TIME_BUDGET_SECONDS", 0.0)
    monkeypatch.setattr(search, "SHARD_SECONDS", 0.0)
    # the timer thread must get the interpreter while the shard's matches are being collected
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        cut = searcher.search("赤坎", limit=5, counts=counts, order=order)
    finally:
        sys.setswitchinterval(interval)
    assert not cut.complete  # the budget did cut it short…
    assert (cut.total, cut.by_kind) == (exact.total, exact.by_kind)  # …but not its counts


def test_the_database_backend_is_as_fresh_as_the_data_and_the_day(engine: sa.Engine) -> None:
    with Session(engine, expire_on_commit=False) as session, session.begin():
        withdrawn = factories.add_penalty(session, on=ON, decision_on=dt.date(2026, 11, 20))
        expiring = factories.add_penalty(
            session, on=dt.date(2025, 12, 1), decision_on=dt.date(2025, 11, 30)
        )
        kept = factories.add_license(session, on=ON)
    searcher = database.DatabaseSearcher(engine)

    def found(on: dt.date) -> set[tuple[models.RecordKind, int]]:
        return _found(searcher.search("鸿达食品", limit=50, on=on))

    assert found(ON) == {
        (models.RecordKind.PENALTY, withdrawn.id),
        (models.RecordKind.PENALTY, expiring.id),
        (models.RecordKind.LICENSE, kept.id),
    }
    with Session(engine) as session, session.begin():
        endings.withdraw(
            session,
            session.get(models.Penalty, withdrawn.id),  # type: ignore[arg-type]
            kind=models.WithdrawalKind.REVOKED,
            reason="复议撤销",
            ctx=factories.ctx(ON),
        )
    # the withdrawal at once; the expiry by date, with no write at all (no lifecycle run)
    assert found(ON) == {
        (models.RecordKind.PENALTY, expiring.id),
        (models.RecordKind.LICENSE, kept.id),
    }
    assert found(dt.date(2026, 12, 1)) == {(models.RecordKind.LICENSE, kept.id)}
    with Session(engine) as session:
        (rows,) = session.execute(sa.text("SELECT count(*) FROM search_row")).one()
    assert rows == 2  # the expiring penalty's and the license's: the withdrawn one's went with it
    searcher.close()


def test_a_rolled_back_change_leaves_the_search_rows_as_they_were(engine: sa.Engine) -> None:
    searcher = database.DatabaseSearcher(engine, on=ON)
    with Session(engine) as session:
        with session.begin():
            factories.add_license(session, on=ON)
        with pytest.raises(RuntimeError), session.begin():
            factories.add_penalty(session, on=ON)
            raise RuntimeError("the writer failed")
    assert [hit.kind for hit in searcher.search("鸿达").hits] == [models.RecordKind.LICENSE]
    searcher.close()


def _stored(backend: str, engine: sa.Engine, index_dir: Path) -> str:
    """All a backend keeps: the index folder's bytes, or the search rows."""
    if backend == "whoosh":
        return "".join(
            path.read_bytes().decode("latin-1") for path in index_dir.rglob("*") if path.is_file()
        )
    with Session(engine) as session:
        return repr(
            session.execute(
                sa.text(
                    "SELECT name, text, authority, codes, shown_name, shown_body FROM search_row"
                )
                if engine.dialect.name == "sqlite"
                else sa.text("SELECT document::text, shown_name, shown_body FROM search_row")
            ).all()
        )


@pytest.mark.parametrize("backend", search_backends.BACKENDS)
def test_identity_numbers_are_neither_findable_nor_stored(
    backend: str, engine: sa.Engine, tmp_path: Path
) -> None:
    number = "44080219800101123X"
    with Session(engine) as session, session.begin():
        person = factories.add_subject(
            session,
            models.SubjectCategory.NATURAL_PERSON,
            **privacy.person_identity(number, factories.ID_KEY),
        )
        factories.add_penalty(
            session, on=ON, subject_id=person.id, violation_facts=f"当事人身份证号{number}"
        )
    searcher = search_backends.open_searcher(backend, engine, tmp_path / "index", ON)
    assert searcher.search("陈志强").total == 1
    for length in range(8, 19):
        for start in range(0, 19 - length):
            assert searcher.search(number[start : start + length]).total == 0
    stored = _stored(backend, engine, tmp_path / "index")
    if backend == "database":  # the rows were read (whoosh keeps its terms encoded)
        assert "陈志强" in stored
    assert "19800101" not in stored
    searcher.close()


def test_refilling_the_search_rows_writes_what_the_writers_wrote(engine: sa.Engine) -> None:
    _sample(engine)
    searcher = database.DatabaseSearcher(engine, on=ON)
    before = searcher.search("赤坎", limit=50)
    with Session(engine) as session, session.begin():
        count = search_rows.fill(session)
    assert count > 300
    after = searcher.search("赤坎", limit=50)
    assert (after.total, after.by_kind, _found(after)) == (
        before.total,
        before.by_kind,
        _found(before),
    )
    searcher.close()


def test_highlights_mark_the_words_in_the_text_as_shown() -> None:
    assert database.highlight("湛江市赤坎區鸿达食品有限公司", ["赤坎", "食品"]) == (
        '湛江市<b class="match term0">赤坎</b>區鸿达<b class="match term1">食品</b>有限公司'
    )
    assert (
        database.highlight("<名称>赤坎", ["赤坎"]) == '&lt;名称&gt;<b class="match term0">赤坎</b>'
    )
    assert database.highlight("无关", ["赤坎"]) == ""


def test_writers_keep_no_search_rows_until_they_are_filled(tmp_path: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'fresh.db'}")
    db.upgrade(engine)  # a database as `gongshi init` makes it: the whoosh index is the default
    with Session(engine) as session, session.begin():
        factories.add_penalty(session, on=ON)
    node = settings.Settings(database_url=str(engine.url), data_dir=tmp_path, search="database")
    with engine.connect() as connection:
        assert not search_rows.kept(connection)
        assert connection.execute(sa.text("SELECT count(*) FROM search_row")).scalar() == 0
    assert backends.open_backend(node, engine, on=ON) is None  # nothing to search yet
    with Session(engine) as session, session.begin():
        assert search_rows.fill(session) == 1
    with Session(engine) as session, session.begin():
        factories.add_license(session, on=ON)  # kept from now on, by the writer
    searcher = backends.open_backend(node, engine, on=ON)
    assert searcher is not None
    assert {hit.kind for hit in searcher.search("鸿达").hits} == {
        models.RecordKind.PENALTY,
        models.RecordKind.LICENSE,
    }
    searcher.close()
    engine.dispose()
