"""Measuring and writing BENCHMARKS.md."""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any


@dataclasses.dataclass(frozen=True)
class Timing:
    """One measured command: wall times of its repeats and its peak memory."""

    label: str
    command: str
    seconds: tuple[float, ...]
    peak_mb: float
    units: int = 0  # records, rows, pages … processed per run, for a rate
    unit: str = ""
    latency: bool = False  # `seconds` are single operations: show p50/p99 in ms, no rate

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    @property
    def p99(self) -> float:
        ordered = sorted(self.seconds)
        return ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]

    @property
    def rate(self) -> str:
        if self.latency:
            return f"{len(self.seconds) / sum(self.seconds):,.0f} {self.unit}/s one at a time"
        return f"{self.units / self.median:,.0f} {self.unit}/s" if self.units else ""


@dataclasses.dataclass(frozen=True)
class Result:
    """A benchmark: gongshi's timing, the peer's, and what the target is."""

    title: str
    ours: Timing
    peer: Timing | None
    target: str
    notes: str = ""


def measure(
    label: str,
    argv: Sequence[str],
    *,
    cwd: Path,
    env: dict[str, str] | None = None,
    repeat: int = 1,
    units: int = 0,
    unit: str = "",
    setup: Sequence[Sequence[str]] = (),
) -> Timing:
    """Run `argv` `repeat` times (after `setup` commands each time), timing it and reading its
    peak resident memory from the kernel."""
    seconds = []
    peak = 0.0
    for _ in range(repeat):
        for step in setup:
            subprocess.run(step, cwd=cwd, env=env, check=True, capture_output=True)
        start = time.perf_counter()
        # a fresh launcher per run, so ru_maxrss of its children is this command's alone
        completed = subprocess.run(
            [sys.executable, "-c", _LAUNCHER, *argv],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
        )
        elapsed = time.perf_counter() - start
        if completed.returncode != 0:
            raise RuntimeError(f"{label} failed: {completed.stderr[-2000:]}")
        seconds.append(elapsed)
        peak = max(peak, int(completed.stdout.strip().splitlines()[-1]) / 1024)
    shown = shlex.join([Path(argv[0]).name, *(_relative(arg, cwd) for arg in argv[1:])])
    return Timing(label, shown, tuple(seconds), peak, units, unit)


_LAUNCHER = """
import resource, subprocess, sys
completed = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
sys.exit(completed.returncode)
"""


def _relative(argument: str, cwd: Path) -> str:
    """Paths inside the project or the benchmark's folder shown relative to it, so
    BENCHMARKS.md names no machine paths."""
    path = Path(argument)
    for base in (Path(__file__).resolve().parent.parent, cwd):
        if path.is_absolute() and path.is_relative_to(base):
            return str(path.relative_to(base))
    return argument


def machine() -> str:
    """A line describing this machine."""
    cpus = os.cpu_count()
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{platform.machine()}, {cpus} cores, {memory:.0f} GiB, {platform.system()} "
        f"{platform.release()}, Python {sys.version.split()[0]}"
    )


def _row(timing: Timing) -> str:
    if timing.latency:
        cells = (
            timing.label,
            f"`{timing.command}`",
            f"p50 {timing.median * 1000:.1f} ms, p99 {timing.p99 * 1000:.1f} ms "
            f"(n={len(timing.seconds)})",
            timing.rate,
            f"{timing.peak_mb:.0f}",
        )
        return "| " + " | ".join(cells) + " |"
    seconds = (
        f"{timing.median:.2f}"
        if len(timing.seconds) == 1
        else (f"{timing.median:.2f} (p99 {timing.p99:.2f}, n={len(timing.seconds)})")
    )
    cells = (timing.label, f"`{timing.command}`", seconds, timing.rate, f"{timing.peak_mb:.0f}")
    return "| " + " | ".join(cells) + " |"


