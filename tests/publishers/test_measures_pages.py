"""The site's 措施清单 page, and the measures a subject page shows as applying today."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from sqlmodel import Session

from disclosure import measures, models, urls
from tests import factories
from tests.publishers import site_helpers as helpers


def test_subject_page_shows_the_measures_that_apply_today_and_the_list_page_all(
    engine: sa.Engine, tmp_path: Path
) -> None:
    with Session(engine) as session:
        subject = factories.add_subject(session)
        named = factories.add_list(session, code="serious-illegal", measures=[])
        entry = factories.add_list_entry(
            session, subject_id=subject.id, list_id=named.id, published_on=helpers.ON
        )
        plain = factories.add_subject(session, name="湛江市赤坎区金海贸易有限公司")
        factories.add_license(session, subject_id=plain.id, published_on=helpers.ON)
        session.commit()
        assert entry.id is not None
        path, plain_path = urls.subject_path(subject), urls.subject_path(plain)
    built, _ = helpers.publish(engine, tmp_path / "out")
    page = (built.folder / path).read_text(encoding="utf-8")
    assert "适用的联合奖惩措施（5）" in page
    for code in ("CJ-01", "CJ-02", "CJ-03", "CJ-04", "CJ-05"):
        assert f"<td>{code}</td>" in page
    record = urls.record_path(models.RecordKind.LIST_ENTRY, entry.id)
    assert page.count(f'href="../{record}"') == 5 + 1  # each measure's trigger, and its row
    assert "适用的联合奖惩措施（0）" in (built.folder / plain_path).read_text(encoding="utf-8")
    listed = (built.folder / urls.MEASURES).read_text(encoding="utf-8")
    assert [m.code for m in measures.BUILT_IN.measures if f"<td>{m.code}</td>" in listed] == [
        m.code for m in measures.BUILT_IN.measures
    ]
    assert "连续3年无不良信用记录" in listed
