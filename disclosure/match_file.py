"""Screening a file (`gongshi match FILE.csv`): its candidates read, screened by batches, and each
row's best subject written beside it as FILE.match.csv.

A column is known by our key or its Chinese header (名称, 统一社会信用代码, 法定代表人,
地区), folded as the template folds headers. A row that cannot be screened keeps its place in
the output with the reason, naming the row and the field.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from sqlmodel import Session
from stdnum.cn import uscc

from disclosure import matching, privacy, readers, spreadsheet, template

COLUMNS: dict[str, tuple[str, ...]] = {
    "name": ("名称", "企业名称", "主体名称", "单位名称", "行政相对人名称"),
    "credit_code": ("统一社会信用代码", "信用代码"),
    "legal_representative": ("法定代表人", "legal_rep_name", "法定代表人姓名"),
    "region": ("地区", "所在地区", "区域"),
}
RESULT_HEADER = ("匹配", "相似度", "匹配主体", "匹配主体信用代码", "依据", "说明")


class MatchFileError(ValueError):
    """A file that cannot be screened at all: unreadable, or without a name column."""


@dataclasses.dataclass
class MatchReport:
    """What screening a file did: rows read, matched, not matched, refused."""

    output: Path
    rows: int = 0
    matched: int = 0
    refused: int = 0


def output_path(path: Path) -> Path:
    """Where the results of `path` go: beside it, as FILE.match.csv."""
    return path.with_name(path.stem + ".match.csv")


def _keys(header: Sequence[str]) -> list[str | None]:
    names = {
        template.folded(name): key for key, aliases in COLUMNS.items() for name in (key, *aliases)
    }
    keys = [names.get(template.folded(cell)) for cell in header]
    if "name" not in keys:
        raise MatchFileError(
            "缺少「名称」列 / the file has no name column (name, 名称, 企业名称 …)"
        )
    return keys


def _candidate(number: int, keys: list[str | None], cells: list[str]) -> matching.Candidate:
    """The row's candidate; MatchError naming the row and field if it has none."""
    values = {k: v.strip() for k, v in zip(keys, cells, strict=False) if k is not None}
    if not values.get("name"):
        raise matching.MatchError(f"第{number}行 名称为空 / row {number}: name is empty")
    code = values.get("credit_code") or None
    if code is not None and not uscc.is_valid(code.upper()):
        raise matching.MatchError(
            f"第{number}行 统一社会信用代码「{code}」无效 / row {number}: credit_code {code!r} "
            "is not a valid unified social credit code"
        )
    return matching.Candidate(
        values["name"], code, values.get("legal_representative") or None, values.get("region")
    )


def screen_file(
    session: Session, path: Path, *, on: dt.date, threshold: float, encoding: str | None = None
) -> MatchReport:
    """Screen every row of `path`, writing FILE.match.csv (atomically) beside it."""
    report = MatchReport(output_path(path))
    part = report.output.with_name(report.output.name + ".part")
    try:
        with readers.open_table(path, encoding=encoding) as table:
            keys = _keys(table.header)
            with part.open("w", encoding="utf-8-sig", newline="") as out:
                writer = csv.writer(out)
                writer.writerow(spreadsheet.neutralise_row([*table.header, *RESULT_HEADER]))
                for batch in _batches(table.rows):
                    _screen_batch(session, batch, keys, on, threshold, writer, report)
        os.replace(part, report.output)
    except readers.ReadError as error:
        raise MatchFileError(str(error)) from error
    finally:
        part.unlink(missing_ok=True)
    return report


def _batches(
    rows: Iterator[tuple[int, list[str]]],
) -> Iterator[list[tuple[int, list[str]]]]:
    batch: list[tuple[int, list[str]]] = []
    for row in rows:
        batch.append(row)
        if len(batch) == matching.MAX_CANDIDATES:
            yield batch
            batch = []
    if batch:
        yield batch


def _screen_batch(
    session: Session,
    batch: list[tuple[int, list[str]]],
    keys: list[str | None],
    on: dt.date,
    threshold: float,
    writer: Any,  # a csv writer
    report: MatchReport,
) -> None:
    candidates: dict[int, matching.Candidate] = {}
    refused: dict[int, str] = {}
    for number, cells in batch:
        try:
            candidates[number] = _candidate(number, keys, cells)
        except matching.MatchError as error:
            refused[number] = str(error)
    found = dict(
        zip(candidates, matching.screen(session, list(candidates.values()), on=on), strict=True)
    )
    for number, cells in batch:
        report.rows += 1
        if number in refused:
            report.refused += 1
            result = ["", "", "", "", "", refused[number]]
        elif found[number]:
            best = found[number][0]
            public = privacy.subject(best.subject)
            matched = best.score >= threshold
            report.matched += matched
            result = [
                "是" if matched else "否",
                f"{best.score:.4f}",
                public.name,
                public.credit_code or "",
                ";".join(best.features),
                "",
            ]
        else:
            result = ["否", "", "", "", "", ""]
        writer.writerow(spreadsheet.neutralise_row([*cells, *result]))
