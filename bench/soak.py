"""A soak: BENCH_SOAK_SECONDS (default 600) of mixed public traffic against one `gongshi serve`
node over BENCH_SOAK_RECORDS (default 1,000,000) records in SQLite, with its search index
following the change log, while a department publishes penalties and withdraws some of them
through the API.

The public traffic comes from BENCH_SOAK_CLIENTS threads of this process, each asking as fast as
it is answered: subject lookups, list pages at random keyset positions, searches and the change
stream. The report gives throughput, p50/p99 per kind of request, errors (the target is none) and
the server's memory at the start and the end.

`GONGSHI_BENCH_SOAK_DATA=/path/var` copies a prepared data folder (database and search index)
instead of generating one: a 1,000,000-record index takes long to build.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import httpx
from stdnum.cn import uscc

from api import cursors
from bench import report, servers

RECORDS = int(os.environ.get("BENCH_SOAK_RECORDS", "1000000"))
SECONDS = float(os.environ.get("BENCH_SOAK_SECONDS", "600"))
CLIENTS = int(os.environ.get("BENCH_SOAK_CLIENTS", "8"))
WRITE_EVERY = 2.0  # seconds between two batches of the department
BATCH = 5  # penalties per batch; two of each batch are withdrawn in the next
FOLLOW = 2.0  # the node's follow interval
AS_OF = "2026-11-28"

PAGE = """query Page($after: String) { penalties(first: 20, after: $after) {
  edges { cursor node { id decisionDocNo decisionOn content fineAmountWan url
    subject { name creditCode } authority { name } } }
  pageInfo { hasNextPage endCursor } } }"""
SUBJECT = """query Subject($code: String!) { subject(creditCode: $code) { name
  licenses { id url } penalties { id decisionDocNo content url } listEntries { id url } } }"""
SEARCH = """query Search($q: String!) { search(query: $q, first: 20) {
  edges { node { score record { ... on Penalty { id decisionDocNo }
    ... on License { id decisionDocNo } ... on ListEntry { id decisionDocNo } } } } } }"""
CHANGES = """query Changes($after: String) { changes(after: $after, first: 100) {
  changes { type kind recordId } endCursor hasMore } }"""
SUBMIT = """mutation Submit($columns: [String!]!, $rows: [[String!]!]!) {
  submitPenalties(columns: $columns, rows: $rows) {
    __typename ... on SubmitReport { accepted rejected rows { id rule reason } } } }"""
WITHDRAW = """mutation Withdraw($id: ID!) { withdrawRecord(id: $id, reason: "复议决定撤销原处罚") {
  __typename } }"""
COLUMNS = [
    "subject_name",
    "subject_category",
    "subject_uscc",
    "legal_rep_name",
    "decision_doc_no",
    "violation_type",
    "violation_facts",
    "legal_basis",
    "penalty_category",
    "penalty_content",
    "fine_amount_wan",
    "decision_date",
    "penalty_valid_until",
    "authority_name",
    "authority_uscc",
    "source_unit",
    "source_unit_uscc",
]


@dataclasses.dataclass
class _Log:
    """What the clients saw, by kind of request."""

    lock: threading.Lock = dataclasses.field(default_factory=threading.Lock)
    seconds: dict[str, list[float]] = dataclasses.field(default_factory=lambda: defaultdict(list))
    errors: dict[str, int] = dataclasses.field(default_factory=lambda: defaultdict(int))
    examples: list[str] = dataclasses.field(default_factory=list)

    def ask(self, client: httpx.Client, kind: str, query: str, variables: dict[str, Any]) -> Any:
        start = time.perf_counter()
        try:
            response = client.post("/graphql", json={"query": query, "variables": variables})
            answer = response.json() if response.status_code == 200 else None
            problem = (
                f"HTTP {response.status_code}"
                if answer is None
                else str(answer["errors"])[:200]
                if answer.get("errors")
                else None
            )
        except (httpx.HTTPError, ValueError) as error:
            answer, problem = None, f"{type(error).__name__}: {error}"[:200]
        elapsed = time.perf_counter() - start
        with self.lock:
            self.seconds[kind].append(elapsed)
            if problem is not None:
                self.errors[kind] += 1
                if len(self.examples) < 10:
                    self.examples.append(f"{kind}: {problem}")
        return answer.get("data") if problem is None and answer is not None else None


def run(workdir: Path) -> list[report.Result]:
    data = workdir / "var"
    _prepare(workdir, data)
    samples = _Samples(data / "gongshi.db")
    env = {**os.environ, "GONGSHI_DATA_DIR": str(data)}
    env.pop("DATABASE_URL", None)
    gongshi = str(Path(sys.executable).with_name("gongshi"))
    secret = _token(gongshi, env, samples.unit[0], workdir)
    port = servers.free_port()
    serve = [gongshi, "serve", "--workers", "1", "--port", str(port), "--follow", str(FOLLOW)]
    # the clients here stand for many agencies: one address must not share one rate budget
    serve += ["--rate-bucket", str(10**9), "--rate-leak", str(10**9)]
    log = _Log()
    memory: list[tuple[float, float, float]] = []  # (seconds in, RSS, its anonymous part)
    with servers.server(serve, port, env) as pid:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + SECONDS
        threads = [
            threading.Thread(target=_reader, args=(url, samples, log, deadline, seed))
            for seed in range(CLIENTS)
        ]
        threads.append(threading.Thread(target=_writer, args=(url, secret, samples, log, deadline)))
        started = time.monotonic()
        for thread in threads:
            thread.start()
        while time.monotonic() < deadline:
            memory.append((time.monotonic() - started, *_memory(pid)))
            time.sleep(min(5.0, max(0.0, deadline - time.monotonic())))
        for thread in threads:
            thread.join()
        elapsed = time.monotonic() - started
        memory.append((elapsed, *_memory(pid)))
        peak = servers.memory_mb(pid, "VmHWM")
    return [_result(log, memory, peak, elapsed)]


def _memory(pid: int) -> tuple[float, float]:
    """The server's resident memory, and the part of it that is its own heap (the rest maps
    files: the search index and the database, which the kernel can drop)."""
    return servers.memory_mb(pid), servers.memory_mb(pid, "RssAnon")


def _each_minute(memory: list[tuple[float, float, float]]) -> str:
    """The heap at the start and at each full minute since: the last sample taken by then (or
    within half a second after: the final sample comes just after the last minute ends)."""
    heaps = []
    for minute in range(int(memory[-1][0] // 60) + 1):
        at_or_before = [heap for at, _, heap in memory if at <= minute * 60 + 0.5]
        heaps.append(f"{(at_or_before or [memory[0][2]])[-1]:.0f}")
    return ", ".join(heaps)


def _result(
    log: _Log, memory: list[tuple[float, float, float]], peak: float, elapsed: float
) -> report.Result:
    rows = [
        "| request | count | per s | p50 ms | p99 ms | errors |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    every: list[float] = []
    for kind in ("subject", "page", "search", "changes", "submit", "withdraw"):
        seconds = sorted(log.seconds.get(kind, []))
        every += seconds
        if seconds:
            rows.append(
                f"| {kind} | {len(seconds):,} | {len(seconds) / elapsed:,.1f} "
                f"| {statistics.median(seconds) * 1000:.1f} | {_p99(seconds) * 1000:.1f} "
                f"| {log.errors.get(kind, 0)} |"
            )
    errors = sum(log.errors.values())
    every.sort()
    (_, start_mb, start_heap), (_, end_mb, end_heap) = memory[0], memory[-1]
    warm = [(mb, heap) for at, mb, heap in memory if at >= min(60.0, elapsed / 4)] or [
        (end_mb, end_heap)
    ]
    notes = "\n".join(
        [
            *rows,
            "",
            f"All requests: {len(every):,} in {elapsed:.0f} s ({len(every) / elapsed:,.1f}/s), "
            f"p50 {statistics.median(every) * 1000:.1f} ms, p99 {_p99(every) * 1000:.1f} ms, "
            f"errors {errors}.",
            f"Server memory (RSS): {start_mb:.0f} MB at the start, "
            f"{min(mb for mb, _ in warm):.0f}–{max(mb for mb, _ in warm):.0f} MB after warming "
            f"up, {end_mb:.0f} MB at the end; peak {peak:.0f} MB. Of it the heap (RssAnon; the "
            f"rest maps the index and database files): {start_heap:.0f} MB at the start, "
            f"{min(h for _, h in warm):.0f}–{max(h for _, h in warm):.0f} MB after warming up, "
            f"{end_heap:.0f} MB at the end.",
            f"Heap each minute: {_each_minute(memory)} MB.",
            f"{CLIENTS} client threads asking as fast as answered; a department submitting "
            f"{BATCH} penalties every {WRITE_EVERY:.0f} s and withdrawing two of each batch; "
            f"the node follows the change log every {FOLLOW:.0f} s.",
            *(["", "First errors:", *(f"- {example}" for example in log.examples)] * bool(errors)),
        ]
    )
    print(notes, flush=True)  # noqa: T201
    return report.Result(
        title=f"Soak: {elapsed / 60:.0f} minutes of mixed traffic on {RECORDS:,} records",
        ours=report.Timing(
            "gongshi serve, mixed traffic with writes",
            "python -m bench soak",
            (elapsed,),
            peak,
            units=len(every),
            unit="requests",
        ),
        peer=None,
        target="0 errors; memory flat from start to end",
        notes=notes,
    )


def _p99(ordered: list[float]) -> float:
    return ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]


class _Samples:
    """Inputs for the requests, read from the database before the run."""

    def __init__(self, database: Path) -> None:
        connection = sqlite3.connect(database)
        public = (
            "p.publicity_end_on >= :on AND p.published_on <= :on "
            "AND (p.ended_on IS NULL OR p.ended_on > :on)"
        )
        try:
            rows = connection.execute(
                "SELECT p.decision_on, p.id, s.credit_code, s.name FROM penalty p "
                f"JOIN subject s ON s.id = p.subject_id WHERE {public} "
                "ORDER BY random() LIMIT 5000",
                {"on": AS_OF},
            ).fetchall()
            self.unit: tuple[str, str] = connection.execute(
                "SELECT d.credit_code, d.name FROM penalty p JOIN department d "
                "ON d.id = p.source_unit_id GROUP BY d.id ORDER BY count(*) DESC LIMIT 1"
            ).fetchone()
        finally:
            connection.close()
        self.cursors = [
            cursors.Cursor(dt.date.fromisoformat(day), record_id).encode()
            for day, record_id, _code, _name in rows
        ]
        self.codes = [code for _day, _id, code, _name in rows if code]
        # what people type: 2 or 4 characters of the distinctive part of a name (past the
        # city and district every company name starts with)
        self.words = [
            name[start : start + size] if len(name) >= start + size else name
            for _day, _id, _code, name in rows
            for start in [6 if name.startswith("湛江市赤坎区") else 3]
            for size in (2, 4)
        ]


def _reader(url: str, samples: _Samples, log: _Log, deadline: float, seed: int) -> None:
    rng = random.Random(seed)
    after: str | None = None
    with httpx.Client(base_url=url, timeout=30) as client:
        while time.monotonic() < deadline:
            pick = rng.random()
            if pick < 0.3:
                log.ask(client, "subject", SUBJECT, {"code": rng.choice(samples.codes)})
            elif pick < 0.6:
                log.ask(client, "page", PAGE, {"after": rng.choice(samples.cursors)})
            elif pick < 0.8:
                log.ask(client, "search", SEARCH, {"q": rng.choice(samples.words)})
            else:
                page = log.ask(client, "changes", CHANGES, {"after": after})
                if page is not None:  # an agency following the log from its start
                    after = page["changes"]["endCursor"] or after


def _writer(url: str, secret: str, samples: _Samples, log: _Log, deadline: float) -> None:
    code, name = samples.unit
    day = (dt.date.today() - dt.timedelta(days=1)).strftime("%Y/%m/%d")
    pending: list[str] = []
    number = 0
    headers = {"authorization": f"Bearer {secret}"}
    with httpx.Client(base_url=url, timeout=30, headers=headers) as client:
        while time.monotonic() < deadline:
            rows = []
            for _ in range(BATCH):
                number += 1
                rows.append(_penalty_row(number, day, code, name))
            answer = log.ask(client, "submit", SUBMIT, {"columns": COLUMNS, "rows": rows})
            for withdrawn in pending[:2]:
                log.ask(client, "withdraw", WITHDRAW, {"id": withdrawn})
            pending = []
            if answer is not None:
                pending = [row["id"] for row in answer["submitPenalties"]["rows"] if row["id"]]
            time.sleep(max(0.0, min(WRITE_EVERY, deadline - time.monotonic())))


def _penalty_row(number: int, day: str, unit_code: str, unit_name: str) -> list[str]:
    first17 = f"9144080{number:010d}"
    cells = {
        "subject_name": f"湛江市赤坎区压测{number}号商贸有限公司",
        "subject_category": "法人及非法人组织",
        "subject_uscc": first17 + uscc.calc_check_digit(first17),
        "legal_rep_name": "李伟",
        "decision_doc_no": f"赤压测罚〔2026〕{number}号",
        "violation_type": "销售不符合食品安全标准的食品",
        "violation_facts": "抽检发现当事人销售的散装花生油酸价超标",
        "legal_basis": "《中华人民共和国食品安全法》第一百二十四条第一款",
        "penalty_category": "罚款",
        "penalty_content": "罚款2000元",
        "fine_amount_wan": "0.2",
        "decision_date": day,
        "penalty_valid_until": "2099/12/31",
        "authority_name": unit_name,
        "authority_uscc": unit_code,
        "source_unit": unit_name,
        "source_unit_uscc": unit_code,
    }
    return [cells[column] for column in COLUMNS]


def _token(gongshi: str, env: dict[str, str], unit: str, workdir: Path) -> str:
    created = subprocess.run(
        [gongshi, "token", "create", "--unit", unit, "--role", "department"],
        env=env,
        cwd=workdir,
        check=True,
        capture_output=True,
        text=True,
    )
    return created.stdout.strip().splitlines()[-1]


def _prepare(workdir: Path, data: Path) -> None:
    prepared = os.environ.get("GONGSHI_BENCH_SOAK_DATA")
    if prepared:
        shutil.copytree(prepared, data)
        return
    gongshi = str(Path(sys.executable).with_name("gongshi"))
    env = {**os.environ, "GONGSHI_DATA_DIR": str(data)}
    env.pop("DATABASE_URL", None)
    for step in (
        ["init"],
        ["sample", "--records", str(RECORDS), "--seed", "1", "--as-of", AS_OF],
        ["index", "--rebuild", "--as-of", AS_OF],
    ):
        subprocess.run([gongshi, *step], env=env, check=True, cwd=workdir, capture_output=True)
