"""The GraphQL API under load (wrk, one uvicorn worker, 127.0.0.1), beside (a) a plain Starlette
JSON endpoint returning the same 20 penalties from the same database (the floor) and (b)
Datasette's JSON API over the same SQLite file, in the same run.

`GONGSHI_BENCH_DB=/path/gongshi.db` uses a copy of an existing sample database instead of
generating BENCH_RECORDS records (bench.data).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

from api import cursors
from bench import data, report, servers

RECORDS = int(os.environ.get("BENCH_RECORDS", "1000000"))
AS_OF = "2026-11-28"
SECONDS = int(os.environ.get("BENCH_API_SECONDS", "5"))
CONCURRENCY = (1, 8, 32)
OVERLOAD = 64
LIMIT = 48  # gongshi serve --limit-concurrency: c=32 is served, c=64 overloads

FIELDS = """id kind decisionDocNo decisionOn publishedOn remarks underObjection objectionOpenedOn
violationType violationFacts legalBasis categories content fineAmountWan confiscationAmountWan
suspendedRevokedLicense validUntilOn severity publicityEndOn url
subject { key category name creditCode maskedIdNumber legalRepName }
authority { creditCode name } sourceUnit { creditCode name }"""
PAGE = "query Page($after: String) { penalties(first: 20, after: $after) { edges { cursor node { %s } } pageInfo { hasNextPage endCursor } } }"  # noqa: E501
SUBJECT = "query Subject($code: String!) { subject(creditCode: $code) { name licenses { id content url } penalties { %s } listEntries { id reason url } } }"  # noqa: E501


def run(workdir: Path) -> list[report.Result]:
    database = data.sample_database(workdir, RECORDS)
    positions, codes = _samples(database)
    cold = [_body(PAGE % FIELDS, {"after": cursors.Cursor(*p).encode()}) for p in positions]
    warm = [_body(PAGE % FIELDS, {"after": None})]
    subjects = [_body(SUBJECT % FIELDS, {"code": code}) for code in codes]
    floor_paths = [f"/penalties?on={AS_OF}&before={day}" for day, _ in positions]
    datasette_paths = [
        f"/gongshi/penalty.json?_size=20&_sort_desc=decision_on&decision_on__lt={day}"
        "&publicity_end_on__gte=2026-11-28&_labels=on&_nocount=1&_nofacet=1&_nosuggest=1"
        for day, _ in positions
    ]
    # each cold point gets requests of its own: wrk starts its list over at every run, and a
    # request another point already sent would be answered from the response cache
    runs = {c: slice(k * DISTINCT, (k + 1) * DISTINCT) for k, c in enumerate(CONCURRENCY)}
    runs[OVERLOAD] = slice(len(CONCURRENCY) * DISTINCT, None)
    rows: list[str] = []
    results = []
    env = {**os.environ, "GONGSHI_DATA_DIR": str(workdir / "var")}
    env.pop("DATABASE_URL", None)
    gongshi = str(Path(sys.executable).with_name("gongshi"))
    port = servers.free_port()
    serve = [gongshi, "serve", "--port", str(port), "--limit-concurrency", str(LIMIT)]
    # one load generator is one client: lift its rate limit, this measures throughput
    serve += ["--rate-bucket", str(10**9), "--rate-leak", str(10**9)]
    with servers.server(serve, port, env) as pid:
        url = f"http://127.0.0.1:{port}"
        for label, bodies in (("cold page", cold), ("warm page", warm), ("subject", subjects)):
            for c in CONCURRENCY:
                sent = bodies if len(bodies) == 1 else bodies[runs[c]]
                rows.append(_row(f"gongshi {label}", c, _wrk(workdir, url, c, post=sent)))
        overload = _wrk(workdir, url, OVERLOAD, post=cold[runs[OVERLOAD]])
        rows.append(_row(f"gongshi cold page (limit {LIMIT})", OVERLOAD, overload))
        rss = servers.memory_mb(pid, "VmHWM")
    floor_port = servers.free_port()
    floor = [sys.executable, str(Path(__file__).with_name("api_floor.py")), str(database)]
    with servers.server([*floor, str(floor_port)], floor_port, env):
        for c in CONCURRENCY:
            rows.append(
                _row(
                    "(a) starlette floor",
                    c,
                    _wrk(
                        workdir,
                        f"http://127.0.0.1:{floor_port}",
                        c,
                        get=floor_paths[runs[c]],
                    ),
                )
            )
    datasette = shutil.which("datasette", path=str(Path(sys.executable).parent))
    if datasette is not None:
        ds_port = servers.free_port()
        command = [datasette, "serve", "--immutable", str(database), "-p", str(ds_port)]
        with servers.server(command, ds_port, env):
            for c in CONCURRENCY:
                rows.append(
                    _row(
                        "(b) datasette",
                        c,
                        _wrk(
                            workdir,
                            f"http://127.0.0.1:{ds_port}",
                            c,
                            get=datasette_paths[runs[c]],
                        ),
                    )
                )
    table = "\n".join(
        [
            "| server | scenario | c | req/s | p50 ms | p99 ms | non-2xx | timeouts |",
            "| --- | --- | --- | --- | --- | --- | --- | --- |",
            *rows,
        ]
    )
    print(table, f"\nserver peak RSS {rss:.0f} MB", flush=True)  # noqa: T201
    timing = report.Timing("gongshi serve", "gongshi serve + wrk", (float(SECONDS),), rss)
    results.append(
        report.Result(
            title=f"GraphQL API under load: {RECORDS:,} records, SQLite, one worker",
            ours=timing,
            peer=None,
            target=(
                "warm ≥ 50% of (a)'s req/s; cold ≥ 12.5% of (a) and ahead of (b); p99 < 25 ms at "
                "c=8; RSS < 300 MB; beyond the concurrency limit a fast 503"
            ),
            notes=table + f"\n\nServer peak RSS: {rss:.0f} MB. wrk -t1, {SECONDS} s per point.",
        )
    )
    return results


DISTINCT = 4000  # distinct requests for each cold point (more than 5 s of them)


def _samples(database: Path) -> tuple[list[tuple[dt.date, int]], list[str]]:
    """Keyset positions and credit codes of public penalties, for distinct requests: DISTINCT
    for each concurrency and for the overload."""
    connection = sqlite3.connect(database)
    try:
        public = (
            "publicity_end_on >= :on AND published_on <= :on"
            " AND (ended_on IS NULL OR ended_on > :on)"
        )
        positions = connection.execute(
            f"SELECT decision_on, id FROM penalty WHERE {public} ORDER BY random() LIMIT :n",
            {"on": AS_OF, "n": DISTINCT * (len(CONCURRENCY) + 1)},
        ).fetchall()
        codes = connection.execute(
            f"SELECT s.credit_code FROM penalty p JOIN subject s ON s.id = p.subject_id "
            f"WHERE s.credit_code IS NOT NULL AND {public.replace('publicity', 'p.publicity')} "
            "ORDER BY random() LIMIT :n",
            {"on": AS_OF, "n": DISTINCT * len(CONCURRENCY)},
        ).fetchall()
    finally:
        connection.close()
    return [(dt.date.fromisoformat(d), i) for d, i in positions], [c for (c,) in codes]


def _body(query: str, variables: dict[str, object]) -> str:
    return json.dumps({"query": query, "variables": variables}, ensure_ascii=False)


def _wrk(
    workdir: Path,
    url: str,
    connections: int,
    *,
    post: list[str] | None = None,
    get: list[str] | None = None,
) -> dict[str, float]:
    script = workdir / "load.lua"
    if post is not None:
        items = ",\n".join(f"[==[{body}]==]" for body in post)
        script.write_text(
            f"bodies = {{{items}}}\ni = 0\nrequest = function()\n  i = i + 1\n"
            '  return wrk.format("POST", "/graphql", {["Content-Type"] = "application/json"}, '
            "bodies[(i % #bodies) + 1])\nend\n",
            encoding="utf-8",
        )
    else:
        assert get is not None
        items = ",\n".join(f"[==[{path}]==]" for path in get)
        script.write_text(
            f"paths = {{{items}}}\ni = 0\nrequest = function()\n  i = i + 1\n"
            '  return wrk.format("GET", paths[(i % #paths) + 1])\nend\n',
            encoding="utf-8",
        )
    command = [
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{SECONDS}s",
        "--timeout",
        "2s",
        "--latency",
        "-s",
        str(script),
        url,
    ]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    print(" ".join(command[:-3]), connections, output.splitlines()[-2:], flush=True)  # noqa: T201
    if re.search(r"\n\s*0 requests in", output):
        # a row of zeros is not a measurement: the server stopped answering
        raise RuntimeError(f"no request completed at c={connections}:\n{output}")
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", output)[1]),  # type: ignore[index]
        "p50": _ms(re.search(r"50%\s+([\d.]+\w+)", output)[1]),  # type: ignore[index]
        "p99": _ms(re.search(r"99%\s+([\d.]+\w+)", output)[1]),  # type: ignore[index]
        "non2xx": float((re.search(r"Non-2xx or 3xx responses: (\d+)", output) or [0, 0])[1]),
        "timeouts": float((re.search(r"timeout (\d+)", output) or [0, 0])[1]),
    }


def _ms(text: str) -> float:
    value, unit = re.match(r"([\d.]+)(\w+)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def _row(label: str, connections: int, figures: dict[str, float]) -> str:
    server, _, scenario = label.partition(" ")
    return (
        f"| {server} | {scenario} | {connections} | {figures['rps']:,.0f} | {figures['p50']:.2f} "
        f"| {figures['p99']:.2f} | {figures['non2xx']:.0f} | {figures['timeouts']:.0f} |"
    )
