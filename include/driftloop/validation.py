"""Validation of a day's raw batch against its data contracts, and quarantine of batches that break them.

The contracts are pandera schemas generated from the table specs in ``driftloop.tables``, checked in two passes so
every failure carries one clear check name:

1. **structure and types** on the file as delivered (every value a string): columns present and no unexpected ones
   (``column_in_dataframe`` / ``column_in_schema``), values that do not parse as the column's type
   (``coerce_dtype('float64')``...), missing values where none are allowed (``not_nullable``);
2. **values** on the parsed table: ranges (``greater_than_or_equal_to(0.0)``, ``in_range(...)``), categories
   (``isin([...])``), key uniqueness (``field_uniqueness`` / ``multiple_fields_uniqueness``) and the day rule
   (``day_in_batch_interval``: timestamps inside the batch's day, labels on the day the label horizon points at).

Then batch-level checks compare the batch with the recently accepted batches of the same table:
``row_count_vs_recent`` and ``null_rate_vs_recent``.

An accepted batch is written typed to ``validated/<table>/dt=DAY/part.parquet`` with its stats; a rejected batch is
moved whole from ``raw/`` to ``quarantine/dt=DAY/`` beside a machine-readable ``report.json``, and nothing under
``validated/`` is touched. Typed dtypes: ``int64``, ``float64``, ``object`` strings, ``datetime64[ns, UTC]`` for
timestamps and ``datetime64[ns]`` (midnight) for dates.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import statistics
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd
import pandera.pandas as pa
from pandera.errors import SchemaErrors

from driftloop import lake
from driftloop.settings import Settings, get_settings
from driftloop.tables import TABLES, ColumnSpec, TableSpec

log = logging.getLogger(__name__)

PANDERA_DTYPES = {"int64": "int64", "float64": "float64", "datetime": "datetime64[ns, UTC]", "date": "datetime64[ns]"}
DAY_CHECK = "day_in_batch_interval"


@dataclass(frozen=True)
class CheckFailure:
    """One failed check: where, what, how many rows, and a few offending rows as delivered (with CSV line)."""

    table: str
    file: str
    check: str
    column: str | None
    failing_count: int
    sample_rows: list[dict] = field(default_factory=list)
    detail: str = ""

    def describe(self) -> str:
        """One line for logs and error messages."""
        where = f" on column {self.column}" if self.column else ""
        detail = f" ({self.detail})" if self.detail else ""
        return f"{self.file}: {self.check}{where}: {self.failing_count} rows{detail}"


class BatchRejected(Exception):
    """A batch broke its contract; it was quarantined with a report."""

    def __init__(self, day: date, failures: list[CheckFailure], report_path: Path) -> None:
        self.day = day
        self.failures = failures
        self.report_path = report_path
        lines = "\n".join(f"  - {failure.describe()}" for failure in failures)
        super().__init__(
            f"batch {day} rejected: {len(failures)} failed checks in "
            f"{', '.join(sorted({f.file for f in failures}))}; quarantined with {report_path}\n{lines}"
        )


@dataclass(frozen=True)
class AcceptedBatch:
    """A batch that passed every check: its day, rows per table and validated Parquet paths."""

    day: date
    row_counts: dict[str, int]
    paths: dict[str, Path]


def _value_checks(name: str, column: ColumnSpec, spec: TableSpec, expected_day: date) -> list[pa.Check]:
    checks = []
    if column.min_value is not None and column.max_value is not None:
        checks.append(pa.Check.in_range(column.min_value, column.max_value))
    elif column.min_value is not None:
        checks.append(pa.Check.ge(column.min_value))
    elif column.max_value is not None:
        checks.append(pa.Check.le(column.max_value))
    if column.categories is not None:
        checks.append(pa.Check.isin(list(column.categories)))
    if name == spec.day_column:
        start = pd.Timestamp(expected_day)
        if column.dtype == "datetime":
            start = start.tz_localize(UTC)
        end = start + pd.Timedelta(days=1)
        checks.append(
            pa.Check(
                lambda s, start=start, end=end: (s >= start) & (s < end),
                name=DAY_CHECK,
            )
        )
    return checks


def contract_for(
    spec: TableSpec, batch_day: date, label_horizon_days: int, present: list[str] | None = None
) -> pa.DataFrameSchema:
    """The value contract of ``spec`` for the batch of ``batch_day`` (ranges, categories, keys, the day rule).

    ``present`` limits it to the columns a delivered file has (missing ones are reported by the structure pass).
    """
    expected_day = spec.expected_day(batch_day, label_horizon_days)
    present = list(spec.columns) if present is None else present
    composite_key = list(spec.key) if len(spec.key) > 1 and set(spec.key) <= set(present) else None
    columns = {
        name: pa.Column(
            None,
            checks=_value_checks(name, column, spec, expected_day),
            nullable=True,
            unique=len(spec.key) == 1 and spec.key[0] == name,
        )
        for name, column in spec.columns.items()
        if name in present
    }
    return pa.DataFrameSchema(columns, unique=composite_key, name=spec.name, report_duplicates="all")


def structure_contract_for(spec: TableSpec) -> pa.DataFrameSchema:
    """The structural contract of ``spec``: exactly its columns, values that parse as their types, no missing keys."""
    columns = {
        name: pa.Column(PANDERA_DTYPES.get(column.dtype), nullable=column.nullable, coerce=column.dtype != "str")
        for name, column in spec.columns.items()
    }
    return pa.DataFrameSchema(columns, strict=True, ordered=False, name=spec.name)


def parse_columns(spec: TableSpec, raw: pd.DataFrame) -> pd.DataFrame:
    """Parse the delivered strings into the spec's types; unparseable values become missing."""
    typed = pd.DataFrame(index=raw.index)
    for name, column in spec.columns.items():
        if name not in raw.columns:
            continue
        values = raw[name]
        if column.dtype in ("int64", "float64"):
            typed[name] = pd.to_numeric(values, errors="coerce")
        elif column.dtype == "datetime":
            typed[name] = pd.to_datetime(values, errors="coerce", utc=True, format="ISO8601")
        elif column.dtype == "date":
            typed[name] = pd.to_datetime(values, errors="coerce", format="%Y-%m-%d")
        else:
            typed[name] = values.astype(object)
    return typed


