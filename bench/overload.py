"""The API node past its capacity: `gongshi serve` on 127.0.0.1 over a sample database, first
loaded closed-loop to find the rate it sustains, then driven open-loop at 4× that rate from a
second process for BENCH_OVERLOAD_SECONDS (≤ 60). It must stay up and answer every request
with 200, 429 (a client over its budget) or 503 (over the in-flight limit), nothing else, with
its memory flat, and answer /healthz afterwards.

Half the traffic comes from one greedy client, the rest from many; all through X-Forwarded-For
from 127.0.0.1, which the node is told to trust.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

from api import cursors
from bench import api as api_bench
from bench import data, report, servers

SECONDS = min(60, int(os.environ.get("BENCH_OVERLOAD_SECONDS", "30")))
PROBE_SECONDS = int(os.environ.get("BENCH_OVERLOAD_PROBE_SECONDS", "5"))
PROBE_CONCURRENCY = 8
FACTOR = 4
IN_FLIGHT = 32
CLIENTS = 32
GREEDY = "198.51.100.250"


def run(workdir: Path) -> list[report.Result]:
    database = data.sample_database(workdir, api_bench.RECORDS)
    positions, _ = api_bench._samples(database)
    bodies = workdir / "bodies.json"
    bodies.write_text(
        json.dumps(
            [
                api_bench._body(
                    api_bench.PAGE % api_bench.FIELDS, {"after": cursors.Cursor(*p).encode()}
                )
                for p in positions
            ]
        ),
        encoding="utf-8",
    )
    env = {**os.environ, "GONGSHI_DATA_DIR": str(workdir / "var")}
    env.pop("DATABASE_URL", None)
    gongshi = str(Path(sys.executable).with_name("gongshi"))
    port = servers.free_port()
    serve = [
        gongshi,
        "serve",
        "--workers",
        "1",
        "--port",
        str(port),
        "--limit-concurrency",
        str(IN_FLIGHT),
        "--trusted-proxy",
        "127.0.0.1",
        "--no-access-log",
    ]
    url = f"http://127.0.0.1:{port}"
    with servers.server(serve, port, env) as pid:
        probe = _drive(url, bodies, "closed", PROBE_CONCURRENCY, PROBE_SECONDS)
        sustainable = probe["statuses"].get("200", 0) / PROBE_SECONDS
        rss_start = servers.memory_mb(pid)
        rate = max(1.0, FACTOR * sustainable)
        load = _drive(url, bodies, "open", rate, SECONDS)
        rss_end = servers.memory_mb(pid)
        healthz = httpx.get(f"{url}/healthz", timeout=5).status_code
    statuses = Counter(load["statuses"])
    other = sum(count for status, count in statuses.items() if status not in {"200", "429", "503"})
    table = "\n".join(
        [
            "| phase | rate req/s | 200 | 429 | 503 | other | p50 ms (200) | p99 ms (200) |",
            "| --- | --- | --- | --- | --- | --- | --- | --- |",
            _row(
                f"closed loop, c={PROBE_CONCURRENCY}",
                sustainable,
                Counter(probe["statuses"]),
                probe,
            ),
            _row(f"open loop, {FACTOR}× for {SECONDS} s", rate, statuses, load),
        ]
    )
    notes = (
        f"{table}\n\nServer RSS {rss_start:.0f} MB after the closed loop, {rss_end:.0f} MB at the "
        f"end; /healthz afterwards: {healthz}. Other statuses: {other} "
        f"({dict(statuses)}). In-flight limit {IN_FLIGHT}, default rate limit, {CLIENTS} clients "
        "(one sending half the requests)."
    )
    print(notes, flush=True)  # noqa: T201
    if other or healthz != 200:
        raise RuntimeError(f"the node failed under overload: {notes}")
    return [
        report.Result(
            title=f"The API at {FACTOR}× its sustainable rate: {api_bench.RECORDS:,} records",
            ours=report.Timing(
                "gongshi serve", "gongshi serve + open-loop client", (float(SECONDS),), rss_end
            ),
            peer=None,
            target="only 200, 429 and 503 (other = 0); memory flat; /healthz answers afterwards",
            notes=notes,
        )
    ]


def _row(label: str, rate: float, statuses: Counter[str], figures: dict[str, Any]) -> str:
    other = sum(count for status, count in statuses.items() if status not in {"200", "429", "503"})
    return (
        f"| {label} | {rate:,.0f} | {statuses['200']} | {statuses['429']} | {statuses['503']} "
        f"| {other} | {figures['p50']:.1f} | {figures['p99']:.1f} |"
    )


def _drive(url: str, bodies: Path, mode: str, amount: float, seconds: int) -> dict[str, Any]:
    """Run the load from a second process; its figures."""
    command = [
        sys.executable,
        "-m",
        "bench.overload",
        mode,
        url,
        str(bodies),
        str(amount),
        str(seconds),
    ]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    figures: dict[str, Any] = json.loads(output.splitlines()[-1])
    return figures


class _Connections:
    """Keep-alive HTTP/1.1 connections to the node, opened as the load needs them: a small
    client of its own, so the load generator costs far less CPU than the server it loads."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    async def post(self, path: str, body: bytes, headers: dict[str, str]) -> int:
        """POST `body`; the response's status (its body is read and dropped)."""
        reused = bool(self.idle)
        reader, writer = (
            self.idle.pop() if reused else await asyncio.open_connection(self.host, self.port)
        )
        lines = [f"POST {path} HTTP/1.1", f"host: {self.host}", f"content-length: {len(body)}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        try:
            writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError) as error:
            writer.close()
            if reused and not getattr(error, "partial", b""):
                # the node closed this connection while it was idle (its keep-alive timeout):
                # nothing was answered, so send it again on another, as HTTP clients do
                return await self.post(path, body, headers)
            raise
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        length = 0
        keep = True
        for line in header_lines:
            name, _, value = line.partition(":")
            if name.lower() == "content-length":
                length = int(value)
            elif name.lower() == "connection" and value.strip().lower() == "close":
                keep = False
        await reader.readexactly(length)
        if keep:
            self.idle.append((reader, writer))
        else:
            writer.close()
        return int(status_line.split()[1])

    def close(self) -> None:
        for _, writer in self.idle:
            writer.close()


