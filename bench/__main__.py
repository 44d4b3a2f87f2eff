"""`python -m bench [NAME …]`: run the benchmarks (all, or those named) and write BENCHMARKS.md.

Each benchmark's results are kept in bench/results/<name>.json with the machine and the time of
its run, so running one benchmark again rewrites its section and keeps the others'.
"""

import importlib
import os
import sys
import tempfile
from pathlib import Path

from bench import BENCHMARKS, report

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"


def main(names: list[str]) -> None:
    chosen = [name for name in BENCHMARKS if not names or name.split(".")[-1] in names]
    for name in chosen:
        with tempfile.TemporaryDirectory(prefix="gongshi-bench-") as workdir:
            print(f"running {name} …", flush=True)  # noqa: T201
            results = importlib.import_module(name).run(Path(workdir))
        sizes = {key: value for key, value in os.environ.items() if key.startswith("BENCH_")}
        report.save(RESULTS / f"{name.split('.')[-1]}.json", results, sizes)
    report.write(RESULTS, [name.split(".")[-1] for name in BENCHMARKS], ROOT / "BENCHMARKS.md")
    print(f"wrote {ROOT / 'BENCHMARKS.md'}", flush=True)  # noqa: T201


main(sys.argv[1:])