def _line_numbers(index_values) -> list[int]:
    return sorted({int(i) for i in index_values if pd.notna(i)})


def _failures_from(
    errors: SchemaErrors, spec: TableSpec, raw: pd.DataFrame, file_name: str, sample_rows: int
) -> list[CheckFailure]:
    cases = errors.failure_cases
    cases = cases[~cases["check"].astype(str).str.startswith("dtype(")]
    is_coercion = cases["check"].astype(str).str.startswith("coerce_dtype")
    cases = cases[~(is_coercion & cases["failure_case"].isna())]
    failures = []
    for (check, column), group in cases.groupby(["check", "column"], dropna=False, sort=True):
        column_name = None if pd.isna(column) or column == spec.name else str(column)
        if check == "column_in_dataframe":
            column_name = str(group["failure_case"].iloc[0])
        elif check == "column_in_schema":
            column_name = ", ".join(sorted(group["failure_case"].astype(str)))
        rows = _line_numbers(group["index"])
        count = len(rows) if rows else len(raw)
        samples = [
            {"line": row + 2, **raw.loc[row].where(raw.loc[row].notna(), None).to_dict()} for row in rows[:sample_rows]
        ]
        failures.append(CheckFailure(spec.name, file_name, str(check), column_name, count, samples))
    return failures


def check_table(
    spec: TableSpec, raw_frame: pd.DataFrame, batch_day: date, settings: Settings, file_name: str
) -> tuple[pd.DataFrame | None, list[CheckFailure]]:
    """Run the structure and value contracts on a delivered table (all strings, missing values as None).

    Returns the typed table (None when any check failed) and the failures.
    """
    sample_rows = settings.validation.sample_rows
    failures: list[CheckFailure] = []
    try:
        structure_contract_for(spec).validate(raw_frame, lazy=True)
    except SchemaErrors as errors:
        failures += _failures_from(errors, spec, raw_frame, file_name, sample_rows)
    typed = parse_columns(spec, raw_frame)
    present = [c for c in spec.columns if c in typed.columns]
    try:
        contract_for(spec, batch_day, settings.label_horizon_days, present).validate(typed[present], lazy=True)
    except SchemaErrors as errors:
        failures += _failures_from(errors, spec, raw_frame, file_name, sample_rows)
    if failures:
        return None, failures
    for name, column in spec.columns.items():
        if column.dtype == "int64":
            typed[name] = typed[name].astype("int64")
    return typed, []


def table_stats(spec: TableSpec, typed: pd.DataFrame) -> dict:
    """Row count and null rate of the watched columns: what later batches are compared with."""
    return {
        "row_count": len(typed),
        "null_rates": {c: float(typed[c].isna().mean()) if len(typed) else 0.0 for c in spec.null_rate_columns},
    }


def _recent_stats(spec: TableSpec, day: date, settings: Settings) -> list[dict]:
    stats_dir = settings.validated_dir / "_stats" / spec.name
    days = [d for d in lake.partition_days(stats_dir) if d < day][-settings.validation.history_batches :]
    return [json.loads((stats_dir / f"{lake.partition_name(d)}.json").read_text()) for d in days]


