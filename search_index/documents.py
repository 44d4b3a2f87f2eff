"""The whoosh index's fields; the document of a record is `disclosure.search_document`'s."""

from __future__ import annotations

from whoosh import fields

from disclosure.search_document import document, key
from search_index import analysis

__all__ = ["FORMAT", "document", "key", "schema"]

# The layout of the documents below: an index built with another cannot be searched (rebuild it).
FORMAT = 2


def schema() -> fields.Schema:
    """The fields of every shard (one shard per record kind)."""
    text = analysis.analyzer()
    return fields.Schema(
        key=fields.ID(stored=True, unique=True),  # "<kind>:<id>"
        record_id=fields.NUMERIC(stored=True, bits=64),
        # name and decision texts in one field: a query word is one posting list to intersect,
        # not a union of one per field (whoosh skips through unions slowly)
        text=fields.TEXT(analyzer=text),
        name=fields.TEXT(analyzer=text, stored=True),  # 行政相对人名称: ranks name matches first
        credit_code=fields.ID(stored=True),  # exact; upper case
        doc_no=fields.ID(stored=True),  # 决定书文号, exact
        body=fields.STORED(),  # decision texts, for snippets
        authority=fields.TEXT(analyzer=text),  # 机关 and department names
        department=fields.ID(stored=True),  # source unit credit code: filter and facet
        category=fields.KEYWORD(commas=True, lowercase=False),
        list_code=fields.ID(),
        decided=fields.NUMERIC(stored=True, sortable=True),  # YYYYMMDD, for date order
    )
