"""The use-case spec: one declarative description of a data set that every stage of the loop reads.

A use case is a folder (``usecases/<name>/``) holding ``usecase.toml`` (this spec), the feature function, the Feast
definitions and, where there is one, a source that writes daily batches. The spec says what the core must not assume:
the entity and its join key; the raw tables of a daily batch with their role, columns, types, ranges, categories,
keys, day column, row-count and null-rate bounds and the keys it references in other tables; the label (table,
as-of column, target per task type, horizon); the model's inputs (categorical columns, columns left out, join keys
used as inputs); evaluation slices; the FeatureView and FeatureService names and ttl; the predictions table; what
monitoring leaves out; whether a batch is accepted whole or per table.

:func:`parse_spec` validates a parsed TOML document and raises :class:`SpecError` naming the file and the field
(``tables.labels.columns.target.dtype: 'int' is not one of ...``) at the first problem of each field. Only the
standard library is imported, so settings and DAG files can read a spec at parse time.
"""

from __future__ import annotations

import math
import re
import tomllib
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

SPEC_FILE = "usecase.toml"
DTYPES = ("int64", "float64", "str", "datetime", "date")
KEY_DTYPES = ("int64", "str")
ROLES = ("entities", "events", "labels")
ACCEPTANCE = ("whole", "per_table")
TASK_TYPES = ("classification", "regression")
ENTITY_TIMESTAMP = "event_timestamp"
"""The column every feature row and label event is stamped with (the end of the day it describes)."""
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


class SpecError(ValueError):
    """A use-case spec that cannot be used; the message names the file and the field."""


@dataclass(frozen=True)
class ColumnSpec:
    """One column: its dtype once accepted (``int64``, ``float64``, ``str``, ``datetime``, ``date``) and its rules;
    ``max_null_rate`` bounds the share of missing values of a batch (a nullable column only)."""

    dtype: str
    nullable: bool = False
    min_value: float | None = None
    max_value: float | None = None
    categories: tuple[str, ...] | None = None
    description: str = ""
    max_null_rate: float | None = None


@dataclass(frozen=True)
class TableSpec:
    """One raw table of a daily batch.

    ``role`` says how the core reads it: ``entities`` (a snapshot of the entities on the batch's day), ``events``
    (rows read over the feature window) or ``labels`` (outcomes that matured today for the day ``label_horizon_days``
    earlier, so their ``day_column`` lies that many days before the batch day; see :meth:`expected_day`).

    ``references`` maps a column to the ``(table, column)`` whose values it must be among: those of the referenced
    table's rows for the referencing row's day (the same batch for rows of the batch day, an accepted batch for
    older days), or of the ``reference_history_days`` days before it. ``min_rows``/``max_rows`` bound the rows of
    one batch whatever the history.
    """

    name: str
    role: str
    columns: dict[str, ColumnSpec]
    key: tuple[str, ...]
    day_column: str
    description: str = ""
    null_rate_columns: tuple[str, ...] = field(default=())
    references: dict[str, tuple[str, str]] = field(default_factory=dict)
    reference_history_days: int = 0
    min_rows: int | None = None
    max_rows: int | None = None

    @property
    def file_name(self) -> str:
        """The file of this table inside a batch folder."""
        return f"{self.name}.csv"

    @property
    def lagged_by_label_horizon(self) -> bool:
        """Whether the day column describes the day ``label_horizon_days`` before the batch (labels)."""
        return self.role == "labels"

    def expected_day(self, batch_day: date, label_horizon_days: int) -> date:
        """The day that ``day_column`` must fall on for the batch of ``batch_day``."""
        return batch_day - timedelta(days=label_horizon_days) if self.lagged_by_label_horizon else batch_day

    def batch_day_of(self, row_day: date, label_horizon_days: int) -> date:
        """The batch whose rows of this table describe ``row_day`` (the inverse of :meth:`expected_day`)."""
        return row_day + timedelta(days=label_horizon_days) if self.lagged_by_label_horizon else row_day


@dataclass(frozen=True)
class EntitySpec:
    """The thing every feature row, label and prediction is about."""

    name: str
    join_key: str
    dtype: str
    description: str = ""


@dataclass(frozen=True)
class LabelSpec:
    """Where the outcomes are: a table of the batch, its as-of date column and the target of each task type."""

    table: str
    as_of_column: str
    targets: dict[str, str]
    horizon_days: int
    task_type: str