async def _load(
    url: str, bodies: list[str], mode: str, amount: float, seconds: int
) -> dict[str, Any]:
    """Closed loop: `amount` workers, each sending when answered. Open loop: `amount` requests a
    second on a fixed schedule, whether or not earlier ones were answered (latency counts from
    the scheduled time)."""
    statuses: Counter[str] = Counter()
    latencies: list[float] = []
    address = httpx.URL(url)
    connections = _Connections(address.host, address.port or 80)
    encoded = [body.encode() for body in bodies]

    async def one(number: int, scheduled: float) -> None:
        client_ip = GREEDY if number % 2 == 0 else f"198.51.100.{number // 2 % CLIENTS}"
        headers = {"content-type": "application/json", "x-forwarded-for": client_ip}
        try:
            status = await asyncio.wait_for(
                connections.post("/graphql", encoded[number % len(encoded)], headers), 10
            )
        except (OSError, asyncio.IncompleteReadError, TimeoutError) as error:
            statuses[type(error).__name__] += 1
            return
        statuses[str(status)] += 1
        if status == 200:
            latencies.append(time.perf_counter() - scheduled)

    start = time.perf_counter()
    end = start + seconds
    if mode == "closed":

        async def worker(offset: int) -> None:
            number = offset
            while time.perf_counter() < end:
                await one(number, time.perf_counter())
                number += int(amount)

        await asyncio.gather(*(worker(offset) for offset in range(int(amount))))
    else:
        tasks = []
        number = 0
        while (scheduled := start + number / amount) < end:
            delay = scheduled - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(number, scheduled)))
            number += 1
        await asyncio.gather(*tasks)
    connections.close()
    ordered = sorted(latencies) or [0.0]
    return {
        "statuses": dict(statuses),
        "p50": statistics.median(ordered) * 1000,
        "p99": ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))] * 1000,
    }


if __name__ == "__main__":
    _mode, _url, _bodies, _amount, _seconds = sys.argv[1:6]
    _figures = asyncio.run(
        _load(
            _url,
            json.loads(Path(_bodies).read_text(encoding="utf-8")),
            _mode,
            float(_amount),
            int(_seconds),
        )
    )
    print(json.dumps(_figures), flush=True)  # noqa: T201
