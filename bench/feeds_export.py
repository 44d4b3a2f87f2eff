"""Runs one output of `gongshi publish` alone, for bench.feeds: `feeds` or `bulk` into a release
folder, or `peer`: a plain export of the record tables to gzipped CSV with the standard library."""

import csv
import datetime as dt
import gzip
import io
import os
import sqlite3
import sys
from pathlib import Path


def main() -> None:
    """Run one output; a function, so that spawned worker processes don't run it again (nor
    import what only it needs: they start faster)."""
    from disclosure import db, settings, urls
    from publishers import bulk, feed_builder, release

    what, out, on = sys.argv[1], Path(sys.argv[2]), dt.date.fromisoformat(sys.argv[3])
    config = settings.Settings.from_env(os.environ)
    base_url = "https://credit.example.gov.cn/"
    if what == "peer":
        out.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(config.database_url.removeprefix("sqlite:///"))
        for table in ("license", "penalty", "list_entry"):
            with gzip.open(out / f"{table}.csv.gz", "wb") as raw:
                text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
                rows = connection.execute(f"SELECT * FROM {table} ORDER BY id")
                writer = csv.writer(text)
                writer.writerow([column[0] for column in rows.description])
                writer.writerows(rows)
                text.flush()
        return
    engine = db.create_engine(config.database_url)
    builders: list[tuple[str, release.Builder]] = []
    if what == "feeds":
        options = feed_builder.FeedOptions(on=on, links=urls.Urls(base_url))
        builders.append(
            (feed_builder.NAME, feed_builder.builder(engine, options, feed_builder.FeedReport()))
        )
    else:
        bulk_options = bulk.BulkOptions(
            on=on,
            links=urls.Urls(base_url),
            database_url=config.database_url,
            workers=int(os.environ.get("BENCH_WORKERS", os.cpu_count() or 1)),
        )
        builders.append((bulk.NAME, bulk.builder(engine, bulk_options, bulk.BulkReport())))
    release.publish(out, builders, now=dt.datetime.now(dt.UTC))


if __name__ == "__main__":
    main()