@dataclass(frozen=True)
class FeaturesSpec:
    """The feature function (``function`` in ``module``, relative to the use case folder) and its window."""

    module: str
    function: str
    window_days: int


@dataclass(frozen=True)
class FeastSpec:
    """The Feast objects of the use case: definitions file, project, FeatureView, FeatureService and ttl."""

    definitions: str
    project: str
    feature_view: str
    feature_service: str
    ttl_days: int


@dataclass(frozen=True)
class SliceSpec:
    """An evaluation slice: the values of ``column``, or its numeric ``bands`` (name -> [low, high))."""

    column: str
    name: str
    bands: dict[str, tuple[float, float]] | None = None


@dataclass(frozen=True)
class ModelSpec:
    """The model's name and inputs: categorical columns with their categories, features left out, join keys fed in."""

    name: str
    categorical: dict[str, tuple[str, ...]]
    exclude: tuple[str, ...] = ()
    key_inputs: tuple[str, ...] = ()
    training_window_days: int = 28


@dataclass(frozen=True)
class MonitoringSpec:
    """Columns drift monitoring leaves out: any it should not compare, and those constant within a day (weekday,
    season), which always differ between one day and a reference of many."""

    exclude: tuple[str, ...] = ()
    constant_within_day: tuple[str, ...] = ()
    window_days: int = 1
    min_rows: int = 500


@dataclass(frozen=True)
class PrivacySpec:
    """What the data may hold and where it may come from: ``personal_columns`` (``(table, column)``) are personal
    data, which no training set, predictions table or report may carry as such; ``allowed_sources`` are the tables
    features and labels may be read from (empty: every table of the spec)."""

    personal_columns: tuple[tuple[str, str], ...] = ()
    allowed_sources: tuple[str, ...] = ()


@dataclass(frozen=True)
class InclusionSpec:
    """Slices (``[[slices]]`` names) that describe groups of people the model must serve alike: their parity gap is
    on the model card and the gate can bound it (``DRIFTLOOP_MAX_PARITY_GAP``)."""

    sensitive_slices: tuple[str, ...] = ()


@dataclass(frozen=True)
class ValidationSpec:
    """How a batch is accepted: ``whole`` (any failed table rejects every table of the batch) or ``per_table``
    (the tables that pass are accepted, the others quarantined)."""

    acceptance: str = "whole"


@dataclass(frozen=True)
class SourceParam:
    """One parameter of the use case's source (shown in the ``simulate_source`` trigger form)."""

    name: str
    default: Any
    type: str
    title: str
    description: str
    enum: tuple[Any, ...] | None = None
    minimum: float | None = None
    maximum: float | None = None
    format: str | None = None


@dataclass(frozen=True)
class SourceSpec:
    """The use case's source of daily batches: ``function(landing_dir, start, days, params, settings)`` in
    ``module``; it writes ``landing_dir/dt=DAY/<table>.csv`` and the ``_SUCCESS`` marker for each day."""

    module: str
    function: str
    description: str
    params: tuple[SourceParam, ...] = ()


@dataclass(frozen=True)
class DemoSpec:
    """How ``make demo`` runs the use case: how many days, which day the drift starts on and which batch is corrupt
    (indexes into the demo's days), how many clean days it scores first, the settings it runs with (unless already
    set) and the source function that gives ``simulate_source``'s params for the demo's days."""

    days: int = 36
    drift_day: int = -5
    corrupt_day: int | None = None
    clean_scored_days: int = 4
    clean_days_known: bool = True
    """Whether the days before ``drift_day`` are known to be clean (a simulator's are; recorded data has no such
    ground truth), so that the demo fails when one of them is not ``no_drift``."""
    env: dict[str, str] = field(default_factory=dict)
    params_function: str = "demo_params"


