"""Validation of a day's raw batch against its data contracts, and quarantine of batches that break them.

Each table's contract is a pandera schema generated from its spec in the use case's ``usecase.toml``. The
delivered CSV is read with every value as a string (empty fields missing) and pandera coerces it to the spec's
types. Every failure is reported under one stable check name (``CHECK_NAMES``), with the column, the number of
failing rows and a few offending rows as delivered:

- ``file_present`` / ``file_readable``: the table's CSV is in the batch and parses as CSV;
- ``column_present`` / ``column_in_contract``: every contract column is there and no other;
- ``coercible_to_dtype``: the value parses as the column's type (``int64``, ``float64``, ISO-8601 ``datetime``,
  ``YYYY-MM-DD`` ``date``);
- ``not_nullable``: a value is present where the contract requires one;
- ``value_in_range`` / ``value_in_categories``: the spec's min/max and allowed categories;
- ``key_unique``: no two rows share the table's (single or composite) key; rows with a missing key part are left
  to ``not_nullable``;
- ``day_column_in_batch_interval``: ``spec.day_column`` falls on ``spec.expected_day(batch day, label horizon)``,
  i.e. inside [day 00:00, day+1 00:00) UTC;
- ``row_count_vs_recent`` / ``null_rate_vs_recent``: the batch compared with the recently accepted batches of the
  same table (see ``batch_level_failures``).

A value that fails coercion is reported by ``coercible_to_dtype`` only; the other checks then run with that value
blanked, so the rest of the rows still get every check and one bad cell is not reported twice.

An accepted batch is written typed to ``validated/<table>/dt=DAY/part.parquet`` (rows sorted by key, so the same
input gives byte-identical files) with its stats in ``validated/_stats/<table>/dt=DAY.json``. Typed dtypes: ``int64``,
``float64``, ``object`` (Python ``str`` or ``None``), ``datetime64[ns, UTC]`` for datetimes and ``datetime64[ns]`` at
midnight for dates (Parquet keeps both as timestamps, so they read back with the same dtypes). A rejected batch is
moved whole from ``raw/`` to ``quarantine/dt=DAY/`` beside a machine-readable ``report.json``; nothing under
``validated/`` is touched.
"""

from __future__ import annotations

import json
import logging
import shutil
import statistics
import warnings
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pandas as pd
import pandera.pandas as pa
from pandera.engines import pandas_engine
from pandera.errors import SchemaErrors

from driftloop import lake, raw_zone
from driftloop.settings import Settings, get_settings
from driftloop.tables import ColumnSpec, TableSpec, batch_tables

log = logging.getLogger(__name__)

CHECK_NAMES = (
    "file_present",
    "file_readable",
    "column_present",
    "column_in_contract",
    "coercible_to_dtype",
    "not_nullable",
    "value_in_range",
    "value_in_categories",
    "key_unique",
    "day_column_in_batch_interval",
    "row_count_vs_recent",
    "null_rate_vs_recent",
)
"""Every check a batch can fail, in the order failures are reported."""

# Types the delivered strings are coerced to. Integers are coerced to pandas' nullable Int64 so that an empty cell
# is reported by not_nullable rather than failing the whole column's coercion; accepted tables store int64.
CONTRACT_DTYPES = {
    "int64": "Int64",
    "float64": "float64",
    "str": str,
    "datetime": pandas_engine.DateTime(tz="UTC", to_datetime_kwargs={"format": "ISO8601"}),
    "date": pandas_engine.DateTime(to_datetime_kwargs={"format": "%Y-%m-%d"}),
}
# pandera's own names for the failures it detects itself -> ours.
PANDERA_CHECK_NAMES = {"column_in_dataframe": "column_present", "column_in_schema": "column_in_contract"}
COERCION_PREFIX = "coerce_dtype"
FIRST_DATA_LINE = 2  # line of the first data row in a CSV file: the header is line 1


@dataclass(frozen=True)
class CheckFailure:
    """One failed check of one table: the check, the column, how many rows failed and a few of them as delivered.

    ``sample_rows`` are raw rows as dicts with their ``line`` in the CSV file (the header is line 1); ``detail``
    says what the check expected.
    """

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
        lines = [str(row["line"]) for row in self.sample_rows]
        at = f", e.g. lines {', '.join(lines)}" if lines else ""
        return f"{self.file}: {self.check}{where}: {self.failing_count} rows{detail}{at}"


