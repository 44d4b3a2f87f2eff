"""Benchmarks: `make bench` runs every module listed in BENCHMARKS and writes BENCHMARKS.md.

Each benchmark module has `run(workdir: Path) -> list[report.Result]`: it measures gongshi and,
in the same run, a peer doing comparable work, so the ratio survives a noisy machine.
"""

BENCHMARKS = (
    "bench.sample_data",
    "bench.ingest",
    "bench.search",
    "bench.api",
    "bench.overload",
    "bench.site",
    "bench.feeds",
    "bench.soak",
    "bench.standing",
    "bench.match",
)
