"""The floor for bench.api: a plain Starlette endpoint returning the same 20 penalties as JSON,
read with sqlite3 from the same database, no GraphQL, no projection, no cache.

`python bench/api_floor.py DATABASE PORT [WORKERS]`: with WORKERS > 1, uvicorn's own worker
processes, each importing this module again (the database named by BENCH_FLOOR_DB).
"""

import os
import sqlite3
import sys

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

if __name__ == "__main__":
    os.environ["BENCH_FLOOR_DB"] = sys.argv[1]  # for the worker processes
connection = sqlite3.connect(os.environ["BENCH_FLOOR_DB"], check_same_thread=False)
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

if __name__ == "__main__":
    workers = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    options = {"host": "127.0.0.1", "port": int(sys.argv[2]), "log_level": "warning"}
    if workers > 1:
        uvicorn.run("api_floor:app", workers=workers, access_log=False, **options)  # type: ignore[arg-type]
    else:
        uvicorn.run(app, access_log=False, **options)  # type: ignore[arg-type]