class BatchRejected(Exception):
    """A batch broke its contract; it was moved to quarantine beside a report of every failed check."""

    def __init__(self, day: date, failures: list[CheckFailure], report_path: Path) -> None:
        self.day = day
        self.failures = failures
        self.report_path = report_path
        files = ", ".join(sorted({failure.file for failure in failures}))
        lines = "\n".join(f"  - {failure.describe()}" for failure in failures)
        super().__init__(
            f"batch {day} rejected: {len(failures)} failed checks in {files}; quarantined with {report_path}\n{lines}"
        )


@dataclass(frozen=True)
class AcceptedBatch:
    """A batch that passed every check: its day, rows per table and validated Parquet paths."""

    day: date
    row_counts: dict[str, int]
    paths: dict[str, Path]


def _value_checks(column: ColumnSpec) -> list[pa.Check]:
    """The range and category checks of a column, under our names (pandera's error strings change with values)."""
    low, high = column.min_value, column.max_value
    in_range = {"name": "value_in_range", "error": "value_in_range"}
    in_categories = {"name": "value_in_categories", "error": "value_in_categories"}
    checks = []
    if low is not None and high is not None:
        checks.append(pa.Check.in_range(low, high, **in_range))
    elif low is not None:
        checks.append(pa.Check.ge(low, **in_range))
    elif high is not None:
        checks.append(pa.Check.le(high, **in_range))
    if column.categories is not None:
        checks.append(pa.Check.isin(list(column.categories), **in_categories))
    return checks


def _day_bounds(column: ColumnSpec, expected_day: date) -> tuple[pd.Timestamp, pd.Timestamp]:
    start = pd.Timestamp(expected_day)
    if column.dtype == "datetime":
        start = start.tz_localize(UTC)
    return start, start + pd.Timedelta(days=1)


def _day_check(column: ColumnSpec, expected_day: date) -> pa.Check:
    start, end = _day_bounds(column, expected_day)
    return pa.Check(
        lambda values: (values >= start) & (values < end),
        name="day_column_in_batch_interval",
        error="day_column_in_batch_interval",
    )


def _key_check(key: tuple[str, ...]) -> pa.Check:
    def key_is_unique(frame: pd.DataFrame) -> pd.Series:
        if not set(key) <= set(frame.columns):  # a missing key column is reported by column_present
            return pd.Series(True, index=frame.index)
        keys = frame[list(key)]
        return keys.isna().any(axis=1) | ~keys.duplicated(keep=False)

    return pa.Check(key_is_unique, name="key_unique", error="key_unique")


def contract_for(spec: TableSpec, batch_day: date, label_horizon_days: int) -> pa.DataFrameSchema:
    """The pandera contract of ``spec`` for the batch of ``batch_day``, to validate the file as delivered (strings).

    Exactly the spec's columns (any order), each coerced to its type, with its nullability, range and categories;
    the key unique; the day column on ``spec.expected_day(batch_day, label_horizon_days)``.
    """
    expected_day = spec.expected_day(batch_day, label_horizon_days)
    columns = {}
    for name, column in spec.columns.items():
        checks = _value_checks(column)
        if name == spec.day_column:
            checks.append(_day_check(column, expected_day))
        columns[name] = pa.Column(CONTRACT_DTYPES[column.dtype], checks=checks, nullable=column.nullable)
    return pa.DataFrameSchema(
        columns, checks=[_key_check(spec.key)], strict=True, ordered=False, coerce=True, name=spec.name
    )


def _validate(contract: pa.DataFrameSchema, frame: pd.DataFrame) -> tuple[pd.DataFrame | None, pd.DataFrame]:
    """The coerced frame (None on failure) and pandera's failure cases (empty on success)."""
    with warnings.catch_warnings():
        # pandera concatenates failure cases with all-NA columns, which pandas 2.3 warns about on every failure.
        warnings.simplefilter("ignore", FutureWarning)
        try:
            return contract.validate(frame, lazy=True), pd.DataFrame()
        except SchemaErrors as errors:
            return None, errors.failure_cases


