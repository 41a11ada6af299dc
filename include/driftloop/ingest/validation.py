"""Validation of a day's delivery against its data contracts, and quarantine of deliveries that break them.

Each table's contract is a pandera schema generated from its spec in the use case's ``usecase.toml``. The delivered
CSV is read by :func:`read_raw_table` (UTF-8, an optional BOM, ``,``-delimited, LF or CRLF line ends) with every
value as a string (empty fields missing), and pandera coerces it to the spec's types. Every failure is reported
under one stable check name (``CHECK_NAMES``), with the column, the number of failing rows (None for a failure about
the file) and a few offending rows as delivered, each with its line in the file:

- ``file_present`` / ``file_readable``: the table's CSV is in the delivery, is not empty, is UTF-8 (an error names
  its line) and is well-quoted CSV;
- ``file_complete``: the file ends with a line break (a file cut mid-row does not);
- ``comma_delimited``: the header is not split by another delimiter (``;``, tab, ``|``) into more contract columns;
- ``column_unique``: no column is named twice in the header;
- ``row_field_count``: every row has the header's number of fields (a short or cut row is not padded with nulls);
- ``column_present`` / ``column_in_contract``: every contract column is there and no other;
- ``coercible_to_dtype``: the value parses as the column's type (``int64``, ``float64``, ISO-8601 ``datetime``,
  ``YYYY-MM-DD`` ``date``);
- ``no_textual_nan``: no ``NaN``/``nan``/``NaT`` text in a numeric or temporal column (``DRIFTLOOP_VALIDATION_
  TEXTUAL_NAN=null`` reads it as missing instead);
- ``timestamp_has_offset``: every datetime carries a UTC offset (``DRIFTLOOP_VALIDATION_NAIVE_TIMESTAMPS=utc``
  takes naive ones as UTC), and ``timestamp_offsets_consistent``: a file does not mix naive and aware ones;
- ``not_nullable``: a value is present where the contract requires one;
- ``finite_number``: a float is not ``inf``/``Infinity`` (or a literal that overflows to it, such as ``1e400``);
- ``value_in_range`` / ``value_in_categories``: the spec's min/max and allowed categories;
- ``key_unique``: no two rows share the table's (single or composite) key; rows with a missing key part are left
  to ``not_nullable``;
- ``day_column_in_batch_interval``: ``spec.day_column`` falls on ``spec.expected_day(batch day, label horizon)``,
  i.e. inside [day 00:00, day+1 00:00) UTC;
- ``reference_exists``: a value of a column the spec's ``references`` name is among the referenced table's values
  of the row's day (see :func:`reference_failures`);
- ``row_count_in_bounds`` / ``null_rate_in_bounds``: the spec's ``min_rows``/``max_rows`` and ``max_null_rate``,
  whatever the history;
- ``row_count_vs_recent`` / ``null_rate_vs_recent``: the batch compared with the recently accepted batches of the
  same table (see ``batch_level_failures``); without enough of them they are skipped, and the skip is logged and
  written to the report (``skipped_checks``), never silent.

A value that fails coercion or a text check is reported by that check only; the other checks then run with that
value blanked, so the rest of the rows still get every check and one bad cell is not reported twice.

Deliveries are kept in the raw zone (``driftloop.storage.raw_zone``); validation reads the newest one of the day (or
the one named). An accepted delivery is written typed to ``validated/<table>/dt=DAY/part.parquet`` (rows sorted by
key, so the same input gives byte-identical files, and an unchanged file is not rewritten) with its stats in
``validated/_stats/<table>/dt=DAY.json``, and marked in the raw partition's ``_ACCEPTED`` manifest; replacing an
accepted day logs the rows added, removed and changed by key and the days whose features read it. Typed dtypes:
``int64``, ``float64``, ``object`` (Python ``str`` or ``None``), ``datetime64[ns, UTC]`` for datetimes and
``datetime64[ns]`` at midnight for dates (Parquet keeps both as timestamps, so they read back with the same
dtypes). A rejected delivery is copied to ``quarantine/dt=DAY/`` beside a machine-readable ``report.json``; raw keeps
it, and nothing under ``validated/`` is touched. The use case's ``[validation] acceptance`` says whether one failed
table rejects the whole delivery (``whole``, the default) or only itself (``per_table``).
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import logging
import re
import shutil
import statistics
import warnings
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pyarrow
import pyarrow.compute as pc
import pyarrow.csv
from pandera.engines import pandas_engine
from pandera.errors import SchemaErrors

from driftloop.errors import UnfixableInputError
from driftloop.features.partitions import feature_days_reading
from driftloop.ingest.tables import ColumnSpec, TableSpec, batch_tables
from driftloop.quality.dependencies import record_schema_changes
from driftloop.quality.privacy import mask_failures
from driftloop.settings import Settings, get_settings
from driftloop.storage import lake, raw_zone
from driftloop.usecase.active import active_spec

log = logging.getLogger(__name__)

CHECK_NAMES = (
    "file_present",
    "file_readable",
    "file_complete",
    "comma_delimited",
    "column_unique",
    "row_field_count",
    "column_present",
    "column_in_contract",
    "coercible_to_dtype",
    "no_textual_nan",
    "timestamp_has_offset",
    "timestamp_offsets_consistent",
    "not_nullable",
    "finite_number",
    "value_in_range",
    "value_in_categories",
    "key_unique",
    "day_column_in_batch_interval",
    "reference_exists",
    "row_count_in_bounds",
    "null_rate_in_bounds",
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
LINES_ATTR = "csv_lines"  # DataFrame.attrs key: the file line of each row, where rows and lines do not map 1:1
DELIMITER = ","
OTHER_DELIMITERS = (";", "\t", "|")
NAN_TEXT = {"nan", "nat"}  # lower-cased, without sign: text pandas would read as a missing number or time
# A time of day followed by a UTC offset (Z, +05:00, -0300, +05) at the end of an ISO-8601 timestamp.
UTC_OFFSET = re.compile(r"\d{2}(?::?\d{2}){0,2}(?:[.,]\d+)?\s*(?:[zZ]|[+-]\d{2}(?::?\d{2})?)$")
# What Python's str.strip() removes from an ASCII string, and UTC_OFFSET for ASCII text in RE2 syntax (pyarrow):
# RE2's \d and \s are ASCII but its \s lacks \v and \x1c-\x1f, so both are spelled out; the stripped text ends
# without a line break, where Python's $ and RE2's $ agree.
ASCII_SPACE = " \t\n\x0b\x0c\r\x1c\x1d\x1e\x1f"
ASCII_UTC_OFFSET = (
    r"[0-9]{2}(?::?[0-9]{2}){0,2}(?:[.,][0-9]+)?[ \t\n\x0b\x0c\r\x1c-\x1f]*(?:[zZ]|[+-][0-9]{2}(?::?[0-9]{2})?)$"
)
TEXT_PREVIEW = 120  # characters of a malformed line copied into a report
RAW_MARKERS = (raw_zone.COMPLETE_MARKER, raw_zone.ACCEPTED_MANIFEST)  # files of a raw partition that are not tables


@dataclass(frozen=True)
class CheckFailure:
    """One failed check of one table: the check, the column, how many rows failed and a few of them as delivered.

    ``failing_count`` is None for a failure about the file as a whole (missing, unreadable), where no row count
    means anything. ``sample_rows`` are raw rows as dicts with their ``line`` in the CSV file (the header is line
    1); ``detail`` says what the check expected.
    """

    table: str
    file: str
    check: str
    column: str | None
    failing_count: int | None
    sample_rows: list[dict] = field(default_factory=list)
    detail: str = ""

    def describe(self) -> str:
        """One line for logs and error messages."""
        where = f" on column {self.column}" if self.column else ""
        count = f": {self.failing_count} rows" if self.failing_count is not None else ""
        detail = f" ({self.detail})" if self.detail else ""
        lines = [str(row["line"]) for row in self.sample_rows if "line" in row]
        at = f", e.g. lines {', '.join(lines)}" if lines else ""
        return f"{self.file}: {self.check}{where}{count}{detail}{at}"


@dataclass(frozen=True)
class SkippedCheck:
    """A check that could not run on a table, and why (said in the log and in the report, never silently)."""

    table: str
    check: str
    reason: str

    def describe(self) -> str:
        """One line for logs and error messages."""
        return f"{self.table}: {self.check} skipped: {self.reason}"


class BatchRejected(UnfixableInputError):
    """A delivery broke its contract; it was copied to quarantine beside a report of every failed check.

    ``accepted_tables`` are the tables accepted anyway (``per_table`` acceptance); ``skipped`` the checks that could
    not run."""

    def __init__(
        self,
        day: date,
        failures: list[CheckFailure],
        report_path: Path,
        skipped: list[SkippedCheck] | None = None,
        accepted_tables: list[str] | None = None,
    ) -> None:
        self.day = day
        self.failures = failures
        self.report_path = report_path
        self.skipped = skipped or []
        self.accepted_tables = accepted_tables or []
        files = ", ".join(sorted({failure.file for failure in failures}))
        lines = "\n".join(f"  - {failure.describe()}" for failure in failures)
        notes = "".join(f"\n  - {note.describe()}" for note in self.skipped)
        kept = f"; accepted anyway (per_table): {', '.join(self.accepted_tables)}" if self.accepted_tables else ""
        super().__init__(
            f"batch {day} rejected: {len(failures)} failed checks in {files}; quarantined with {report_path}"
            f"{kept}\n{lines}{notes}"
        )


@dataclass(frozen=True)
class AcceptedBatch:
    """A delivery whose tables passed every check: its day, rows per table, validated Parquet paths, the delivery,
    what changed against the rows it replaced (table -> added/removed/changed counts, for a re-delivery), the checks
    skipped and the days whose features read the day."""

    day: date
    row_counts: dict[str, int]
    paths: dict[str, Path]
    delivery: str = ""
    changes: dict[str, dict[str, int]] = field(default_factory=dict)
    skipped: list[SkippedCheck] = field(default_factory=list)
    stale_feature_days: list[date] = field(default_factory=list)


def _value_checks(column: ColumnSpec) -> list[pa.Check]:
    """The range, category and (floats) finite checks of a column, under our names (pandera's error strings change
    with values). An infinite float is left to ``finite_number``, so it is not reported as out of range too."""
    low, high = column.min_value, column.max_value
    in_range = {"name": "value_in_range", "error": "value_in_range"}
    in_categories = {"name": "value_in_categories", "error": "value_in_categories"}
    checks = []
    if column.dtype == "float64" and (low is not None or high is not None):

        def inside_or_infinite(values: pd.Series) -> pd.Series:
            inside = pd.Series(True, index=values.index)
            if low is not None:
                inside &= values >= low
            if high is not None:
                inside &= values <= high
            return inside | np.isinf(values)

        checks.append(pa.Check(inside_or_infinite, **in_range))
    elif low is not None and high is not None:
        checks.append(pa.Check.in_range(low, high, **in_range))
    elif low is not None:
        checks.append(pa.Check.ge(low, **in_range))
    elif high is not None:
        checks.append(pa.Check.le(high, **in_range))
    if column.categories is not None:
        checks.append(pa.Check.isin(list(column.categories), **in_categories))
    if column.dtype == "float64":
        checks.append(pa.Check(lambda values: ~np.isinf(values), name="finite_number", error="finite_number"))
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


def _run_contract(
    contract: pa.DataFrameSchema, raw: pd.DataFrame, blanked_cells: frozenset = frozenset()
) -> tuple[pd.DataFrame | None, pd.DataFrame]:
    """Validate ``raw`` lazily; returns the coerced frame (None when anything failed) and every failure case.

    Cells that fail coercion are reported as such, then blanked for a second pass that runs the other checks on
    the rest of the column (a column pandera could not coerce is otherwise left as strings and its checks cannot
    run); ``not_nullable`` failures of the blanked cells, and of ``blanked_cells`` ((column, row) already blanked
    by a text check), are dropped: they were reported by the check that blanked them.
    """
    typed, cases = _validate(contract, raw)
    if typed is not None:
        return typed, cases
    coercion = cases[cases["check"].astype(str).str.startswith(COERCION_PREFIX) & cases["index"].notna()]
    bad_cells = set(blanked_cells)
    rest = cases
    if not coercion.empty:
        blanked = raw.copy()
        for column, index in zip(coercion["column"], coercion["index"], strict=True):
            blanked.at[index, column] = None
            bad_cells.add((column, index))
        _, rest = _validate(contract, blanked)
    if not rest.empty and bad_cells:
        was_blanked = [
            check == "not_nullable" and (column, index) in bad_cells
            for check, column, index in zip(rest["check"], rest["column"], rest["index"], strict=True)
        ]
        rest = rest[~pd.Series(was_blanked, index=rest.index, dtype=bool)]
    return None, pd.concat([coercion, rest], ignore_index=True)


def _line(raw: pd.DataFrame, row: int) -> int:
    """The file line of ``raw``'s row ``row``: row i is on line i + 2 unless the reader recorded the lines."""
    lines = raw.attrs.get(LINES_ATTR)
    return lines[row] if lines is not None else row + FIRST_DATA_LINE


