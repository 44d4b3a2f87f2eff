"""The measures file (GONGSHI_MEASURES_FILE): a TOML file of `[[measure]]` tables or a CSV file
of one measure a row, validated with errors that name the file, the measure and the field."""

from __future__ import annotations

import csv
import datetime as dt
import io
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from disclosure import models
from disclosure.measures import (
    BUILT_IN,
    CLEAN_YEARS,
    FIELDS,
    Catalogue,
    Measure,
    MeasureKind,
    MeasuresError,
    Trigger,
    TriggerKind,
)


def load(path: Path | None) -> Catalogue:
    """The built-in list, extended or (by code, or wholly with `replace = true`) replaced by a
    TOML file of `[[measure]]` tables or a CSV file of one measure a row."""
    if path is None:
        return BUILT_IN
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise MeasuresError(f"{path}: {error}") from error
    if path.suffix.lower() == ".csv":
        return BUILT_IN.extended(_from_csv(path, text))
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise MeasuresError(f"{path}: {error}") from error
    fields = dict(FIELDS)
    for name, words in data.get("field", {}).items():
        if not isinstance(words, list) or not words or not all(isinstance(w, str) for w in words):
            raise MeasuresError(f"{path}: field {name!r}: 须为词语列表 / must be a list of words")
        fields[name] = tuple(words)
    entries = data.get("measure", [])
    if not isinstance(entries, list):
        raise MeasuresError(f"{path}: measure must be an array of tables ([[measure]])")
    measures = [
        _checked(path, f"measure {number}", entry, fields)
        for number, entry in enumerate(entries, start=1)
    ]
    if data.get("replace", False) is True:
        return Catalogue(tuple(measures))
    return BUILT_IN.extended(measures)


def _checked(path: Path, where: str, entry: Any, fields: Mapping[str, tuple[str, ...]]) -> Measure:
    try:
        if not isinstance(entry, dict):
            raise _Invalid("", "须为表 / must be a table")
        return _measure(entry, fields)
    except _Invalid as error:
        code = entry.get("code") if isinstance(entry, dict) else None
        named = f" ({code})" if isinstance(code, str) else ""
        field = f": {error.field}" if error.field else ""
        raise MeasuresError(f"{path}: {where}{named}{field}: {error.reason}") from None


class _Invalid(Exception):
    def __init__(self, field: str, reason: str) -> None:
        super().__init__(field, reason)
        self.field = field
        self.reason = reason


_REQUIRED = ("code", "text", "kind", "mandatory", "legal_basis", "departments", "trigger")


def _measure(entry: Mapping[str, Any], fields: Mapping[str, tuple[str, ...]]) -> Measure:
    unknown = sorted(set(entry) - {*_REQUIRED, "effective_on", "until_on", "reaches_legal_rep"})
    if unknown:
        raise _Invalid(unknown[0], "未知字段 / unknown field")
    for name in _REQUIRED:
        if entry.get(name) in (None, "", []):
            raise _Invalid(name, "必填 / required")
    effective_on = _date(entry, "effective_on") or dt.date.min
    until_on = _date(entry, "until_on")
    if until_on is not None and until_on < effective_on:
        raise _Invalid("until_on", f"早于生效日期 / before effective_on {effective_on}")
    triggers = entry["trigger"]
    if not isinstance(triggers, list):
        triggers = [triggers]
    return Measure(
        code=_text(entry, "code", 100),
        text=_text(entry, "text"),
        kind=_choice(entry, "kind", MeasureKind),
        mandatory=_flag(entry, "mandatory"),
        legal_basis=_text(entry, "legal_basis"),
        departments=_texts(entry, "departments"),
        triggers=tuple(_trigger(t, fields) for t in triggers),
        effective_on=effective_on,
        until_on=until_on,
        reaches_legal_representative=_flag(entry, "reaches_legal_rep", default=False),
    )


def _text(entry: Mapping[str, Any], name: str, longest: int = 2000) -> str:
    value = entry[name]
    if not isinstance(value, str) or not value.strip():
        raise _Invalid(name, "须为非空文字 / must be non-empty text")
    if len(value.strip()) > longest:
        raise _Invalid(name, f"超过 {longest} 字 / longer than {longest} characters")
    return value.strip()


def _texts(entry: Mapping[str, Any], name: str) -> tuple[str, ...]:
    value = entry[name]
    items = value.split(";") if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
        raise _Invalid(name, "须为文字列表 / must be a list of text")
    found = tuple(item.strip() for item in items if item.strip())
    if not found:
        raise _Invalid(name, "必填 / required")
    return found