@dataclass(frozen=True)
class UseCaseSpec:
    """A validated use-case spec, with the folder it was read from."""

    name: str
    title: str
    description: str
    folder: Path
    entity: EntitySpec
    tables: dict[str, TableSpec]
    label: LabelSpec
    features: FeaturesSpec
    feast: FeastSpec
    model: ModelSpec
    slices: tuple[SliceSpec, ...]
    predictions_table: str
    monitoring: MonitoringSpec
    source: SourceSpec | None = None
    demo: DemoSpec = field(default_factory=DemoSpec)
    validation: ValidationSpec = field(default_factory=ValidationSpec)
    privacy: PrivacySpec = field(default_factory=PrivacySpec)
    inclusion: InclusionSpec = field(default_factory=InclusionSpec)

    def tables_with_role(self, role: str) -> list[TableSpec]:
        """The tables of ``role``, in declaration order."""
        return [table for table in self.tables.values() if table.role == role]

    @property
    def label_table(self) -> TableSpec:
        """The table the labels arrive in."""
        return self.tables[self.label.table]

    @property
    def entity_columns(self) -> list[str]:
        """The columns that identify a feature row or a label event: the join key and the entity timestamp."""
        return [self.entity.join_key, ENTITY_TIMESTAMP]

    def target_column(self, task_type: str) -> str:
        """The label column a task type learns."""
        if task_type not in self.label.targets:
            raise SpecError(
                f"{self.folder / SPEC_FILE}: label.targets has no target for task type {task_type!r} "
                f"(declared: {', '.join(self.label.targets) or 'none'})"
            )
        return self.label.targets[task_type]

    @property
    def not_features(self) -> set[str]:
        """Columns of a training set or scored frame that are never model inputs or drift columns."""
        return {*self.entity_columns, self.label.as_of_column, *self.label.targets.values(), "prediction"}

    def model_inputs(self, service_features: list[str]) -> list[str]:
        """The model's input columns: the join keys named in ``model.key_inputs``, then the FeatureService's
        features except ``model.exclude``."""
        return [*self.model.key_inputs, *(c for c in service_features if c not in self.model.exclude)]

    def drift_columns(self, columns: list[str]) -> list[str]:
        """The columns drift monitoring compares, of ``columns``: neither excluded nor constant within a day."""
        left_out = {*self.not_features, *self.monitoring.exclude, *self.monitoring.constant_within_day}
        return [c for c in columns if c not in left_out]


class _Reader:
    """Reads fields of one TOML table, collecting errors that name the field's path."""

    def __init__(self, path: Path, errors: list[str]) -> None:
        self.path, self.errors = path, errors

    def fail(self, where: str, message: str) -> None:
        self.errors.append(f"{where}: {message}")

    def table(self, data: dict, key: str, where: str, required: bool = True) -> dict:
        value = data.get(key)
        if value is None:
            if required:
                self.fail(f"{where}{key}", "missing (a table)")
            return {}
        if not isinstance(value, dict):
            self.fail(f"{where}{key}", f"must be a table, got {type(value).__name__}")
            return {}
        return value

    def get(self, data: dict, key: str, where: str, kind: type | tuple, default: Any = ..., choices=None) -> Any:
        if key not in data:
            if default is ...:
                self.fail(f"{where}{key}", "missing")
                return None
            return default
        value = data[key]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if isinstance(value, bool) and bool not in kinds or not isinstance(value, kinds):
            names = " or ".join(k.__name__ for k in kinds)
            self.fail(f"{where}{key}", f"must be {names}, got {value!r}")
            return None if default is ... else default
        if choices is not None and value not in choices:
            self.fail(f"{where}{key}", f"{value!r} is not one of {', '.join(map(str, choices))}")
            return None
        return value

    def name(self, data: dict, key: str, where: str, default: Any = ...) -> str | None:
        value = self.get(data, key, where, str, default)
        if isinstance(value, str) and not _NAME.match(value):
            self.fail(f"{where}{key}", f"{value!r} must be lower case letters, digits and _ (a column or object name)")
        return value

    def strings(self, data: dict, key: str, where: str, default: Any = ...) -> tuple[str, ...]:
        value = self.get(data, key, where, list, default)
        if value is None:
            return ()
        bad = [v for v in value if not isinstance(v, str)]
        if bad:
            self.fail(f"{where}{key}", f"must be a list of strings, got {bad[:3]}")
            return ()
        return tuple(value)

    def positive_int(self, data: dict, key: str, where: str, default: Any = ...) -> int:
        value = self.get(data, key, where, int, default)
        if isinstance(value, int) and value < 1:
            self.fail(f"{where}{key}", f"must be at least 1, got {value}")
        return value or 0

    def unknown(self, data: dict, allowed: set[str], where: str) -> None:
        for key in sorted(set(data) - allowed):
            self.fail(f"{where}{key}", f"unknown field (allowed: {', '.join(sorted(allowed))})")


