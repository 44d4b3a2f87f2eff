"""Statements compiled once per dialect and run through the driver with named parameters.

SQLAlchemy's work around each execution (the compiled-cache lookup, a bind processor for every
constant of the statement, result processing) costs several times what a small indexed query
costs the database. A statement asked at every lookup is prepared here instead: its constants
are bound once, only its named parameters are processed per execution, and only the columns
it names are converted back (bench/standing.py). Its events still fire, so the request's time
budget holds (`db.time_budget`).
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.expression import SelectBase

Row = Sequence[Any]


@dataclasses.dataclass(frozen=True)
class _Compiled:
    sql: str
    constants: Mapping[str, Any]  # the statement's own bound values, as the driver takes them
    binds: Mapping[str, Callable[[Any], Any] | None]  # the processor of each named parameter
    columns: Mapping[int, Callable[[Any], Any]]  # the result processors of `converted` columns


class Prepared:
    """`statement` with named bind parameters `names` (no expanding ones), whose result columns
    at `converted` are read back through their type (dates from SQLite's text, …)."""

    def __init__(
        self,
        statement: SelectBase,
        names: Sequence[str],
        converted: Sequence[int] = (),
    ) -> None:
        self.statement = statement
        self.names = tuple(names)
        self.converted = tuple(converted)
        self._by_dialect: dict[str, _Compiled] = {}
        self._lock = threading.Lock()

    def execute(self, connection: sa.Connection, values: Mapping[str, Any]) -> list[Row]:
        """The rows of the statement with `values` for its named parameters."""
        compiled = self._compiled(connection.dialect)
        parameters = dict(compiled.constants)
        for name in self.names:
            process = compiled.binds[name]
            value = values[name]
            parameters[name] = (
                process(value) if process is not None and value is not None else value
            )
        rows = connection.exec_driver_sql(compiled.sql, parameters).all()
        if not compiled.columns:
            return list(rows)
        converted: list[Row] = []
        for row in rows:
            cells = list(row)
            for index, process in compiled.columns.items():
                if cells[index] is not None:
                    cells[index] = process(cells[index])
            converted.append(cells)
        return converted

    def _compiled(self, dialect: sa.Dialect) -> _Compiled:
        found = self._by_dialect.get(dialect.name)
        if found is None:
            with self._lock:
                found = self._by_dialect.setdefault(dialect.name, self._compile(dialect))
        return found

    def _compile(self, dialect: sa.Dialect) -> _Compiled:
        # the driver's positional style would need each use of a parameter given anew
        dialect_class: Any = type(dialect)
        named = dialect if not dialect.positional else dialect_class(paramstyle="named")
        compiled = self.statement.compile(dialect=named)
        binds = {name: bind for bind, name in compiled.bind_names.items()}
        missing = [name for name in self.names if name not in binds]
        if missing:
            raise ValueError(f"the statement has no parameter {missing[0]!r}")
        constants = {}
        for name, bind in binds.items():
            if name not in self.names:
                process = bind.type.dialect_impl(named).bind_processor(named)
                constants[name] = process(bind.value) if process is not None else bind.value
        processors = {
            name: binds[name].type.dialect_impl(named).bind_processor(named) for name in self.names
        }
        selected = list(self.statement.selected_columns)
        columns = {}
        for index in self.converted:
            process = selected[index].type.dialect_impl(named).result_processor(named, None)
            if process is not None:
                columns[index] = process
        return _Compiled(compiled.string, constants, processors, columns)