def _run_contract(contract: pa.DataFrameSchema, raw: pd.DataFrame) -> tuple[pd.DataFrame | None, pd.DataFrame]:
    """Validate ``raw`` lazily; returns the coerced frame (None when anything failed) and every failure case.

    Cells that fail coercion are reported as such, then blanked for a second pass that runs the other checks on
    the rest of the column (a column pandera could not coerce is otherwise left as strings and its checks cannot
    run); ``not_nullable`` failures of the blanked cells are dropped, they were reported as coercion failures.
    """
    typed, cases = _validate(contract, raw)
    if typed is not None:
        return typed, cases
    coercion = cases[cases["check"].astype(str).str.startswith(COERCION_PREFIX) & cases["index"].notna()]
    if coercion.empty:
        return None, cases
    blanked = raw.copy()
    bad_cells = set()
    for column, index in zip(coercion["column"], coercion["index"], strict=True):
        blanked.at[index, column] = None
        bad_cells.add((column, index))
    _, rest = _validate(contract, blanked)
    if not rest.empty:
        was_blanked = [
            check == "not_nullable" and (column, index) in bad_cells
            for check, column, index in zip(rest["check"], rest["column"], rest["index"], strict=True)
        ]
        rest = rest[~pd.Series(was_blanked, index=rest.index, dtype=bool)]
    return None, pd.concat([coercion, rest], ignore_index=True)


def _sample(raw: pd.DataFrame, rows: list[int], limit: int) -> list[dict]:
    """The first ``limit`` of ``rows`` as delivered, with their CSV line."""
    return [
        {"line": row + FIRST_DATA_LINE, **{c: None if pd.isna(v) else v for c, v in raw.loc[row].items()}}
        for row in rows[:limit]
    ]


def _detail(check: str, column: str | None, spec: TableSpec, expected_day: date) -> str:
    """What ``check`` expected of ``column``, in words."""
    column_spec = spec.columns.get(column) if column else None
    if check == "column_present":
        return "column missing from the file"
    if check == "column_in_contract":
        return f"column not in the contract of {spec.name}"
    if check == "coercible_to_dtype" and column_spec:
        written = {"datetime": "datetime (ISO 8601)", "date": "date (YYYY-MM-DD)"}
        return f"values that do not parse as {written.get(column_spec.dtype, column_spec.dtype)}"
    if check == "value_in_range" and column_spec:
        bounds = [f">= {column_spec.min_value}"] if column_spec.min_value is not None else []
        bounds += [f"<= {column_spec.max_value}"] if column_spec.max_value is not None else []
        return f"values must be {' and '.join(bounds)}"
    if check == "value_in_categories" and column_spec:
        return f"allowed: {', '.join(column_spec.categories or ())}"
    if check == "key_unique":
        return "rows that share their key"
    if check == "day_column_in_batch_interval" and column_spec:
        start, end = _day_bounds(column_spec, expected_day)
        return f"{column} must fall on {expected_day}: [{start}, {end})"
    return ""


def _name_of(check: str, column: object, failure_case: object, spec: TableSpec) -> tuple[str, str | None]:
    """Our check name and the column a pandera failure case is about."""
    if check in PANDERA_CHECK_NAMES:
        return PANDERA_CHECK_NAMES[check], str(failure_case)
    if check.startswith(COERCION_PREFIX):
        return "coercible_to_dtype", str(column)
    if check == "key_unique":
        return check, ", ".join(spec.key)
    return check, None if pd.isna(column) or column == spec.name else str(column)


def _order(failure: CheckFailure) -> tuple[int, str]:
    rank = CHECK_NAMES.index(failure.check) if failure.check in CHECK_NAMES else len(CHECK_NAMES)
    return rank, failure.column or ""


def _failures_from_cases(
    cases: pd.DataFrame, spec: TableSpec, raw: pd.DataFrame, file_name: str, expected_day: date, sample_rows: int
) -> list[CheckFailure]:
    """pandera failure cases grouped into one CheckFailure per (check, column), with failing rows counted once.

    A failure about a whole column (missing or unexpected) counts every row of the file and samples none.
    """
    rows_by_check: dict[tuple[str, str | None], set[int]] = {}
    for check, column, failure_case, index in zip(
        cases["check"].astype(str), cases["column"], cases["failure_case"], cases["index"], strict=True
    ):
        rows = rows_by_check.setdefault(_name_of(check, column, failure_case, spec), set())
        if pd.notna(index):
            rows.add(int(index))
    failures = []
    for (check, column), rows in rows_by_check.items():
        ordered = sorted(rows)
        failures.append(
            CheckFailure(
                table=spec.name,
                file=file_name,
                check=check,
                column=column,
                failing_count=len(ordered) if ordered else len(raw),
                sample_rows=_sample(raw, ordered, sample_rows),
                detail=_detail(check, column, spec, expected_day),
            )
        )
    return sorted(failures, key=_order)


