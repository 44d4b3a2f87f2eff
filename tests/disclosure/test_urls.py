from sqlmodel import Session

from disclosure import models, urls
from tests import factories


def test_paths_follow_the_release_layout(session: Session) -> None:
    company = factories.add_subject(session)
    person = factories.add_subject(session, models.SubjectCategory.NATURAL_PERSON)
    assert urls.record_path(models.RecordKind.PENALTY, 42) == "records/penalties/42.html"
    assert urls.subject_path(company) == f"subjects/{company.credit_code}.html"
    assert urls.subject_path(person) == f"subjects/P{person.id}.html"
    assert urls.kind_path(models.RecordKind.LICENSE, 3) == "licenses/3.html"
    assert urls.list_path("serious-illegal") == "lists/serious-illegal.html"
    assert (
        urls.Urls("https://credit.example.gov.cn/gs/")(urls.department_path("11440802X"))
        == "https://credit.example.gov.cn/gs/departments/11440802X.html"
    )


def test_urls_carries_the_base_so_no_caller_joins_it() -> None:
    with_slash = urls.Urls("https://credit.example.gov.cn/chikan/")
    assert urls.Urls("https://credit.example.gov.cn/chikan") == with_slash
    kind = models.RecordKind.PENALTY
    assert with_slash.record(kind, 7) == (
        "https://credit.example.gov.cn/chikan/records/penalties/7.html"
    )
    assert with_slash.subject("P3f2a") == (
        "https://credit.example.gov.cn/chikan/subjects/P3f2a.html"
    )
    assert (
        with_slash.feed("exits", "atom") == "https://credit.example.gov.cn/chikan/feeds/exits.atom"
    )
    assert with_slash.report("P3f2a") == "https://credit.example.gov.cn/chikan/reports/P3f2a.pdf"
    assert with_slash.verify("AB12") == "https://credit.example.gov.cn/chikan/reports/verify/AB12"
    assert with_slash.portal() == "https://credit.example.gov.cn/chikan/portal/"
    assert with_slash(urls.API) == "https://credit.example.gov.cn/chikan/graphql"
    assert with_slash.path == "/chikan/" and urls.Urls("https://x.example").path == "/"
    # a base with a query is joined by the standard rules, not appended to
    assert urls.Urls("https://x.example/?a=1")(urls.HOME) == "https://x.example/index.html"
