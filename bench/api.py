"""The GraphQL API under load (wrk, 127.0.0.1): `gongshi serve --workers N` with N the cores
(BENCH_API_WORKERS), beside (a) a plain Starlette JSON endpoint returning the same 20 penalties
from the same database in as many uvicorn workers (the floor) and (b) Datasette's JSON API over
the same SQLite file, in the same run. The node's memory is summed over all its processes.

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
import time
from pathlib import Path

from api import cursors
from bench import data, report, servers
from gongshi.serving import cores

RECORDS = int(os.environ.get("BENCH_RECORDS", "1000000"))
AS_OF = "2026-11-28"
SECONDS = int(os.environ.get("BENCH_API_SECONDS", "5"))
CONCURRENCY = (1, 8, 32)
OVERLOAD = 64
LIMIT = 48  # gongshi serve --limit-concurrency: c=32 is served, c=64 overloads
WORKERS = int(os.environ.get("BENCH_API_WORKERS", "0")) or cores()

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
    # a node as in production: its index, which its follower keeps current (as of today, as
    # serve is: the follower then has nothing to catch up on while it is measured); the index
    # folder beside GONGSHI_BENCH_DB is copied when there is one (a rebuild takes minutes)
    source = os.environ.get("GONGSHI_BENCH_DB")
    built = Path(source).with_name("index") if source else None
    if built is not None and built.is_dir():
        shutil.copytree(built, workdir / "var" / "index", symlinks=True)
    index = (
        [gongshi, "index"]
        if built is not None and built.is_dir()
        else [gongshi, "index", "--rebuild", "--processes", str(WORKERS)]
    )
    subprocess.run(index, env=env, check=True, cwd=workdir, capture_output=True)
    port = servers.free_port()
    serve = [gongshi, "serve", "--port", str(port), "--limit-concurrency", str(LIMIT)]
    serve += ["--workers", str(WORKERS)]
    # one load generator is one client: lift its rate limit, this measures throughput
    serve += ["--rate-bucket", str(10**9), "--rate-leak", str(10**9)]
    ours: dict[tuple[str, int], dict[str, float]] = {}
    floor: dict[int, dict[str, float]] = {}
    peer: dict[int, dict[str, float]] = {}
    with servers.server(serve, port, env) as pid:
        url = f"http://127.0.0.1:{port}"
        _wait_for_workers(pid)
        for label, bodies in (("cold page", cold), ("warm page", warm), ("subject", subjects)):
            for c in CONCURRENCY:
                sent = bodies if len(bodies) == 1 else bodies[runs[c]]
                ours[label, c] = _wrk(workdir, url, c, post=sent)
                rows.append(_row(f"gongshi {label}", c, ours[label, c]))
        overload = _wrk(workdir, url, OVERLOAD, post=cold[runs[OVERLOAD]])
        rows.append(_row(f"gongshi cold page (limit {LIMIT})", OVERLOAD, overload))
        processes = len(servers.tree(pid))
        rss = servers.tree_memory_mb(pid, "VmHWM")
        pss = servers.tree_pss_mb(pid)
    floor_port = servers.free_port()
    floor_command = [sys.executable, str(Path(__file__).with_name("api_floor.py")), str(database)]
    with servers.server([*floor_command, str(floor_port), str(WORKERS)], floor_port, env) as pid:
        _wait_for_workers(pid)
        floor_url = f"http://127.0.0.1:{floor_port}"
        for c in CONCURRENCY:
            floor[c] = _wrk(workdir, floor_url, c, get=floor_paths[runs[c]])
            rows.append(_row("(a) starlette floor", c, floor[c]))
    datasette = shutil.which("datasette", path=str(Path(sys.executable).parent))
    if datasette is not None:
        ds_port = servers.free_port()
        command = [datasette, "serve", "--immutable", str(database), "-p", str(ds_port)]
        with servers.server(command, ds_port, env):
            for c in CONCURRENCY:
                peer[c] = _wrk(
                    workdir, f"http://127.0.0.1:{ds_port}", c, get=datasette_paths[runs[c]]
                )
                rows.append(_row("(b) datasette", c, peer[c]))
    table = "\n".join(
        [
            "| server | scenario | c | req/s | p50 ms | p99 ms | non-2xx | timeouts |",
            "| --- | --- | --- | --- | --- | --- | --- | --- |",
            *rows,
        ]
    )
    memory = (
        f"Node memory, {processes} processes (with {WORKERS} workers, the supervisor and the "
        "index follower when there are several): "
        f"RSS {rss:.0f} MB summed over each process's peak (shared pages counted in every one), "
        f"PSS {pss:.0f} MB at the end (each page counted once)."
    )
    print(table, "\n" + memory, flush=True)  # noqa: T201
    standing = "\n".join(_standing(ours, floor, peer, rss))
    print(standing, flush=True)  # noqa: T201
    timing = report.Timing("gongshi serve", "gongshi serve + wrk", (float(SECONDS),), rss)
    results.append(
        report.Result(
            title=f"GraphQL API under load: {RECORDS:,} records, SQLite, {WORKERS} workers",
            ours=timing,
            peer=None,
            target=(
                "cold page ≥ 25% of (a)'s req/s at c=8 and 32; p99 ≤ 2 × p50 at c=8; warm ≥ 80% "
                "of (a); ahead of (b) at every c; node RSS (all processes) < 600 MB; beyond the "
                "concurrency limit a fast 503"
            ),
            notes=(
                f"{table}\n\n{standing}\n\n{memory} wrk -t1, {SECONDS} s per point; "
                f"(a) runs {WORKERS} uvicorn workers, (b) one process."
            ),
        )
    )
    return results


def _standing(
    ours: dict[tuple[str, int], dict[str, float]],
    floor: dict[int, dict[str, float]],
    peer: dict[int, dict[str, float]],
    rss: float,
) -> list[str]:
    """Each target beside what this run measured."""
    lines = []
    for c in (8, 32):
        share = ours["cold page", c]["rps"] / floor[c]["rps"]
        lines.append(f"- cold page at c={c}: {share:.0%} of (a) (target ≥ 25%)")
    cold8 = ours["cold page", 8]
    lines.append(f"- p99 / p50 at c=8: {cold8['p99'] / cold8['p50']:.2f} (target ≤ 2)")
    for c in CONCURRENCY:
        share = ours["warm page", c]["rps"] / floor[c]["rps"]
        lines.append(f"- warm page at c={c}: {share:.0%} of (a) (target ≥ 80%)")
    for c in peer:
        ratio = ours["cold page", c]["rps"] / peer[c]["rps"]
        lines.append(f"- cold page at c={c}: {ratio:.2f} × (b) (target > 1)")
    lines.append(f"- node RSS: {rss:.0f} MB (target < 600 MB)")
    return lines


def _wait_for_workers(pid: int, timeout: float = 120) -> None:
    """Wait until the server's workers have started (the port answers as soon as one has)."""
    deadline = time.monotonic() + timeout
    while WORKERS > 1 and len(servers.tree(pid)) < WORKERS + 1:
        if time.monotonic() > deadline:
            raise RuntimeError(f"the server {pid} did not start its {WORKERS} workers")
        time.sleep(0.2)
    time.sleep(2.0 if WORKERS > 1 else 0)  # the last to fork is still building its application


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