def table_stats(spec: TableSpec, frame: pd.DataFrame) -> dict:
    """Row count and null rates of the spec's watched columns present in ``frame``: what later batches are compared
    with (an empty table has null rates 0.0)."""
    return {
        "row_count": len(frame),
        "null_rates": {
            column: float(frame[column].isna().mean()) if len(frame) else 0.0
            for column in spec.null_rate_columns
            if column in frame.columns
        },
    }


def _stats_path(settings: Settings, table: str, day: date) -> Path:
    return settings.validated_dir / "_stats" / table / f"{lake.partition_name(day)}.json"


def recent_stats(spec: TableSpec, day: date, settings: Settings) -> list[dict]:
    """Stats of the batches of ``spec`` accepted in the ``history_batches`` days before ``day``, oldest first."""
    first = day - timedelta(days=settings.validation.history_batches)
    stats_dir = settings.validated_dir / "_stats" / spec.name
    days = [d for d in lake.partition_days(stats_dir) if first <= d < day]
    return [json.loads(_stats_path(settings, spec.name, d).read_text()) for d in days]


def batch_level_failures(
    spec: TableSpec, frame: pd.DataFrame, recent: list[dict], settings: Settings, file_name: str
) -> list[CheckFailure]:
    """Compare a delivered table with the stats of recently accepted batches of it.

    Only non-empty recent batches count (an empty one says nothing about usual sizes or null rates), and nothing is
    checked with fewer than ``min_history_batches`` of them. ``row_count_vs_recent``: the row count is outside
    [min_ratio, max_ratio] x the median recent row count (failing_count: the batch's rows). ``null_rate_vs_recent``:
    a watched column's null rate exceeds the highest recent rate + ``null_rate_tolerance`` (failing_count: its
    missing values, sampled).
    """
    rules = settings.validation
    history = [stats for stats in recent if stats["row_count"] > 0]
    if len(history) < rules.min_history_batches:
        return []
    stats = table_stats(spec, frame)
    failures = []
    median_rows = statistics.median(s["row_count"] for s in history)
    low, high = rules.row_count_min_ratio * median_rows, rules.row_count_max_ratio * median_rows
    if not low <= stats["row_count"] <= high:
        failures.append(
            CheckFailure(
                spec.name,
                file_name,
                "row_count_vs_recent",
                None,
                stats["row_count"],
                detail=f"{stats['row_count']} rows, expected {low:g} to {high:g} ({rules.row_count_min_ratio} to "
                f"{rules.row_count_max_ratio} x the median {median_rows:g} of {len(history)} recent accepted batches)",
            )
        )
    for column, rate in stats["null_rates"].items():
        recent_rates = [s["null_rates"][column] for s in history if column in s["null_rates"]]
        if not recent_rates:
            continue
        ceiling = max(recent_rates) + rules.null_rate_tolerance
        if rate > ceiling:
            missing = [int(i) for i in frame.index[frame[column].isna()]]
            failures.append(
                CheckFailure(
                    spec.name,
                    file_name,
                    "null_rate_vs_recent",
                    column,
                    len(missing),
                    _sample(frame, missing, rules.sample_rows),
                    detail=f"null rate {rate:.3f} above {ceiling:.3f} (highest recent rate "
                    f"{max(recent_rates):.3f} + tolerance {rules.null_rate_tolerance})",
                )
            )
    return failures


def _typed_table(spec: TableSpec, coerced: pd.DataFrame) -> pd.DataFrame:
    """The accepted table: spec column order and dtypes, rows sorted by key, fresh index."""
    typed = coerced[list(spec.columns)].copy()
    for name, column in spec.columns.items():
        if column.dtype == "int64" and not column.nullable:
            typed[name] = typed[name].astype("int64")
    return typed.sort_values(list(spec.key), kind="stable").reset_index(drop=True)


def check_table(
    spec: TableSpec, raw_frame: pd.DataFrame, batch_day: date, settings: Settings, file_name: str
) -> tuple[pd.DataFrame | None, list[CheckFailure]]:
    """Run the contract and the batch-level checks on a delivered table.

    ``raw_frame`` holds the file as read by ``read_raw_table`` (strings, ``None`` for empty fields, row ``i`` on CSV
    line ``i + 2``); batch-level checks compare it with the accepted stats under ``settings.validated_dir``.
    Returns the typed table sorted by key (None when any check failed) and the failures.
    """
    raw = raw_frame.reset_index(drop=True)
    expected_day = spec.expected_day(batch_day, settings.label_horizon_days)
    coerced, cases = _run_contract(contract_for(spec, batch_day, settings.label_horizon_days), raw)
    failures = []
    if coerced is None:
        failures = _failures_from_cases(cases, spec, raw, file_name, expected_day, settings.validation.sample_rows)
    failures += batch_level_failures(spec, raw, recent_stats(spec, batch_day, settings), settings, file_name)
    if failures:
        return None, failures
    return _typed_table(spec, coerced), []