def _column(reader: _Reader, data: Any, where: str) -> ColumnSpec | None:
    if not isinstance(data, dict):
        reader.fail(where.rstrip("."), 'must be a table such as { dtype = "int64" }')
        return None
    reader.unknown(data, {"dtype", "nullable", "min", "max", "categories", "description", "max_null_rate"}, where)
    dtype = reader.get(data, "dtype", where, str, choices=DTYPES)
    minimum = reader.get(data, "min", where, (int, float), None)
    maximum = reader.get(data, "max", where, (int, float), None)
    categories = reader.strings(data, "categories", where, None) or None
    nullable = bool(reader.get(data, "nullable", where, bool, False))
    max_null_rate = reader.get(data, "max_null_rate", where, (int, float), None)
    if max_null_rate is not None and not 0 <= max_null_rate <= 1:
        reader.fail(f"{where}max_null_rate", f"must be a share between 0 and 1, got {max_null_rate}")
    if max_null_rate is not None and not nullable:
        reader.fail(f"{where}max_null_rate", "only a nullable column can have missing values to bound")
    if (minimum is not None or maximum is not None) and dtype not in ("int64", "float64"):
        reader.fail(f"{where}min", f"a range needs a numeric dtype, not {dtype}")
    if minimum is not None and maximum is not None and minimum > maximum:
        reader.fail(f"{where}min", f"{minimum} is above max {maximum}")
    if categories is not None and dtype != "str":
        reader.fail(f"{where}categories", f"categories need dtype str, not {dtype}")
    return ColumnSpec(
        dtype=dtype or "str",
        nullable=nullable,
        min_value=None if minimum is None else float(minimum),
        max_value=None if maximum is None else float(maximum),
        categories=categories,
        description=reader.get(data, "description", where, str, ""),
        max_null_rate=None if max_null_rate is None else float(max_null_rate),
    )


def _references(reader: _Reader, data: dict, where: str) -> dict[str, tuple[str, str]]:
    """``references``: column -> "table.column" it must be among, as (table, column)."""
    references = {}
    for column, target in reader.table(data, "references", where, required=False).items():
        table, _, referenced = target.partition(".") if isinstance(target, str) else ("", "", "")
        if not (table and referenced):
            reader.fail(f"{where}references.{column}", f'must be "table.column", got {target!r}')
            continue
        references[column] = (table, referenced)
    return references


def _row_bound(reader: _Reader, data: dict, key: str, where: str) -> int | None:
    value = reader.get(data, key, where, int, None)
    if value is not None and value < 0:
        reader.fail(f"{where}{key}", f"must be at least 0, got {value}")
    return value


def _table(reader: _Reader, name: str, data: dict) -> TableSpec:
    where = f"tables.{name}."
    allowed = {"role", "description", "key", "day_column", "null_rate_columns", "columns", "references"}
    reader.unknown(data, allowed | {"reference_history_days", "min_rows", "max_rows"}, where)
    raw_columns = reader.table(data, "columns", where)
    columns = {}
    for column, spec in raw_columns.items():
        if not _NAME.match(column):
            reader.fail(f"{where}columns.{column}", "a column name must be lower case letters, digits and _")
        parsed = _column(reader, spec, f"{where}columns.{column}.")
        if parsed is not None:
            columns[column] = parsed
    key = reader.strings(data, "key", where)
    day_column = reader.get(data, "day_column", where, str)
    null_rate_columns = reader.strings(data, "null_rate_columns", where, ())
    for column in (*key, *null_rate_columns, *([day_column] if day_column else [])):
        if raw_columns and column not in raw_columns:
            reader.fail(where.rstrip("."), f"names column {column!r}, which is not among its columns")
    if day_column in columns and columns[day_column].dtype not in ("date", "datetime"):
        reader.fail(f"{where}day_column", f"{day_column!r} must be a date or datetime column")
    if not key:
        reader.fail(f"{where}key", "needs at least one column")
    references = _references(reader, data, where)
    for column in references:
        if raw_columns and column not in raw_columns:
            reader.fail(f"{where}references.{column}", "is not among the table's columns")
    history_days = reader.get(data, "reference_history_days", where, int, 0)
    if history_days < 0:
        reader.fail(f"{where}reference_history_days", f"must be at least 0, got {history_days}")
    min_rows, max_rows = _row_bound(reader, data, "min_rows", where), _row_bound(reader, data, "max_rows", where)
    if min_rows is not None and max_rows is not None and min_rows > max_rows:
        reader.fail(f"{where}min_rows", f"{min_rows} is above max_rows {max_rows}")
    return TableSpec(
        name=name,
        role=reader.get(data, "role", where, str, choices=ROLES) or "events",
        columns=columns,
        key=key,
        day_column=day_column or "",
        description=reader.get(data, "description", where, str, ""),
        null_rate_columns=null_rate_columns,
        references=references,
        reference_history_days=max(history_days or 0, 0),
        min_rows=min_rows,
        max_rows=max_rows,
    )


