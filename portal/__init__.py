"""Web pages for people who act: departments' clerks, the bureau, and the public's applications."""