def read_raw_table(path: Path) -> pd.DataFrame:
    """A delivered CSV with every value a string and empty fields as ``None`` (text like ``n/a`` stays text)."""
    frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
    return frame.astype(object).where(frame.notna(), None)


def _check_file(
    spec: TableSpec, raw_dir: Path, day: date, settings: Settings
) -> tuple[pd.DataFrame | None, list[CheckFailure]]:
    path = raw_dir / spec.file_name
    where = raw_zone.partition_uri(day, settings).rstrip("/") + "/" + spec.file_name
    if not path.exists():
        return None, [CheckFailure(spec.name, spec.file_name, "file_present", None, 0, detail=f"{where} is missing")]
    try:
        raw = read_raw_table(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        return None, [CheckFailure(spec.name, spec.file_name, "file_readable", None, 0, detail=f"{where}: {exc}")]
    return check_table(spec, raw, day, settings, spec.file_name)


def _quarantine(day: date, failures: list[CheckFailure], raw_dir: Path, settings: Settings) -> Path:
    """Move the raw batch of ``day`` (fetched into ``raw_dir``) to ``quarantine/dt=DAY`` with its report, replacing an
    older quarantine, and remove it from the raw zone."""
    target = lake.partition_dir(settings.quarantine_dir, day)
    files = sorted(p.name for p in raw_dir.iterdir() if p.is_file() and p.name != "report.json")
    report = {
        "day": day.isoformat(),
        "rejected_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "raw_uri": raw_zone.partition_uri(day, settings),
        "files": files,
        "failures": [asdict(failure) for failure in failures],
    }
    with lake.replace_dir(target) as scratch:
        for name in files:
            shutil.copyfile(raw_dir / name, scratch / name)
        (scratch / "report.json").write_text(json.dumps(report, indent=2, default=str))
    raw_zone.remove_partition(day, settings)
    return target / "report.json"


def _write_accepted(day: date, typed_tables: dict[str, pd.DataFrame], settings: Settings) -> dict[str, Path]:
    """Write each table's Parquet partition and stats, each replaced atomically."""
    paths = {}
    for name, typed in typed_tables.items():
        target = lake.partition_dir(settings.validated_dir / name, day)
        with lake.replace_dir(target) as scratch:
            typed.to_parquet(scratch / "part.parquet", index=False, engine="pyarrow")
        with lake.replace_file(_stats_path(settings, name, day)) as scratch:
            scratch.write_text(json.dumps(table_stats(batch_tables(settings)[name], typed), indent=2, sort_keys=True))
        paths[name] = target / "part.parquet"
    return paths


def validate_batch(day: date, settings: Settings | None = None) -> AcceptedBatch:
    """Validate every table of the raw partition of ``day`` (``driftloop.raw_zone``, a folder or S3): accept the
    batch into ``validated/`` or quarantine it.

    Raises FileNotFoundError when the raw partition does not exist, and BatchRejected (after moving the batch to
    ``quarantine/dt=DAY`` with ``report.json``) when any check of any table failed. On acceptance a stale
    quarantine of the day (an earlier rejected delivery) is removed.
    """
    settings = settings or get_settings()
    failures: list[CheckFailure] = []
    typed_tables: dict[str, pd.DataFrame] = {}
    with raw_zone.fetched_partition(day, settings) as raw_dir:
        for spec in batch_tables(settings).values():
            typed, table_failures = _check_file(spec, raw_dir, day, settings)
            failures += table_failures
            if typed is not None:
                typed_tables[spec.name] = typed
        if failures:
            rejected = BatchRejected(day, failures, _quarantine(day, failures, raw_dir, settings))
            log.error("%s", rejected)
            raise rejected
    paths = _write_accepted(day, typed_tables, settings)
    stale = lake.partition_dir(settings.quarantine_dir, day)
    if stale.exists():
        shutil.rmtree(stale)
        log.info("removed the quarantine of %s: the batch was re-sent and is now accepted", day)
    row_counts = {name: len(frame) for name, frame in typed_tables.items()}
    log.info("accepted batch %s: %s", day, row_counts)
    return AcceptedBatch(day=day, row_counts=row_counts, paths=paths)