def _categories(reader: _Reader, data: dict, tables: dict[str, TableSpec]) -> dict[str, tuple[str, ...]]:
    """``model.categorical``: column -> a list of categories, or "table.column" to take that column's categories."""
    result = {}
    for column, value in data.items():
        where = f"model.categorical.{column}"
        if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
            result[column] = tuple(value)
        elif isinstance(value, str) and "." in value:
            table, _, source = value.partition(".")
            spec = tables.get(table, None)
            declared = spec.columns.get(source) if spec else None
            if declared is None or not declared.categories:
                reader.fail(where, f'{value!r} names no column with categories (use "table.column" or a list)')
            else:
                result[column] = declared.categories
        else:
            reader.fail(where, f'must be a non-empty list of categories or "table.column", got {value!r}')
    return result


def _slices(reader: _Reader, data: Any) -> tuple[SliceSpec, ...]:
    if not isinstance(data, list):
        reader.fail("slices", "must be an array of tables ([[slices]])")
        return ()
    slices = []
    for index, item in enumerate(data):
        where = f"slices[{index}]."
        if not isinstance(item, dict):
            reader.fail(where.rstrip("."), "must be a table")
            continue
        reader.unknown(item, {"column", "name", "bands"}, where)
        column = reader.get(item, "column", where, str)
        bands = None
        raw = reader.table(item, "bands", where, required=False)
        if raw:
            bands = {}
            for band, edges in raw.items():
                ok = isinstance(edges, list) and len(edges) == 2 and all(isinstance(e, int | float) for e in edges)
                if not ok or not edges[0] < edges[1]:
                    reader.fail(f"{where}bands.{band}", f"must be [low, high) with low < high, got {edges!r}")
                    continue
                bands[band] = (float(edges[0]), float(edges[1]))
        slices.append(
            SliceSpec(column=column or "", name=reader.get(item, "name", where, str, column or ""), bands=bands)
        )
    return tuple(slices)


def _source(reader: _Reader, data: dict) -> SourceSpec | None:
    if not data:
        return None
    reader.unknown(data, {"module", "function", "description", "params"}, "source.")
    params = []
    for name, raw in reader.table(data, "params", "source.", required=False).items():
        where = f"source.params.{name}."
        if not isinstance(raw, dict):
            reader.fail(where.rstrip("."), "must be a table")
            continue
        allowed = {"default", "type", "title", "description", "enum", "minimum", "maximum", "format"}
        reader.unknown(raw, allowed, where)
        kind = reader.get(raw, "type", where, str, choices=("string", "integer", "number", "boolean"))
        enum = raw.get("enum")
        params.append(
            SourceParam(
                name=name,
                default=raw.get("default"),
                type=kind or "string",
                title=reader.get(raw, "title", where, str, name),
                description=reader.get(raw, "description", where, str),
                enum=tuple(enum) if isinstance(enum, list) else None,
                minimum=reader.get(raw, "minimum", where, (int, float), None),
                maximum=reader.get(raw, "maximum", where, (int, float), None),
                format=reader.get(raw, "format", where, str, None),
            )
        )
    return SourceSpec(
        module=reader.get(data, "module", "source.", str),
        function=reader.get(data, "function", "source.", str, "write_batches"),
        description=reader.get(data, "description", "source.", str, ""),
        params=tuple(params),
    )