def save(path: Path, results: Sequence[Result], sizes: dict[str, str]) -> None:
    """Keep one benchmark's results, with when and where they were measured."""
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "measured": time.strftime("%Y-%m-%d %H:%M %Z"),
        "machine": machine(),
        "sizes": sizes,
        "results": [dataclasses.asdict(result) for result in results],
    }
    path.write_text(json.dumps(payload, ensure_ascii=False, indent=1), encoding="utf-8")


def _load(path: Path) -> tuple[dict[str, Any], list[Result]]:
    data = json.loads(path.read_text(encoding="utf-8"))
    results = []
    for raw in data["results"]:
        timings = {
            key: None
            if raw[key] is None
            else Timing(**{**raw[key], "seconds": tuple(raw[key]["seconds"])})
            for key in ("ours", "peer")
        }
        results.append(Result(**{**raw, **timings}))
    return data, results


# The measurements behind choices in the code, kept here rather than in its comments: the
# comments say why; the figures, with when they were taken, are the benchmarks'.
DESIGN_FIGURES = """## Figures behind the code's choices

Measured while the choice was made; each names the code it decided. Run the benchmarks again
before changing one.

- `api.limits.Limits.query_threads` defaults to 0 (queries on the event loop): a page of 20
  penalties at 8 connections, alternated, answered 386–430 req/s on the event loop and 352–384
  in 1 query thread, and fewer again in 2 or 4.
- `gongshi.serving` freezes the objects alive at start (~110,000: modules, the schema, the
  engine) before it serves: the full collections that walked them under load paused the node
  for tens of milliseconds, 225 ms at worst under wrk, and were the API's p99 then
  (commit 9e5c321).
- `api.execution.ExecutionContext.build_response` breaks the cycle graphql-core's resolver
  helpers make with the context (~230 objects a request): left to the cyclic collector, its
  full collections, every ~300 requests, took 5–20 ms each.
- `api.execution.run` keeps one event loop a query thread: making and tearing one down per
  request, as `asyncio.run` does, costs ~0.2 ms.
- `api.context.Horizons` keeps `disclosure.queries.record_pages.public_since` per data version
  and day: the query takes 9 ms on 1,000,000 records, which a page would otherwise pay each
  time.
- `api.http` writes answers with orjson: the compact UTF-8 that `json.dumps` writes, 10× as
  fast.
- httptools and uvloop (pyproject): uvicorn's HTTP parsing and event loop in C leave the GIL to
  the queries, +20 % cold queries/s at 8 connections.
"""


def write(folder: Path, names: Sequence[str], path: Path) -> None:
    """BENCHMARKS.md from the kept results of every benchmark, in the order given."""
    lines = [
        "# Benchmarks",
        "",
        "Written by `make bench` (`python -m bench [NAME …]` runs some again). Times are "
        "wall-clock seconds (median of the repeats, p99 where repeated); memory is the peak "
        "resident set of the measured process. Each benchmark runs its peer in the same run: "
        "compare ratios, not absolute times, across machines.",
        "",
    ]
    for name in names:
        source = folder / f"{name}.json"
        if not source.exists():
            lines += [f"<!-- bench.{name}: not run yet -->", ""]
            continue
        data, results = _load(source)
        sizes = ", ".join(f"{key}={value}" for key, value in sorted(data["sizes"].items()))
        lines += [
            f"<!-- bench.{name}: measured {data['measured']} on {data['machine']}"
            f"{'; ' + sizes if sizes else ''} -->",
            "",
        ]
        lines += _sections(results, data)
    lines += [DESIGN_FIGURES]
    path.write_text("\n".join(lines), encoding="utf-8")


def _sections(results: Sequence[Result], data: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    for result in results:
        lines += [f"## {result.title}", "", f"Target: {result.target}", ""]
        lines += [
            "| run | command | seconds | rate | peak MB |",
            "| --- | --- | --- | --- | --- |",
            _row(result.ours),
        ]
        if result.peer is not None:
            lines.append(_row(result.peer))
            lines += ["", f"Ratio gongshi / peer: {result.ours.median / result.peer.median:.2f}×"]
        if result.notes:
            lines += ["", result.notes]
        lines += ["", f"Measured {data['measured']} on {data['machine']}.", ""]
    return lines
