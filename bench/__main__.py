"""`python -m bench [NAME …]`: run the benchmarks and write BENCHMARKS.md."""

import importlib
import sys
import tempfile
from pathlib import Path

from bench import BENCHMARKS, report

ROOT = Path(__file__).resolve().parent.parent


def main(names: list[str]) -> None:
    chosen = [name for name in BENCHMARKS if not names or name.split(".")[-1] in names]
    results = []
    for name in chosen:
        with tempfile.TemporaryDirectory(prefix="gongshi-bench-") as workdir:
            print(f"running {name} …", flush=True)  # noqa: T201
            results += importlib.import_module(name).run(Path(workdir))
    report.write(results, ROOT / "BENCHMARKS.md")
    print(f"wrote {ROOT / 'BENCHMARKS.md'}", flush=True)  # noqa: T201


main(sys.argv[1:])
