"""A hot batch's Core statements compiled once and run on the driver's own connection.

Through SQLAlchemy's async engine a statement costs a worker far more than the database's own
work on an indexed row: the execution context, the events, the async adapter's greenlet
switches and the result's building. A heartbeat batch of four statements in a transaction cost
about 1.5 ms of CPU on SQLite, most of it around the statements, and the batch held the
database's write turn (SQLite) or the license's row lock (PostgreSQL) all along. Here the same
Core statements (one home for each) run on the driver's connection
(:meth:`.db.Database.driver_write`):

* each statement is compiled by SQLAlchemy once per dialect, and once per length of each
  expanding ``IN`` list it has (``SQLCompiler.construct_expanded_state``);
* its parameters go through their types' bind processors, its rows' values through the
  columns' result processors: a row reads as SQLAlchemy's would (attributes by column name).

On SQLite (:class:`SqliteStatements`) a statement runs at once on the event loop's thread,
inside the write transaction the caller holds, so no other process can make it wait; on
PostgreSQL (:class:`PostgresStatements`) it is one round trip of psycopg.
"""

from __future__ import annotations

import sqlite3
from collections import OrderedDict, namedtuple
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import psycopg
from sqlalchemy import Dialect, Insert, Select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.sqltypes import TupleType

from .statements import Parameters

__all__ = ["CompiledStatements", "PostgresStatements", "SqliteStatements"]

Processor = Callable[[Any], Any] | None

#: Where a parameter's value comes from: the caller's parameter (else the statement's own
#: value), or an element (and a tuple's component) of an expanding list.
_GIVEN, _ELEMENT = range(2)
#: Forms kept per statement (the least recently used are dropped); lists are padded to a power
#: of two, so a list of up to 256 values takes one of nine lengths.
MAX_FORMS = 64


class _Form:
    """A statement's SQL for one length of each expanding list, and how to fill it in."""

    def __init__(
        self, compiled: SQLCompiler, dialect: Dialect, parameters: Mapping[str, Any]
    ) -> None:
        state = compiled.construct_expanded_state(dict(parameters))
        self.sql = state.statement
        #: The names of the parameters, for a dialect that binds them by name (PostgreSQL).
        self.names = None if state.positiontup else list(state.parameters)
        # a name the dialect had to escape (PostgreSQL) is bound escaped, looked up as given
        given = {escaped: name for name, escaped in compiled.escaped_bind_names.items()}
        element_of = {
            name: (given.get(base, base), index)
            for base, names in state.parameter_expansion.items()
            for index, name in enumerate(names)
        }
        defaulted = {
            column.key for column in [*compiled.insert_prefetch, *compiled.update_prefetch]
        }
        self.positions: list[tuple[int, str, int, int, Processor, Any]] = []
        for bound_name in state.positiontup or state.parameters:
            if bound_name in element_of:
                base, index = element_of[bound_name]
                bind_type = compiled.binds[base].type
                types = bind_type.types if isinstance(bind_type, TupleType) else [bind_type]
                width = len(types)
                element_type = types[index % width]
                self.positions.append(
                    (
                        _ELEMENT,
                        base,
                        index // width,
                        index % width if width > 1 else -1,
                        _bind_processor(element_type, dialect),
                        None,
                    )
                )
                continue
            name = given.get(bound_name, bound_name)
            if name in defaulted and name not in parameters:
                raise ValueError(f"the statement needs a value for {name!r} (a column default)")
            bind = compiled.binds[name]  # the caller's value, else the statement's own
            self.positions.append((_GIVEN, name, 0, -1, _bind_processor(bind.type, dialect), bind))

    def bound(self, parameters: Mapping[str, Any]) -> tuple[Any, ...] | dict[str, Any]:
        """The values to bind: in order, or by name."""
        values = self.values(parameters)
        return values if self.names is None else dict(zip(self.names, values, strict=True))

    def values(self, parameters: Mapping[str, Any]) -> tuple[Any, ...]:
        values = []
        for source, name, index, component, processor, bind in self.positions:
            if source == _ELEMENT:
                value = parameters[name]
                value = value[index] if component < 0 else value[index][component]
            elif name in parameters:
                value = parameters[name]
            elif bind.required:
                raise KeyError(f"no value for the parameter {name!r}")
            else:
                value = bind.effective_value
            values.append(processor(value) if processor else value)
        return tuple(values)


