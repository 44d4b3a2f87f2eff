"""Read queries over the records, by who asks; every public one goes through
`lifecycle.public_clause`.

- `record_pages`: the API's lists and pages of records, one record, a subject's records.
- `publication`: what the static site and the feeds publish.
- `plain_rows`: records as plain rows for the bulk export and the search index, and by id.
- `figures`: counts and statistics for the supervising bureau and the operators.
- `change_log`: the events, their watermark, and what a span of them changed.
"""
