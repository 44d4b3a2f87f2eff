"""The floor for bench.api: a plain Starlette endpoint returning the same 20 penalties as JSON,
read with sqlite3 from the same database, no GraphQL, no projection, no cache."""

import sqlite3
import sys

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

connection = sqlite3.connect(sys.argv[1], check_same_thread=False)
connection.row_factory = sqlite3.Row
PAGE = """
SELECT p.id, p.decision_doc_no, p.decision_on, p.published_on, p.remarks, p.violation_type,
  p.violation_facts, p.legal_basis, p.categories, p.content, p.fine_amount_wan,
  p.confiscation_amount_wan, p.suspended_revoked_license, p.valid_until_on, p.severity,
  p.publicity_end_on, p.objection_opened_on, s.name AS subject_name, s.credit_code,
  a.name AS authority_name, a.credit_code AS authority_code
FROM penalty p JOIN subject s ON s.id = p.subject_id JOIN department a ON a.id = p.authority_id
WHERE p.published_on <= ? AND (p.ended_on IS NULL OR p.ended_on > ?)
  AND p.publicity_end_on IS NOT NULL AND p.publicity_end_on >= ? AND p.decision_on < ?
ORDER BY p.decision_on DESC, p.id DESC LIMIT 20
"""


async def penalties(request: Request) -> JSONResponse:
    on = request.query_params.get("on", "2026-11-28")
    before = request.query_params.get("before", "2099-01-01")
    rows = connection.execute(PAGE, (on, on, on, before)).fetchall()
    return JSONResponse({"penalties": [dict(row) for row in rows]})


app = Starlette(routes=[Route("/penalties", penalties)])
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), log_level="warning", access_log=False)