def _demo(reader: _Reader, data: dict) -> DemoSpec:
    allowed = {"days", "drift_day", "corrupt_day", "clean_scored_days", "clean_days_known", "env", "params_function"}
    reader.unknown(data, allowed, "demo.")
    env = reader.table(data, "env", "demo.", required=False)
    for key, value in env.items():
        if not key.startswith("DRIFTLOOP_") or not isinstance(value, str):
            reader.fail(f"demo.env.{key}", "must be a DRIFTLOOP_* setting with a string value")
    return DemoSpec(
        days=reader.positive_int(data, "days", "demo.", 36),
        drift_day=reader.get(data, "drift_day", "demo.", int, -5),
        corrupt_day=reader.get(data, "corrupt_day", "demo.", int, None),
        clean_scored_days=reader.positive_int(data, "clean_scored_days", "demo.", 4),
        clean_days_known=reader.get(data, "clean_days_known", "demo.", bool, True),
        env={k: v for k, v in env.items() if isinstance(v, str)},
        params_function=reader.get(data, "params_function", "demo.", str, "demo_params"),
    )


def _privacy(reader: _Reader, data: dict) -> PrivacySpec:
    reader.unknown(data, {"personal_columns", "allowed_sources"}, "privacy.")
    personal = []
    for value in reader.strings(data, "personal_columns", "privacy.", ()):
        table, _, column = value.partition(".")
        if not table or not column:
            reader.fail("privacy.personal_columns", f'{value!r} must be "table.column"')
        else:
            personal.append((table, column))
    return PrivacySpec(tuple(personal), reader.strings(data, "allowed_sources", "privacy.", ()))


def _inclusion(reader: _Reader, data: dict) -> InclusionSpec:
    reader.unknown(data, {"sensitive_slices"}, "inclusion.")
    return InclusionSpec(reader.strings(data, "sensitive_slices", "inclusion.", ()))


def _privacy_checks(reader: _Reader, spec: UseCaseSpec) -> None:
    """The privacy and inclusion sections name tables, columns and slices the spec declares."""
    for table, column in spec.privacy.personal_columns:
        if column not in spec.tables.get(table, TableSpec(table, "", {}, (), "")).columns:
            reader.fail("privacy.personal_columns", f"{table}.{column} is not a declared column")
        elif column == spec.entity.join_key:
            reader.fail("privacy.personal_columns", f"{table}.{column} is the join key, which every table carries")
    for table in spec.privacy.allowed_sources:
        if table not in spec.tables:
            reader.fail("privacy.allowed_sources", f"{table!r} is not among the tables ({', '.join(spec.tables)})")
    names = {item.name for item in spec.slices}
    for name in spec.inclusion.sensitive_slices:
        if name not in names:
            reader.fail("inclusion.sensitive_slices", f"{name!r} is not a [[slices]] name ({', '.join(sorted(names))})")


def _cross_checks(reader: _Reader, spec: UseCaseSpec) -> None:
    """Checks between sections: the names one section gives must exist in another."""
    _privacy_checks(reader, spec)
    key = spec.entity.join_key
    for table in spec.tables.values():
        if table.role in ("entities", "labels") and key not in table.columns:
            reader.fail(f"tables.{table.name}", f"a {table.role} table must carry the join key {key!r}")
        if key in table.columns and table.columns[key].dtype != spec.entity.dtype:
            reader.fail(
                f"tables.{table.name}.columns.{key}.dtype",
                f"{table.columns[key].dtype} differs from entity.dtype {spec.entity.dtype}",
            )
    if spec.label.table not in spec.tables:
        reader.fail("label.table", f"{spec.label.table!r} is not among the tables ({', '.join(spec.tables)})")
        return
    labels = spec.tables[spec.label.table]
    if labels.role != "labels":
        reader.fail("label.table", f'table {labels.name!r} must have role = "labels", not {labels.role!r}')
    if spec.label.as_of_column not in labels.columns or labels.columns[spec.label.as_of_column].dtype != "date":
        reader.fail("label.as_of_column", f"{spec.label.as_of_column!r} must be a date column of {labels.name}")
    if labels.day_column != spec.label.as_of_column:
        reader.fail(f"tables.{labels.name}.day_column", f"must be the label's as_of_column {spec.label.as_of_column!r}")
    for task_type, target in spec.label.targets.items():
        if target not in labels.columns:
            reader.fail(f"label.targets.{task_type}", f"{target!r} is not a column of {labels.name}")
    if spec.label.task_type not in spec.label.targets:
        reader.fail("label.task_type", f"{spec.label.task_type!r} has no target in label.targets")
    if not spec.tables_with_role("entities") and not spec.tables_with_role("events"):
        reader.fail("tables", 'needs at least one table with role "entities" or "events" to compute features from')
    for column in spec.model.key_inputs:
        if column != key:
            reader.fail("model.key_inputs", f"{column!r} is not the join key {key!r}")
    for table in spec.tables.values():
        for column, (target, referenced) in table.references.items():
            where = f"tables.{table.name}.references.{column}"
            if target == table.name or target not in spec.tables:
                others = ", ".join(t for t in spec.tables if t != table.name)
                reader.fail(where, f"{target!r} is not another table of the batch ({others})")
            elif referenced not in spec.tables[target].columns:
                reader.fail(where, f"{referenced!r} is not a column of {target}")
            elif column in table.columns:
                ours, theirs = table.columns[column].dtype, spec.tables[target].columns[referenced].dtype
                if ours != theirs:
                    reader.fail(where, f"{ours} differs from {target}.{referenced}'s {theirs}")