def batch_level_failures(
    spec: TableSpec, stats: dict, recent: list[dict], settings: Settings, file_name: str
) -> list[CheckFailure]:
    """Compare a batch's stats with recently accepted ones (skipped with too little history)."""
    rules = settings.validation
    if len(recent) < rules.min_history_batches:
        return []
    failures = []
    median_rows = statistics.median(s["row_count"] for s in recent)
    low, high = rules.row_count_min_ratio * median_rows, rules.row_count_max_ratio * median_rows
    if median_rows and not low <= stats["row_count"] <= high:
        failures.append(
            CheckFailure(
                spec.name,
                file_name,
                "row_count_vs_recent",
                None,
                stats["row_count"],
                detail=f"{stats['row_count']} rows, expected {low:.0f}..{high:.0f} "
                f"({rules.row_count_min_ratio}..{rules.row_count_max_ratio} x median {median_rows:.0f} "
                f"of the last {len(recent)} accepted batches)",
            )
        )
    for column, rate in stats["null_rates"].items():
        ceiling = max(s["null_rates"].get(column, 0.0) for s in recent) + rules.null_rate_tolerance
        if rate > ceiling:
            failures.append(
                CheckFailure(
                    spec.name,
                    file_name,
                    "null_rate_vs_recent",
                    column,
                    round(rate * stats["row_count"]),
                    detail=f"null rate {rate:.3f} > {ceiling:.3f} (highest recent rate + tolerance)",
                )
            )
    return failures


def read_raw_table(path: Path) -> pd.DataFrame:
    """A delivered CSV with every value as a string and empty fields as None."""
    frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
    return frame.astype(object).where(frame.notna(), None)


def _quarantine(day: date, failures: list[CheckFailure], settings: Settings) -> Path:
    raw_dir = lake.partition_dir(settings.raw_dir, day)
    target = lake.partition_dir(settings.quarantine_dir, day)
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        shutil.rmtree(target)
    os.replace(raw_dir, target)
    report = {
        "day": day.isoformat(),
        "rejected_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "files": sorted(p.name for p in target.iterdir()),
        "failures": [asdict(f) for f in failures],
    }
    report_path = target / "report.json"
    report_path.write_text(json.dumps(report, indent=2, default=str))
    return report_path


def _write_accepted(day: date, typed_tables: dict[str, pd.DataFrame], settings: Settings) -> dict[str, Path]:
    paths = {}
    for name, typed in typed_tables.items():
        spec = TABLES[name]
        frame = typed.sort_values(list(spec.key), kind="stable").reset_index(drop=True)
        target = lake.partition_dir(settings.validated_dir / name, day)
        with lake.replace_dir(target) as scratch:
            frame.to_parquet(scratch / "part.parquet", index=False)
        stats_path = settings.validated_dir / "_stats" / name / f"{lake.partition_name(day)}.json"
        with lake.replace_file(stats_path) as scratch:
            scratch.write_text(json.dumps(table_stats(spec, frame), sort_keys=True))
        paths[name] = target / "part.parquet"
    return paths


def validate_batch(day: date, settings: Settings | None = None) -> AcceptedBatch:
    """Validate ``raw/dt=DAY``; accept it into ``validated/`` or quarantine it and raise BatchRejected."""
    settings = settings or get_settings()
    raw_dir = lake.partition_dir(settings.raw_dir, day)
    if not raw_dir.is_dir():
        raise FileNotFoundError(f"no raw batch for {day}: {raw_dir} does not exist (run copy_to_raw first)")
    failures: list[CheckFailure] = []
    typed_tables: dict[str, pd.DataFrame] = {}
    for spec in TABLES.values():
        path = raw_dir / spec.file_name
        if not path.exists():
            failures.append(CheckFailure(spec.name, spec.file_name, "file_present", None, 0, detail=f"{path} missing"))
            continue
        raw = read_raw_table(path)
        typed, table_failures = check_table(spec, raw, day, settings, spec.file_name)
        failures += table_failures
        if typed is not None:
            recent = _recent_stats(spec, day, settings)
            failures += batch_level_failures(spec, table_stats(spec, typed), recent, settings, spec.file_name)
            typed_tables[spec.name] = typed
    if failures:
        report_path = _quarantine(day, failures, settings)
        rejected = BatchRejected(day, failures, report_path)
        log.error("%s", rejected)
        raise rejected
    paths = _write_accepted(day, typed_tables, settings)
    stale = lake.partition_dir(settings.quarantine_dir, day)
    if stale.exists():
        shutil.rmtree(stale)
        log.info("removed the quarantine of %s: the batch was re-sent and is now accepted", day)
    counts = {name: len(frame) for name, frame in typed_tables.items()}
    log.info("accepted batch %s: %s", day, counts)
    return AcceptedBatch(day=day, row_counts=counts, paths=paths)