class _Compiled:
    """A statement compiled for the dialect, its forms and, for a SELECT, its row type. Its
    ``IN`` lists are named expanding bind parameters whose values the caller gives."""

    def __init__(self, statement: ClauseElement, dialect: Dialect, keys: Sequence[str]) -> None:
        compiled = statement.compile(dialect=dialect, column_keys=list(keys) or None)
        assert isinstance(compiled, SQLCompiler)
        self._compiled = compiled
        self._dialect = dialect
        self._expanding = [name for name, bind in compiled.binds.items() if bind.expanding]
        self._forms: OrderedDict[tuple[int, ...], _Form] = OrderedDict()
        self._row: Callable[..., Any] | None = None
        self.result_processors: list[Processor] = []
        if isinstance(statement, Select):
            self.result_processors = [
                column.type.dialect_impl(dialect).result_processor(dialect, None)
                for column in statement.selected_columns
            ]

    def rows(self, description: Sequence[Any], found: list[Any]) -> list[Any]:
        """The rows ``found`` as SQLAlchemy gives them: named by the result's columns
        (``description``, the cursor's), their values processed."""
        if self._row is None:
            names = [column[0] for column in description]
            self._row = namedtuple("Row", names, rename=True)  # type: ignore[misc]
        row, processors = self._row, self.result_processors
        return [
            row(*[p(value) if p else value for p, value in zip(processors, values, strict=True)])
            for values in found
        ]

    def prepare(self, parameters: Mapping[str, Any]) -> tuple[_Form, Mapping[str, Any]]:
        """The form for ``parameters``, and the parameters to fill it with: each expanding
        list padded, by repeating its last value (``IN`` matches the same rows), to a power of
        two, so that few forms serve every length."""
        if self._expanding:
            parameters = {**parameters}
            for name in self._expanding:
                values = list(parameters[name])
                if values:
                    values += values[-1:] * ((1 << (len(values) - 1).bit_length()) - len(values))
                parameters[name] = values
        lengths = tuple(len(parameters[name]) for name in self._expanding)
        form = self._forms.get(lengths)
        if form is None:
            form = self._forms[lengths] = _Form(self._compiled, self._dialect, parameters)
            while len(self._forms) > MAX_FORMS:
                self._forms.popitem(last=False)
        else:
            self._forms.move_to_end(lengths)
        return form, parameters


class CompiledStatements:
    """The statements compiled for one dialect (kept as long as it lives: a process's hot
    statements are a handful of module constants)."""

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        self._compiled: dict[tuple[int, tuple[str, ...]], tuple[ClauseElement, _Compiled]] = {}

    def of(self, statement: ClauseElement, parameters: Mapping[str, Any]) -> _Compiled:
        # an INSERT's columns are those its parameters name (as SQLAlchemy compiles it)
        keys = tuple(parameters) if isinstance(statement, Insert) else ()
        entry = self._compiled.get((id(statement), keys))
        if entry is None:  # the statement is kept with it: its id stays its own
            entry = (statement, _Compiled(statement, self.dialect, keys))
            self._compiled[(id(statement), keys)] = entry
        return entry[1]


class _DriverStatements:
    """What both drivers' :class:`.statements.Statements` share: no session (what needs one
    raises :class:`.statements.NeedsSession`), and the statements compiled for the dialect."""

    def __init__(self, compiled: CompiledStatements) -> None:
        self.session: AsyncSession | None = None
        self._compiled = compiled

    def _runs(
        self, statement: ClauseElement, parameters: Parameters
    ) -> tuple[_Form, list[Mapping[str, Any]]] | None:
        """A write's form and the parameters of each of its runs; None: nothing to run."""
        many = list(parameters) if isinstance(parameters, Sequence) else [parameters]
        if not many:
            return None
        form, first = self._compiled.of(statement, many[0]).prepare(many[0])
        return form, [first, *many[1:]]


class SqliteStatements(_DriverStatements):
    """:class:`.statements.Statements` on one ``sqlite3`` connection, in a write transaction
    the caller holds."""

    def __init__(self, connection: sqlite3.Connection, compiled: CompiledStatements) -> None:
        super().__init__(compiled)
        self._connection = connection

    async def rows(self, statement: Select[Any], parameters: Mapping[str, Any]) -> list[Any]:
        compiled = self._compiled.of(statement, parameters)
        form, parameters = compiled.prepare(parameters)
        cursor = self._connection.execute(form.sql, form.values(parameters))
        return compiled.rows(cursor.description, cursor.fetchall())

    async def run(self, statement: ClauseElement, parameters: Parameters) -> int:
        runs = self._runs(statement, parameters)
        if runs is None:
            return 0
        form, many = runs
        cursor = self._connection.executemany(form.sql, [form.values(p) for p in many])
        return cursor.rowcount


class PostgresStatements(_DriverStatements):
    """:class:`.statements.Statements` on one psycopg connection, in the transaction it is in."""

    def __init__(
        self, connection: psycopg.AsyncConnection[Any], compiled: CompiledStatements
    ) -> None:
        super().__init__(compiled)
        self._connection = connection

    async def rows(self, statement: Select[Any], parameters: Mapping[str, Any]) -> list[Any]:
        compiled = self._compiled.of(statement, parameters)
        form, parameters = compiled.prepare(parameters)
        async with self._connection.cursor() as cursor:
            await cursor.execute(form.sql, form.bound(parameters))
            return compiled.rows(cursor.description or (), await cursor.fetchall())

    async def run(self, statement: ClauseElement, parameters: Parameters) -> int:
        runs = self._runs(statement, parameters)
        if runs is None:
            return 0
        form, many = runs
        async with self._connection.cursor() as cursor:
            if len(many) == 1:
                await cursor.execute(form.sql, form.bound(many[0]))
            else:
                await cursor.executemany(form.sql, [form.bound(p) for p in many])
            return cursor.rowcount


def _bind_processor(type_: Any, dialect: Dialect) -> Processor:
    return type_.dialect_impl(dialect).bind_processor(dialect)  # type: ignore[no-any-return]