def parse_spec(document: dict, folder: Path) -> UseCaseSpec:
    """Validate a parsed ``usecase.toml`` of ``folder``; raises SpecError listing every problem by field."""
    path = folder / SPEC_FILE
    errors: list[str] = []
    reader = _Reader(path, errors)
    allowed = {
        "name",
        "title",
        "description",
        "entity",
        "tables",
        "label",
        "features",
        "feast",
        "model",
        "slices",
        "predictions",
        "monitoring",
        "source",
        "demo",
        "validation",
        "privacy",
        "inclusion",
    }
    reader.unknown(document, allowed, "")
    name = reader.name(document, "name", "")
    entity_raw = reader.table(document, "entity", "")
    reader.unknown(entity_raw, {"name", "join_key", "dtype", "description"}, "entity.")
    entity = EntitySpec(
        name=reader.name(entity_raw, "name", "entity.") or "",
        join_key=reader.name(entity_raw, "join_key", "entity.") or "",
        dtype=reader.get(entity_raw, "dtype", "entity.", str, choices=KEY_DTYPES) or "int64",
        description=reader.get(entity_raw, "description", "entity.", str, ""),
    )
    tables = {}
    for table_name, raw in reader.table(document, "tables", "").items():
        if not _NAME.match(table_name):
            reader.fail(f"tables.{table_name}", "a table name must be lower case letters, digits and _")
        if isinstance(raw, dict):
            tables[table_name] = _table(reader, table_name, raw)
        else:
            reader.fail(f"tables.{table_name}", "must be a table")
    label_raw = reader.table(document, "label", "")
    reader.unknown(label_raw, {"table", "as_of_column", "targets", "horizon_days", "task_type"}, "label.")
    targets = reader.table(label_raw, "targets", "label.")
    for task_type in targets:
        if task_type not in TASK_TYPES:
            reader.fail(f"label.targets.{task_type}", f"not a task type ({', '.join(TASK_TYPES)})")
    label = LabelSpec(
        table=reader.get(label_raw, "table", "label.", str) or "",
        as_of_column=reader.get(label_raw, "as_of_column", "label.", str) or "",
        targets={k: v for k, v in targets.items() if k in TASK_TYPES and isinstance(v, str)},
        horizon_days=reader.positive_int(label_raw, "horizon_days", "label."),
        task_type=reader.get(label_raw, "task_type", "label.", str, choices=TASK_TYPES) or "",
    )
    features_raw = reader.table(document, "features", "")
    reader.unknown(features_raw, {"module", "function", "window_days"}, "features.")
    features = FeaturesSpec(
        module=reader.get(features_raw, "module", "features.", str) or "",
        function=reader.get(features_raw, "function", "features.", str, "compute_features"),
        window_days=reader.positive_int(features_raw, "window_days", "features."),
    )
    feast_raw = reader.table(document, "feast", "")
    reader.unknown(feast_raw, {"definitions", "project", "feature_view", "feature_service", "ttl_days"}, "feast.")
    feast = FeastSpec(
        definitions=reader.get(feast_raw, "definitions", "feast.", str) or "",
        project=reader.name(feast_raw, "project", "feast.", name or "") or "",
        feature_view=reader.name(feast_raw, "feature_view", "feast.") or "",
        feature_service=reader.name(feast_raw, "feature_service", "feast.") or "",
        ttl_days=reader.positive_int(feast_raw, "ttl_days", "feast."),
    )
    model_raw = reader.table(document, "model", "")
    reader.unknown(model_raw, {"name", "categorical", "exclude", "key_inputs", "training_window_days"}, "model.")
    model = ModelSpec(
        name=reader.get(model_raw, "name", "model.", str, name or ""),
        categorical=_categories(reader, reader.table(model_raw, "categorical", "model.", required=False), tables),
        exclude=reader.strings(model_raw, "exclude", "model.", ()),
        key_inputs=reader.strings(model_raw, "key_inputs", "model.", ()),
        training_window_days=reader.positive_int(model_raw, "training_window_days", "model.", 28),
    )
    validation_raw = reader.table(document, "validation", "", required=False)
    reader.unknown(validation_raw, {"acceptance"}, "validation.")
    validation = ValidationSpec(
        acceptance=reader.get(validation_raw, "acceptance", "validation.", str, "whole", choices=ACCEPTANCE) or "whole"
    )
    predictions_raw = reader.table(document, "predictions", "", required=False)
    reader.unknown(predictions_raw, {"table"}, "predictions.")
    monitoring_raw = reader.table(document, "monitoring", "", required=False)
    reader.unknown(monitoring_raw, {"exclude", "constant_within_day", "window_days", "min_rows"}, "monitoring.")
    monitoring = MonitoringSpec(
        exclude=reader.strings(monitoring_raw, "exclude", "monitoring.", ()),
        constant_within_day=reader.strings(monitoring_raw, "constant_within_day", "monitoring.", ()),
        window_days=reader.positive_int(monitoring_raw, "window_days", "monitoring.", 1),
        min_rows=reader.positive_int(monitoring_raw, "min_rows", "monitoring.", 500),
    )
    spec = UseCaseSpec(
        name=name or "",
        title=reader.get(document, "title", "", str, name or ""),
        description=reader.get(document, "description", "", str, ""),
        folder=folder,
        entity=entity,
        tables=tables,
        label=label,
        features=features,
        feast=feast,
        model=model,
        slices=_slices(reader, document.get("slices", [])),
        predictions_table=reader.name(predictions_raw, "table", "predictions.", "predictions") or "predictions",
        monitoring=monitoring,
        source=_source(reader, reader.table(document, "source", "", required=False)),
        demo=_demo(reader, reader.table(document, "demo", "", required=False)),
        validation=validation,
        privacy=_privacy(reader, reader.table(document, "privacy", "", required=False)),
        inclusion=_inclusion(reader, reader.table(document, "inclusion", "", required=False)),
    )
    if not errors:
        _cross_checks(reader, spec)
    for relative in (spec.features.module, spec.feast.definitions, *([spec.source.module] if spec.source else [])):
        if relative and not (folder / relative).is_file():
            reader.fail("files", f"{folder / relative} does not exist")
    if errors:
        raise SpecError(f"{path}: " + ("\n  ".join(["invalid use-case spec:", *errors])))
    return spec


def read_spec_document(folder: Path) -> dict:
    """The parsed TOML of ``folder/usecase.toml``; SpecError naming the file when it is missing or not TOML."""
    path = Path(folder) / SPEC_FILE
    if not path.is_file():
        raise SpecError(
            f"{path} does not exist: a use case folder needs a {SPEC_FILE} (see README, Bring your own dataset)"
        )
    try:
        return tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"{path}: not valid TOML: {exc}") from exc


def load_spec(folder: Path) -> UseCaseSpec:
    """Read and validate the use case in ``folder``."""
    folder = Path(folder).resolve()
    return parse_spec(read_spec_document(folder), folder)


def band_of(values, bands: dict[str, tuple[float, float]]):
    """The band name of each numeric value (``[low, high)``); a missing value or one outside every band gets None."""
    import pandas as pd

    numeric = pd.to_numeric(values, errors="coerce")
    result = pd.Series([None] * len(numeric), index=getattr(values, "index", None), dtype=object)
    for band, (low, high) in bands.items():
        inside = (numeric >= low) & ((numeric < high) if not math.isinf(high) else True)
        result[inside.to_numpy() & result.isna().to_numpy()] = band
    return result
