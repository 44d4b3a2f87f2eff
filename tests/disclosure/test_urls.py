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
        urls.absolute("https://credit.example.gov.cn/gs/", urls.department_path("11440802X"))
        == "https://credit.example.gov.cn/gs/departments/11440802X.html"
    )