def _flag(entry: Mapping[str, Any], name: str, default: bool | None = None) -> bool:
    value = entry.get(name, default)
    if isinstance(value, str):
        value = {"true": True, "false": False, "强制性": True, "推荐性": False}.get(value.lower())
    if not isinstance(value, bool):
        raise _Invalid(name, "须为 true 或 false / must be true or false")
    return value


E = Any


def _choice(entry: Mapping[str, Any], name: str, kind: type[E]) -> E:
    value = entry[name]
    try:
        return kind(str(value).lower())
    except ValueError:
        allowed = ", ".join(member.value for member in kind)
        raise _Invalid(name, f"须为 {allowed} 之一 / must be one of {allowed}") from None


def _date(entry: Mapping[str, Any], name: str) -> dt.date | None:
    value = entry.get(name)
    if value in (None, ""):
        return None
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise _Invalid(name, f"须为日期 YYYY-MM-DD / must be a date, not {value!r}") from None


def _trigger(entry: Any, fields: Mapping[str, tuple[str, ...]]) -> Trigger:
    """A trigger from a table (`on = "list"`, …) or a CSV spelling (`list:black`)."""
    if isinstance(entry, str):
        entry = _spelled(entry)
    if not isinstance(entry, dict):
        raise _Invalid("trigger", "须为表或文字 / must be a table or text")
    on = _choice({"trigger.on": entry.get("on")}, "trigger.on", TriggerKind)
    if on is TriggerKind.CLEAN_RECORD:
        years = entry.get("years", CLEAN_YEARS)
        if not isinstance(years, int) or isinstance(years, bool) or not 1 <= years <= 10:
            raise _Invalid("trigger.years", "须为 1–10 的整数 / must be a whole number 1–10")
        return Trigger(on, years=years)
    if on is TriggerKind.LIST:
        codes = tuple(str(code) for code in entry.get("codes", []))
        kinds = tuple(
            _choice({"trigger.kinds": kind}, "trigger.kinds", models.ListKind)
            for kind in entry.get("kinds", [])
        )
        if not codes and not kinds:
            raise _Invalid(
                "trigger", "名单触发须给出 codes 或 kinds / a list trigger needs codes or kinds"
            )
        return Trigger(on, list_codes=codes, list_kinds=kinds)
    severities = tuple(
        _choice({"trigger.severities": s}, "trigger.severities", models.Severity)
        for s in entry.get("severities", [])
    )
    if not severities:
        raise _Invalid("trigger.severities", "必填 / required")
    named = tuple(str(field) for field in entry.get("fields", []))
    missing = [field for field in named if field not in fields]
    if missing:
        known = "、".join(fields)
        raise _Invalid("trigger.fields", f"未知领域 {missing[0]} / unknown field (known: {known})")
    keywords = tuple(word for field in named for word in fields[field])
    return Trigger(on, severities=severities, fields=named, keywords=keywords)


def _spelled(text: str) -> dict[str, Any]:
    """`list:black`, `list:serious-illegal`, `penalty:serious`, `penalty:serious:食品药品`,
    `clean_record:3`."""
    on, _, rest = text.strip().partition(":")
    parts = [part for part in rest.split(":") if part]
    if on == "list":
        kinds = [part for part in parts if part in set(models.ListKind)]
        return {"on": on, "kinds": kinds, "codes": [p for p in parts if p not in kinds]}
    if on == "penalty":
        return {"on": on, "severities": parts[:1], "fields": parts[1:]}
    if on == "clean_record":
        try:
            return {"on": on, "years": int(parts[0]) if parts else CLEAN_YEARS}
        except ValueError:
            raise _Invalid("trigger.years", "须为整数 / must be a whole number") from None
    return {"on": on}


_CSV_COLUMNS = (*_REQUIRED, "effective_on", "until_on", "reaches_legal_rep")


def _from_csv(path: Path, text: str) -> Sequence[Measure]:
    reader = csv.DictReader(io.StringIO(text))
    header = reader.fieldnames or []
    unknown = [name for name in header if name not in _CSV_COLUMNS]
    missing = [name for name in _REQUIRED if name not in header]
    if unknown or missing:
        what = f"unknown column {unknown[0]!r}" if unknown else f"missing column {missing[0]!r}"
        raise MeasuresError(f"{path}: {what} (columns: {', '.join(_CSV_COLUMNS)})")
    measures = []
    for row in reader:
        entry: dict[str, Any] = {key: value for key, value in row.items() if value}
        if "trigger" in entry:
            entry["trigger"] = [part for part in entry["trigger"].split("|") if part.strip()]
        measures.append(_checked(path, f"row {reader.line_num}", entry, FIELDS))
    return measures