def _sample(raw: pd.DataFrame, rows: list[int], limit: int) -> list[dict]:
    """The first ``limit`` of ``rows`` as delivered, with their CSV line."""
    return [
        {"line": _line(raw, row), **{c: None if pd.isna(v) else v for c, v in raw.loc[row].items()}}
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
    if check == "finite_number":
        return "values must be finite numbers (not inf, Infinity or a literal beyond float range such as 1e400)"
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


def _python_text_masks(values: pd.Series, offsets: bool) -> tuple[pd.Series, np.ndarray, np.ndarray]:
    """``_text_masks`` by Python's string methods, for any column (non-ASCII text, values that are not strings)."""
    text = values.dropna().astype(str).str.strip()
    is_nan = text.str.lower().str.lstrip("+-").isin(NAN_TEXT).to_numpy(dtype=bool)
    has_offset = text.str.contains(UTC_OFFSET).to_numpy(dtype=bool) if offsets else np.zeros(len(text), bool)
    return text, is_nan, has_offset


def _text_masks(values: pd.Series, offsets: bool) -> tuple[pd.Series, np.ndarray, np.ndarray]:
    """The present values of ``values`` as stripped strings (with their row labels), which of them are textual NaN
    (``NaN``, ``+nan``, ``-NaT``... in any case) and, when ``offsets``, which end with a UTC offset (else all False).

    A column of ASCII strings (every delivered number or timestamp) is handled by pyarrow; any other (a non-ASCII
    or non-string value) by Python's string methods. Both give the same masks: on ASCII text ``str.strip()``
    removes exactly ``ASCII_SPACE`` and ``ASCII_UTC_OFFSET`` matches where ``UTC_OFFSET`` does.
    """
    try:
        array = pyarrow.array(values.to_numpy(dtype=object), type=pyarrow.string(), from_pandas=True)
    except (pyarrow.ArrowInvalid, pyarrow.ArrowTypeError):
        return _python_text_masks(values, offsets)
    if pc.all(pc.string_is_ascii(array)).as_py() is False:
        return _python_text_masks(values, offsets)
    present = array.is_valid()
    stripped = pc.utf8_trim(array.filter(present), characters=ASCII_SPACE)
    unsigned = pc.utf8_ltrim(pc.ascii_lower(stripped), characters="+-")
    is_nan = pc.is_in(unsigned, value_set=pyarrow.array(sorted(NAN_TEXT))).to_numpy(zero_copy_only=False)
    has_offset = (
        pc.match_substring_regex(stripped, ASCII_UTC_OFFSET).to_numpy(zero_copy_only=False)
        if offsets
        else np.zeros(len(stripped), bool)
    )
    rows = values.index[present.to_numpy(zero_copy_only=False)]
    return pd.Series(stripped.to_numpy(zero_copy_only=False), index=rows, dtype=object), is_nan, has_offset


def _text_checks(
    spec: TableSpec, raw: pd.DataFrame, settings: Settings, file_name: str
) -> tuple[pd.DataFrame, list[CheckFailure], frozenset]:
    """The checks on the text of non-string columns that coercion would hide: textual NaN (``no_textual_nan``) and
    datetimes without a UTC offset (``timestamp_has_offset``, ``timestamp_offsets_consistent``), each under its
    policy in ``settings.validation``.

    Returns the frame for the contract (offending cells blanked; under ``textual_nan = "null"`` textual NaN is read
    as missing, so ``not_nullable`` applies to it), the failures and the (column, row) cells they blanked.
    """
    rules = settings.validation
    frame, failures, blanked = raw.copy(), [], set()

    def fail(check: str, column: str, rows: list[int], detail: str) -> None:
        failures.append(
            CheckFailure(spec.name, file_name, check, column, len(rows), _sample(raw, rows, rules.sample_rows), detail)
        )
        frame.loc[rows, column] = None
        blanked.update((column, row) for row in rows)

    for name, column in spec.columns.items():
        if name not in raw.columns or column.dtype == "str":
            continue
        text, is_nan, has_offset = _text_masks(raw[name], column.dtype == "datetime")
        nan_rows = [int(row) for row in text.index[is_nan]]
        if nan_rows and rules.textual_nan == "reject":
            fail(
                "no_textual_nan",
                name,
                nan_rows,
                "text read as NaN/NaT; deliver an empty field for a missing value "
                "(or set DRIFTLOOP_VALIDATION_TEXTUAL_NAN=null)",
            )
        elif nan_rows:
            frame.loc[nan_rows, name] = None
            log.info(
                "%s: read %d textual NaN values of %s as missing (textual NaN policy: null)",
                file_name,
                len(nan_rows),
                name,
            )
        if column.dtype != "datetime":
            continue
        text, has_offset = text[~is_nan], has_offset[~is_nan]
        parses = pd.to_datetime(text, format="ISO8601", utc=True, errors="coerce").notna().to_numpy()
        aware = has_offset[parses]
        naive_rows, aware_count = [int(row) for row in text.index[parses][~aware]], int(aware.sum())
        mixed = f"; the file mixes them with {aware_count} timestamps that carry one" if aware_count else ""
        if naive_rows and rules.naive_timestamps == "reject":
            fail(
                "timestamp_has_offset",
                name,
                naive_rows,
                f"timestamps without a UTC offset (Z or +HH:MM){mixed}; "
                "set DRIFTLOOP_VALIDATION_NAIVE_TIMESTAMPS=utc to take them as UTC",
            )
        elif naive_rows and aware_count:
            fail(
                "timestamp_offsets_consistent",
                name,
                naive_rows,
                f"timestamps without a UTC offset{mixed}: taking them as UTC would guess",
            )
        elif naive_rows:
            log.info(
                "%s: took %d timestamps of %s without a UTC offset as UTC (naive timestamp policy: utc)",
                file_name,
                len(naive_rows),
                name,
            )
    return frame, failures, frozenset(blanked)


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
    checked with fewer than ``min_history_batches`` of them (``skipped_batch_checks`` says so). ``row_count_vs_recent``:
    the row count is outside [min_ratio, max_ratio] x the median recent row count (failing_count: the batch's rows).
    ``null_rate_vs_recent``: a watched column's null rate exceeds the highest recent rate + ``null_rate_tolerance``
    (failing_count: its missing values, sampled).
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


def skipped_batch_checks(spec: TableSpec, recent: list[dict], settings: Settings) -> list[SkippedCheck]:
    """The comparisons with recent batches that ``batch_level_failures`` cannot make for lack of history, each with
    why and which of the spec's bounds were checked instead (empty when there is enough history)."""
    rules = settings.validation
    usable = sum(1 for stats in recent if stats["row_count"] > 0)
    if usable >= rules.min_history_batches:
        return []
    lack = (
        f"{usable} non-empty accepted batches in the {rules.history_batches} days before, "
        f"{rules.min_history_batches} needed (DRIFTLOOP_VALIDATION_MIN_HISTORY_BATCHES)"
    )
    declared = (("min_rows", spec.min_rows), ("max_rows", spec.max_rows))
    bounds = [f"{name}={value}" for name, value in declared if value is not None]
    instead = f"checked against {', '.join(bounds)} instead" if bounds else "no min_rows/max_rows declared to check"
    skipped = [SkippedCheck(spec.name, "row_count_vs_recent", f"{lack}; {instead}")]
    if spec.null_rate_columns:
        bounded = [c for c in spec.null_rate_columns if spec.columns[c].max_null_rate is not None]
        unbounded = [c for c in spec.null_rate_columns if c not in bounded]
        parts = [f"checked against max_null_rate instead: {', '.join(bounded)}"] if bounded else []
        parts += [f"no max_null_rate declared: {', '.join(unbounded)}"] if unbounded else []
        skipped.append(SkippedCheck(spec.name, "null_rate_vs_recent", f"{lack}; {'; '.join(parts)}"))
    return skipped


def bound_failures(spec: TableSpec, frame: pd.DataFrame, file_name: str, sample_rows: int) -> list[CheckFailure]:
    """The spec's bounds on one batch, whatever the history: ``row_count_in_bounds`` (``min_rows``/``max_rows``;
    failing_count: the batch's rows) and ``null_rate_in_bounds`` (a column's ``max_null_rate``; failing_count: its
    missing values, sampled)."""
    rows = len(frame)
    failures = []
    low, high = spec.min_rows, spec.max_rows
    if (low is not None and rows < low) or (high is not None and rows > high):
        expected = " and ".join([f">= {low}"] * (low is not None) + [f"<= {high}"] * (high is not None))
        detail = f"{rows} rows; the spec declares {expected} (min_rows/max_rows)"
        failures.append(CheckFailure(spec.name, file_name, "row_count_in_bounds", None, rows, detail=detail))
    for name, column in spec.columns.items():
        if column.max_null_rate is None or name not in frame.columns or not rows:
            continue
        missing = [int(i) for i in frame.index[frame[name].isna()]]
        if len(missing) / rows > column.max_null_rate:
            failures.append(
                CheckFailure(
                    spec.name,
                    file_name,
                    "null_rate_in_bounds",
                    name,
                    len(missing),
                    _sample(frame, missing, sample_rows),
                    detail=f"null rate {len(missing) / rows:.3f} above the spec's max_null_rate {column.max_null_rate}",
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


def _check_rows(
    spec: TableSpec, raw_frame: pd.DataFrame, batch_day: date, settings: Settings, file_name: str
) -> tuple[pd.DataFrame, pd.DataFrame | None, list[CheckFailure]]:
    """The rows as delivered (fresh index), the coerced rows in the same order (None when any check failed) and the
    failures of the text checks, the contract, the spec's bounds and the comparison with recent batches."""
    raw = raw_frame.reset_index(drop=True)
    expected_day = spec.expected_day(batch_day, settings.label_horizon_days)
    frame, failures, blanked = _text_checks(spec, raw, settings, file_name)
    coerced, cases = _run_contract(contract_for(spec, batch_day, settings.label_horizon_days), frame, blanked)
    if coerced is None:
        failures += _failures_from_cases(cases, spec, raw, file_name, expected_day, settings.validation.sample_rows)
    failures += bound_failures(spec, raw, file_name, settings.validation.sample_rows)
    failures += batch_level_failures(spec, raw, recent_stats(spec, batch_day, settings), settings, file_name)
    return raw, None if failures else coerced, sorted(failures, key=_order)


def check_table(
    spec: TableSpec, raw_frame: pd.DataFrame, batch_day: date, settings: Settings, file_name: str
) -> tuple[pd.DataFrame | None, list[CheckFailure]]:
    """Run the text checks, the contract, the spec's bounds and the batch-level checks on a delivered table.

    ``raw_frame`` holds the file as read by ``read_raw_table`` (strings, ``None`` for empty fields, row ``i`` on CSV
    line ``i + 2`` unless its attrs list the lines); batch-level checks compare it with the accepted stats under
    ``settings.validated_dir``. Returns the typed table sorted by key (None when any check failed) and the failures.
    References to other tables are checked by ``validate_batch``, which sees the whole delivery.
    """
    _, coerced, failures = _check_rows(spec, raw_frame, batch_day, settings, file_name)
    if failures:
        return None, failures
    return _typed_table(spec, coerced), []


class RawFileError(ValueError):
    """A delivered file that cannot be read as the contract's CSV; ``problems`` lists (check, detail, failing count
    or None, sample rows with their ``line``)."""

    def __init__(self, problems: list[tuple[str, str, int | None, list[dict]]]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{check}: {detail}" for check, detail, _, _ in problems))


def _decoded(data: bytes) -> str:
    """``data`` as UTF-8 text without a leading BOM; RawFileError naming the line and column of a bad byte."""
    body = data[len(codecs.BOM_UTF8) :] if data.startswith(codecs.BOM_UTF8) else data
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = body.count(b"\n", 0, exc.start) + 1
        column = exc.start - (body.rfind(b"\n", 0, exc.start) + 1) + 1
        detail = (
            f"line {line}, column {column}: byte 0x{body[exc.start]:02x} is not UTF-8 "
            "(was the file written as Latin-1 or Windows-1252?)"
        )
        raise RawFileError([("file_readable", detail, None, [{"line": line}])]) from exc


def _delimiter_hint(header: list[str], header_line: str, columns: list[str]) -> str | None:
    """Why the header looks delimited by another character than ``,``, when splitting it so finds more of
    ``columns``."""
    matches = len(set(header) & set(columns))
    for other in OTHER_DELIMITERS:
        split = next(csv.reader([header_line], delimiter=other))
        found = len(set(split) & set(columns))
        if found > matches and found >= 2:
            shown = "tab" if other == "\t" else f"'{other}'"
            return (
                f"the header splits into {len(header)} fields by ',' but into {len(split)} by {shown}, {found} of "
                f"them contract columns: the file looks {shown}-delimited; the contract expects ','"
            )
    return None


def _plain_body(text: str, header: list[str]) -> pd.DataFrame | None:
    """The rows after the header, read by pyarrow, when the file is plain enough that this is what the ``csv``
    reader gives: no quote, carriage return or NUL anywhere, no blank line, a final line break and every row the
    header's width (pyarrow refuses any other). None otherwise: the careful reader then reads the file and names
    the lines of whatever is wrong with it."""
    if not header or any(char in text for char in '"\r\x00') or "\n\n" in text or not text.endswith("\n"):
        return None
    body = text.split("\n", 1)[1]
    if not body:
        return None
    try:
        table = pyarrow.csv.read_csv(
            io.BytesIO(body.encode("utf-8")),
            read_options=pyarrow.csv.ReadOptions(column_names=header),
            parse_options=pyarrow.csv.ParseOptions(delimiter=DELIMITER, quote_char=False, escape_char=False),
            convert_options=pyarrow.csv.ConvertOptions(
                column_types=dict.fromkeys(header, pyarrow.string()), null_values=[""], strings_can_be_null=True
            ),
        )
    except pyarrow.ArrowInvalid:
        return None
    columns = {name: table.column(i).to_numpy(zero_copy_only=False) for i, name in enumerate(header)}
    return pd.DataFrame(columns, columns=header, dtype=object)


def read_raw_table(path: Path, columns: list[str] | tuple[str, ...] = ()) -> pd.DataFrame:
    """A delivered CSV with every value a string and empty fields as ``None`` (text like ``n/a`` stays text).

    UTF-8 with or without a BOM, LF or CRLF line ends; blank lines are skipped. Raises RawFileError naming the
    check (and lines) when the file is empty (``file_readable``), not UTF-8 or badly quoted (``file_readable``, with
    the line), split by another delimiter into more of the contract's ``columns`` (``comma_delimited``), names a
    column twice (``column_unique``), has rows whose field count differs from the header's (``row_field_count``,
    every such line counted) or does not end with a line break (``file_complete``: it was cut). Row ``i`` of the
    frame is on line ``i + 2`` unless ``attrs["csv_lines"]`` lists the lines (blank lines, quoted line breaks).
    A plain file (``_plain_body``) is read by pyarrow, with the same result.
    """
    text = _decoded(Path(path).read_bytes())
    if not text.strip():
        raise RawFileError([("file_readable", "the file is empty: no header line", None, [])])
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    records, lines, wrong_width = [], [], []
    try:
        header = next(reader)
        hint = _delimiter_hint(header, text.split("\n", 1)[0].rstrip("\r"), list(columns))
        if hint:
            raise RawFileError([("comma_delimited", hint, None, [{"line": 1}])])
        repeated = sorted({name for name in header if header.count(name) > 1})
        if repeated:
            detail = f"named more than once in the header: {', '.join(repeated)}"
            raise RawFileError([("column_unique", detail, None, [{"line": 1}])])
        fast = _plain_body(text, header)
        if fast is not None:
            return fast
        end = reader.line_num
        for fields in reader:
            start, end = end + 1, reader.line_num
            if not fields:
                continue
            if len(fields) != len(header):
                preview = DELIMITER.join(fields)[:TEXT_PREVIEW]
                wrong_width.append({"line": start, "field_count": len(fields), "text": preview})
            records.append(fields)
            lines.append(start)
    except csv.Error as exc:
        detail = f"line {reader.line_num}: not valid CSV ({exc})"
        raise RawFileError([("file_readable", detail, None, [{"line": reader.line_num}])]) from exc
    problems = []
    if wrong_width:
        detail = f"rows whose field count is not the header's {len(header)} (a short row is not padded with nulls)"
        problems.append(("row_field_count", detail, len(wrong_width), wrong_width))
    if not text.endswith(("\n", "\r")):
        last = lines[-1] if lines else 1
        detail = f"the file does not end with a line break: its last line (line {last}) was cut"
        problems.append(("file_complete", detail, 1 if lines else None, [{"line": last, "text": text[-TEXT_PREVIEW:]}]))
    if problems:
        raise RawFileError(problems)
    frame = pd.DataFrame(records, columns=header, dtype=object)
    frame = frame.where(frame != "", None)
    if lines != list(range(FIRST_DATA_LINE, FIRST_DATA_LINE + len(lines))):
        frame.attrs[LINES_ATTR] = lines
    return frame


def _check_file(
    spec: TableSpec, folder: Path, delivery: raw_zone.Delivery, day: date, settings: Settings
) -> tuple[pd.DataFrame | None, pd.DataFrame | None, list[CheckFailure]]:
    """The rows of ``spec``'s file in the fetched ``delivery`` as delivered (None when unreadable), coerced (None
    when any check failed) and its failures."""
    path = folder / spec.file_name
    where = delivery.uri.rstrip("/") + "/" + spec.file_name
    if not path.exists():
        missing = CheckFailure(spec.name, spec.file_name, "file_present", None, None, detail=f"{where} is missing")
        return None, None, [missing]
    try:
        raw = read_raw_table(path, list(spec.columns))
    except RawFileError as error:
        limit = settings.validation.sample_rows
        return (
            None,
            None,
            [
                CheckFailure(spec.name, spec.file_name, check, None, count, samples[:limit], f"{where}: {detail}")
                for check, detail, count, samples in error.problems
            ],
        )
    return _check_rows(spec, raw, day, settings, spec.file_name)


def _referenced_values(
    table: TableSpec, column: str, row_day: date, batch_day: date, delivered: dict, settings: Settings
) -> tuple[set | None, str]:
    """The values of ``table.column`` on ``row_day``: from this delivery when that day's rows belong to its batch,
    else from the accepted partition; None and why when they are not available."""
    source_day = table.batch_day_of(row_day, settings.label_horizon_days)
    if source_day == batch_day:
        frame = delivered.get(table.name)
        if frame is None:
            return None, f"{table.file_name} of this delivery failed its own checks"
        return set(frame[column].dropna()), ""
    path = lake.partition_dir(settings.validated_dir / table.name, source_day) / "part.parquet"
    if not path.exists():
        return None, f"no accepted {table.name} for {source_day}"
    return set(pd.read_parquet(path, columns=[column])[column].dropna()), ""


def reference_failures(
    tables: dict[str, TableSpec],
    coerced: dict[str, pd.DataFrame | None],
    raws: dict[str, pd.DataFrame],
    batch_day: date,
    settings: Settings,
    acceptance: str,
) -> tuple[dict[str, list[CheckFailure]], list[SkippedCheck]]:
    """``reference_exists`` for every ``references`` entry of each table that passed its own checks: a value must be
    among the referenced column's values of the row's day (this delivery's rows for the batch day, the accepted
    partition for an earlier day) or of the table's ``reference_history_days`` days before it.

    A row whose own day's referenced rows are not available (that day was never accepted, or the referenced table
    failed in this delivery) and whose value is not found elsewhere is not checked; the skip is returned to be
    logged and reported. Under ``per_table`` acceptance, though, a value that only a table this delivery failed
    could confirm is a failure, since the referencing table would otherwise be accepted alone.
    """
    failures: dict[str, list[CheckFailure]] = {}
    skipped = []
    for spec in tables.values():
        frame = coerced.get(spec.name)
        if frame is None:
            continue
        row_days = frame[spec.day_column].dt.date
        for column, (target, referenced) in spec.references.items():
            present = frame[column].notna()
            bad_rows, bad_days, unchecked, reasons = [], set(), 0, set()
            for row_day in sorted(set(row_days[present])):
                known, own_reason = set(), ""
                for back in range(spec.reference_history_days + 1):
                    values, reason = _referenced_values(
                        tables[target], referenced, row_day - timedelta(days=back), batch_day, coerced, settings
                    )
                    known |= values or set()
                    own_reason = reason if back == 0 else own_reason
                missing = present & (row_days == row_day) & ~frame[column].isin(list(known))
                source_day = tables[target].batch_day_of(row_day, settings.label_horizon_days)
                failed_here = source_day == batch_day and coerced.get(target) is None
                if own_reason and not (failed_here and acceptance == "per_table"):
                    unchecked += int(missing.sum())
                    if missing.any():
                        reasons.add(own_reason)
                elif missing.any():
                    bad_rows += [int(row) for row in frame.index[missing]]
                    bad_days.add(str(row_day))
            if bad_rows:
                history = f" or the {spec.reference_history_days} days before" if spec.reference_history_days else ""
                failures.setdefault(spec.name, []).append(
                    CheckFailure(
                        spec.name,
                        spec.file_name,
                        "reference_exists",
                        column,
                        len(bad_rows),
                        _sample(raws[spec.name], bad_rows, settings.validation.sample_rows),
                        detail=f"values not among {target}.{referenced} of the row's day{history} "
                        f"({', '.join(sorted(bad_days))})",
                    )
                )
            if unchecked:
                reason = f"{unchecked} rows of {column} not checked against {target}.{referenced}: " + "; ".join(
                    sorted(reasons)
                )
                skipped.append(SkippedCheck(spec.name, "reference_exists", reason))
    return failures, skipped


def _quarantine(
    delivery: raw_zone.Delivery,
    failures: list[CheckFailure],
    skipped: list[SkippedCheck],
    accepted_tables: list[str],
    folder: Path,
    settings: Settings,
) -> Path:
    """Copy ``delivery`` (fetched into ``folder``) to ``quarantine/dt=DAY`` with its report, replacing an older
    quarantine of the day; the raw zone keeps the delivery."""
    target = lake.partition_dir(settings.quarantine_dir, delivery.day)
    files = sorted(p.name for p in folder.iterdir() if p.is_file() and p.name not in RAW_MARKERS)
    report = {
        "day": delivery.day.isoformat(),
        "rejected_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "delivery": delivery.name,
        "raw_uri": delivery.uri,
        "files": files,
        "accepted_tables": accepted_tables,
        "failures": [asdict(failure) for failure in failures],
        "skipped_checks": [asdict(note) for note in skipped],
    }
    with lake.replace_dir(target) as scratch:
        for name in files:
            shutil.copyfile(folder / name, scratch / name)
        (scratch / "report.json").write_text(json.dumps(report, indent=2, default=str))
    return target / "report.json"


def row_changes(spec: TableSpec, old: pd.DataFrame, new: pd.DataFrame) -> dict[str, int]:
    """Rows of ``new`` whose key ``old`` lacks (added), rows of ``old`` whose key ``new`` lacks (removed), and rows
    with a key in both and another value in any column (changed); both are typed tables of ``spec``."""
    before, after = old.set_index(list(spec.key)), new.set_index(list(spec.key))
    common = before.index.intersection(after.index)
    left, right = before.reindex(common), after.reindex(common)
    differs = (left != right) & ~(left.isna() & right.isna())
    return {
        "added": len(after.index.difference(before.index)),
        "removed": len(before.index.difference(after.index)),
        "changed": int(differs.any(axis=1).sum()),
    }


def _write_accepted(
    day: date, typed_tables: dict[str, pd.DataFrame], settings: Settings
) -> tuple[dict[str, Path], dict[str, dict[str, int]], list[str]]:
    """Write each table's Parquet partition and stats, each replaced atomically and only when its bytes differ.

    Returns the paths, what changed against the partitions replaced (tables that had one) and the tables written."""
    paths, changes, written = {}, {}, []
    tables = batch_tables(settings)
    for name, typed in typed_tables.items():
        target = lake.partition_dir(settings.validated_dir / name, day)
        part = target / "part.parquet"
        buffer = io.BytesIO()
        typed.to_parquet(buffer, index=False, engine="pyarrow")
        data = buffer.getvalue()
        same = part.exists() and part.read_bytes() == data
        if part.exists():
            changes[name] = (
                {"added": 0, "removed": 0, "changed": 0}
                if same
                else row_changes(tables[name], pd.read_parquet(part), typed)
            )
        if not same:
            with lake.replace_dir(target) as scratch:
                (scratch / "part.parquet").write_bytes(data)
            written.append(name)
        stats = json.dumps(table_stats(tables[name], typed), indent=2, sort_keys=True)
        stats_path = _stats_path(settings, name, day)
        if not stats_path.exists() or stats_path.read_text() != stats:
            with lake.replace_file(stats_path) as scratch:
                scratch.write_text(stats)
        paths[name] = part
    return paths, changes, written


def _accept(
    delivery: raw_zone.Delivery, typed_tables: dict[str, pd.DataFrame], skipped: list[SkippedCheck], settings: Settings
) -> AcceptedBatch:
    """Write the accepted tables of ``delivery``, mark them in the raw partition's manifest, log what a re-delivery
    changed and which days' features read the day, and drop a stale quarantine once every table is accepted."""
    day = delivery.day
    previous = raw_zone.read_manifest(day, settings).get("tables", {})
    paths, changes, written = _write_accepted(day, typed_tables, settings)
    entries = dict(previous)
    for name, typed in typed_tables.items():
        notes = [note.reason for note in skipped if note.table == name]
        entries[name] = {"delivery": delivery.name, "rows": len(typed), "skipped_checks": notes}
    raw_zone.write_manifest(day, {"day": day.isoformat(), "tables": entries}, settings)
    for name, change in changes.items():
        replaced = previous.get(name, {}).get("delivery", "an earlier delivery")
        if name in written:
            log.warning(
                "%s of %s: delivery %s replaces the accepted rows of %s: %d added, %d removed, %d changed (by key %s)",
                name, day, delivery.name, replaced, change["added"], change["removed"], change["changed"],
                ", ".join(batch_tables(settings)[name].key),
            )  # fmt: skip
        else:
            log.info("%s of %s: delivery %s holds the same rows as the accepted %s", name, day, delivery.name, replaced)
    stale = feature_days_reading(day, written, settings)
    if stale:
        log.warning(
            "features of %s read %s and are now older than it; `features` rebuilds them (pending_feature_days)",
            ", ".join(str(d) for d in stale), day,
        )  # fmt: skip
    quarantined = lake.partition_dir(settings.quarantine_dir, day)
    if len(typed_tables) == len(batch_tables(settings)) and quarantined.exists():
        shutil.rmtree(quarantined)
        log.info("removed the quarantine of %s: the batch was re-sent and is now accepted", day)
    row_counts = {name: len(frame) for name, frame in typed_tables.items()}
    log.info("accepted batch %s (%s): %s", day, delivery.name, row_counts)
    return AcceptedBatch(day, row_counts, paths, delivery.name, changes, skipped, stale)


def validate_batch(day: date, settings: Settings | None = None, delivery: str | None = None) -> AcceptedBatch:
    """Validate every table of a delivery of ``day`` in the raw zone (``driftloop.storage.raw_zone``, a folder or S3):
    the one named by ``delivery``, else the newest. Accept it into ``validated/`` or quarantine it.

    Raises FileNotFoundError when the day has no such delivery, and BatchRejected (after copying the delivery to
    ``quarantine/dt=DAY`` with ``report.json``) when any check of any table failed; under the use case's
    ``per_table`` acceptance the tables that passed are accepted first. Checks that were skipped are logged as
    warnings and reported. On acceptance of every table a stale quarantine of the day is removed.
    """
    settings = settings or get_settings()
    tables = batch_tables(settings)
    use_case = active_spec(settings)
    acceptance = use_case.validation.acceptance
    found = raw_zone.find_delivery(day, settings, delivery)
    failures: dict[str, list[CheckFailure]] = {}
    coerced: dict[str, pd.DataFrame | None] = {}
    raws: dict[str, pd.DataFrame] = {}
    skipped: list[SkippedCheck] = []
    with raw_zone.fetched_delivery(found, settings) as folder:
        for spec in tables.values():
            raw, coerced[spec.name], failures[spec.name] = _check_file(spec, folder, found, day, settings)
            if raw is not None:
                raws[spec.name] = raw
                skipped += skipped_batch_checks(spec, recent_stats(spec, day, settings), settings)
        referenced, reference_skips = reference_failures(tables, coerced, raws, day, settings, acceptance)
        skipped += reference_skips
        for name, table_failures in referenced.items():
            failures[name] = sorted(failures[name] + table_failures, key=_order)
        # Personal columns never reach the quarantine report or the log; schema changes are noticed even when the
        # batch is rejected.
        failures = {name: mask_failures(table_failures, use_case) for name, table_failures in failures.items()}
        for notice in record_schema_changes(day, raws, settings.data_root):
            log.warning("batch %s: upstream schema change: %s", day, notice)
        for note in skipped:
            log.warning("batch %s: %s", day, note.describe())
        rejected = [name for name in tables if failures[name]]
        accepted = [] if rejected and acceptance == "whole" else [name for name in tables if name not in rejected]
        if rejected:
            every_failure = [failure for name in tables for failure in failures[name]]
            report = _quarantine(found, every_failure, skipped, accepted, folder, settings)
    typed_tables = {name: _typed_table(tables[name], coerced[name]) for name in accepted}
    result = _accept(found, typed_tables, skipped, settings) if accepted else None
    if rejected:
        # Not logged here: whoever runs the validation tells it once (the ingest task's log, the CLI's stderr).
        raise BatchRejected(day, every_failure, report, skipped, accepted)
    return result
