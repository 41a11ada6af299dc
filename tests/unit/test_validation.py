"""Validation accepts a clean batch typed and sorted, and rejects each kind of broken batch with its check named.

Every batch here is a handful of hand-written CSV rows for 2026-05-04 with a 3-day label horizon (labels describe
2026-05-01), so each failing count can be read off the rows.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date, datetime, timedelta

import pandas as pd
import pytest

from churn_usecase import ACTIVITY, LABELS, PROFILES
from driftloop.ingest.validation import BatchRejected, check_table, contract_for, validate_batch
from driftloop.settings import ValidationSettings, load_settings
from driftloop.storage import lake

DAY = date(2026, 5, 4)
HORIZON = 3

ACTIVITY_ROWS = [
    {
        "event_id": "e1",
        "customer_id": "1",
        "event_time": "2026-05-04T08:00:00Z",
        "event_type": "session",
        "device": "tv",
        "genre": "drama",
        "minutes_watched": "42.5",
    },
    {
        "event_id": "e2",
        "customer_id": "2",
        "event_time": "2026-05-04T00:00:00Z",
        "event_type": "session",
        "device": "mobile",
        "genre": "comedy",
        "minutes_watched": "10",
    },
    {
        "event_id": "e3",
        "customer_id": "2",
        "event_time": "2026-05-04T23:59:59Z",
        "event_type": "support_contact",
        "device": None,
        "genre": None,
        "minutes_watched": None,
    },
    {
        "event_id": "e4",
        "customer_id": "3",
        "event_time": "2026-05-04T12:00:00+02:00",
        "event_type": "payment_failure",
        "device": None,
        "genre": None,
        "minutes_watched": None,
    },
]
PROFILE_ROWS = [
    {
        "snapshot_date": "2026-05-04",
        "customer_id": "2",
        "plan": "premium",
        "monthly_charge": "17.99",
        "region": None,
        "signup_date": "2025-06-15",
    },
    {
        "snapshot_date": "2026-05-04",
        "customer_id": "1",
        "plan": "basic",
        "monthly_charge": "8.99",
        "region": "north",
        "signup_date": "2025-01-01",
    },
    {
        "snapshot_date": "2026-05-04",
        "customer_id": "3",
        "plan": "standard",
        "monthly_charge": "12.99",
        "region": "west",
        "signup_date": "2026-04-04",
    },
]
LABEL_ROWS = [
    {"customer_id": "3", "as_of_date": "2026-05-01", "churned": "1", "future_watch_hours": "0"},
    {"customer_id": "1", "as_of_date": "2026-05-01", "churned": "0", "future_watch_hours": "12.5"},
]
CLEAN = {ACTIVITY.name: ACTIVITY_ROWS, PROFILES.name: PROFILE_ROWS, LABELS.name: LABEL_ROWS}


@pytest.fixture
def settings(data_root):
    """Settings on a fresh data root: 3-day label horizon, history of 7 days (at least 3 batches), 2 sample rows."""
    rules = ValidationSettings(
        history_batches=7,
        min_history_batches=3,
        row_count_min_ratio=0.5,
        row_count_max_ratio=2.0,
        null_rate_tolerance=0.1,
        sample_rows=2,
    )
    return replace(load_settings(), label_horizon_days=HORIZON, validation=rules)


def _changed(rows: list[dict], index: int, **values) -> list[dict]:
    """A copy of ``rows`` with row ``index`` updated."""
    return [{**row, **values} if i == index else dict(row) for i, row in enumerate(rows)]


def _write_batch(settings, day: date = DAY, **tables: list[dict]):
    """``raw/dt=DAY`` with the clean tables, replaced by any given as ``<table>=rows``; returns the folder."""
    folder = lake.partition_dir(settings.raw_dir, day)
    folder.mkdir(parents=True, exist_ok=True)
    for name, rows in {**CLEAN, **tables}.items():
        pd.DataFrame(rows).to_csv(folder / f"{name}.csv", index=False, lineterminator="\n")
    return folder


def _write_history(settings, table: str, stats_by_days_before: dict[int, dict]) -> None:
    """Stats of accepted batches of ``table``, ``n`` days before DAY, as validation stores them."""
    for days_before, stats in stats_by_days_before.items():
        path = (
            settings.validated_dir / "_stats" / table / f"{lake.partition_name(DAY - timedelta(days=days_before))}.json"
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(stats))


def _rejected(settings) -> BatchRejected:
    with pytest.raises(BatchRejected) as rejected:
        validate_batch(DAY, settings)
    return rejected.value


def _named(failures) -> dict[tuple[str, str, str | None], int]:
    return {(f.table, f.check, f.column): f.failing_count for f in failures}


def _tree(root) -> dict:
    return {p.relative_to(root): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


# The simulator's corruption kinds, built by hand: the table rows, then the (table, check, column) and failing rows.
ACTIVITY_WITHOUT_MINUTES = [{k: v for k, v in row.items() if k != "minutes_watched"} for row in ACTIVITY_ROWS]
CORRUPTIONS = {
    "missing_column": (
        {ACTIVITY.name: ACTIVITY_WITHOUT_MINUTES},
        (ACTIVITY.name, "column_present", "minutes_watched"),
        4,
    ),
    "bad_type": (
        {ACTIVITY.name: _changed(_changed(ACTIVITY_ROWS, 0, minutes_watched="n/a"), 1, minutes_watched="12,5")},
        (ACTIVITY.name, "coercible_to_dtype", "minutes_watched"),
        2,
    ),
    "null_key": (
        {ACTIVITY.name: _changed(ACTIVITY_ROWS, 2, customer_id=None)},
        (ACTIVITY.name, "not_nullable", "customer_id"),
        1,
    ),
    "out_of_range": (
        {ACTIVITY.name: _changed(ACTIVITY_ROWS, 1, minutes_watched="-5")},
        (ACTIVITY.name, "value_in_range", "minutes_watched"),
        1,
    ),
    "unknown_category": (
        {PROFILES.name: _changed(PROFILE_ROWS, 1, plan="PREMIUM+")},
        (PROFILES.name, "value_in_categories", "plan"),
        1,
    ),
    "duplicate_key": (
        {ACTIVITY.name: [*ACTIVITY_ROWS, ACTIVITY_ROWS[0]]},
        (ACTIVITY.name, "key_unique", "event_id"),
        2,
    ),
    "wrong_day": (
        {ACTIVITY.name: _changed(ACTIVITY_ROWS, 0, event_time="2026-05-03T08:00:00Z")},
        (ACTIVITY.name, "day_column_in_batch_interval", "event_time"),
        1,
    ),
}


@pytest.mark.parametrize("kind", CORRUPTIONS)
def test_each_broken_rule_rejects_the_batch_with_only_its_check_column_and_count(settings, kind):
    tables, named, failing_count = CORRUPTIONS[kind]
    _write_batch(settings, **tables)

    rejected = _rejected(settings)

    assert _named(rejected.failures) == {named: failing_count}
    table, check, column = named
    assert f"{table}.csv: {check} on column {column}: {failing_count} rows" in str(rejected)


def test_a_clean_batch_is_accepted_with_every_row_typed_and_sorted_by_key(settings):
    _write_batch(settings)

    accepted = validate_batch(DAY, settings)

    assert accepted.day == DAY
    assert accepted.row_counts == {ACTIVITY.name: 4, PROFILES.name: 3, LABELS.name: 2}
    assert accepted.paths[ACTIVITY.name] == settings.validated_dir / ACTIVITY.name / "dt=2026-05-04" / "part.parquet"
    activity = pd.read_parquet(accepted.paths[ACTIVITY.name])
    assert activity.dtypes.astype(str).to_dict() == {
        "event_id": "object",
        "customer_id": "int64",
        "event_time": "datetime64[ns, UTC]",
        "event_type": "object",
        "device": "object",
        "genre": "object",
        "minutes_watched": "float64",
    }
    assert list(activity["event_id"]) == ["e1", "e2", "e3", "e4"]
    assert activity.loc[3, "event_time"] == pd.Timestamp("2026-05-04 10:00:00", tz="UTC")  # +02:00 in the file
    assert activity["device"].tolist() == ["tv", "mobile", None, None]
    assert activity["minutes_watched"].isna().tolist() == [False, False, True, True]
    profiles = pd.read_parquet(accepted.paths[PROFILES.name])
    assert str(profiles["snapshot_date"].dtype) == "datetime64[ns]" and str(profiles["signup_date"].dtype) == (
        "datetime64[ns]"
    )
    assert profiles["customer_id"].tolist() == [1, 2, 3]
    assert profiles["signup_date"].tolist() == [pd.Timestamp(d) for d in ("2025-01-01", "2025-06-15", "2026-04-04")]
    labels = pd.read_parquet(accepted.paths[LABELS.name])
    assert labels.dtypes.astype(str).to_dict() == {
        "customer_id": "int64",
        "as_of_date": "datetime64[ns]",
        "churned": "int64",
        "future_watch_hours": "float64",
    }
    assert labels[["customer_id", "churned"]].values.tolist() == [[1, 0], [3, 1]]


def test_an_accepted_batch_stores_its_row_count_and_null_rates(settings):
    _write_batch(settings)
    validate_batch(DAY, settings)

    stats = settings.validated_dir / "_stats"
    assert json.loads((stats / ACTIVITY.name / "dt=2026-05-04.json").read_text()) == {
        "row_count": 4,
        "null_rates": {"device": 0.5, "genre": 0.5, "minutes_watched": 0.5},
    }
    assert json.loads((stats / PROFILES.name / "dt=2026-05-04.json").read_text()) == {
        "row_count": 3,
        "null_rates": {"region": 1 / 3},
    }


def test_timestamps_must_fall_inside_the_batch_day_in_utc(settings):
    times = ["2026-05-04T00:00:00Z", "2026-05-04T23:59:59Z", "2026-05-05T00:00:00Z", "2026-05-04T01:00:00+02:00"]
    rows = [_changed(ACTIVITY_ROWS, 0, event_id=f"t{i}", event_time=t)[0] for i, t in enumerate(times)]

    _, failures = check_table(ACTIVITY, pd.DataFrame(rows), DAY, settings, "activity_events.csv")

    [failure] = failures
    assert (failure.check, failure.column, failure.failing_count) == ("day_column_in_batch_interval", "event_time", 2)
    assert [row["event_time"] for row in failure.sample_rows] == ["2026-05-05T00:00:00Z", "2026-05-04T01:00:00+02:00"]


def test_labels_must_describe_the_day_the_label_horizon_points_at(settings):
    rows = _changed(LABEL_ROWS, 1, as_of_date="2026-05-04")

    _, failures = check_table(LABELS, pd.DataFrame(rows), DAY, settings, "churn_labels.csv")

    assert _named(failures) == {(LABELS.name, "day_column_in_batch_interval", "as_of_date"): 1}


def test_a_composite_key_is_unique_as_a_whole(settings):
    rows = [*LABEL_ROWS, _changed(LABEL_ROWS, 0, churned="0")[0]]

    _, failures = check_table(LABELS, pd.DataFrame(rows), DAY, settings, "churn_labels.csv")

    [failure] = failures
    assert (failure.check, failure.column, failure.failing_count) == ("key_unique", "customer_id, as_of_date", 2)
    assert [row["line"] for row in failure.sample_rows] == [2, 4]


def test_every_broken_rule_of_a_table_is_reported_at_once_and_each_bad_cell_once(settings):
    rows = [
        _changed(PROFILE_ROWS, 0, customer_id="x")[0],  # not an integer: reported as such, not as missing
        _changed(PROFILE_ROWS, 0, customer_id="0", monthly_charge="120")[0],  # id and charge out of range
        _changed(PROFILE_ROWS, 0, customer_id="5", snapshot_date="2026-05-04T05:00")[0],  # a time is not a date
        _changed(PROFILE_ROWS, 0, customer_id="6", snapshot_date="2026-05-03", region="mars")[0],
        _changed(PROFILE_ROWS, 0, customer_id="6", plan=None)[0],  # repeated id, plan missing
    ]

    typed, failures = check_table(PROFILES, pd.DataFrame(rows), DAY, settings, "customer_profiles.csv")

    assert typed is None
    assert [(f.check, f.column, f.failing_count) for f in failures] == [
        ("coercible_to_dtype", "customer_id", 1),
        ("coercible_to_dtype", "snapshot_date", 1),
        ("not_nullable", "plan", 1),
        ("value_in_range", "customer_id", 1),
        ("value_in_range", "monthly_charge", 1),
        ("value_in_categories", "region", 1),
        ("key_unique", "customer_id", 2),
        ("day_column_in_batch_interval", "snapshot_date", 1),
    ]
    bad_id, bad_date = failures[:2]
    assert bad_id.sample_rows == [{"line": 2, **rows[0]}]
    assert bad_id.detail == "values that do not parse as int64"
    assert bad_date.detail == "values that do not parse as date (YYYY-MM-DD)"


def test_columns_outside_the_contract_are_rejected(settings):
    rows = [{**row, "coupon": "SPRING"} for row in PROFILE_ROWS]

    _, failures = check_table(PROFILES, pd.DataFrame(rows), DAY, settings, "customer_profiles.csv")

    assert _named(failures) == {(PROFILES.name, "column_in_contract", "coupon"): 3}


def test_the_contract_is_generated_from_the_table_spec():
    contract = contract_for(PROFILES, DAY, HORIZON)

    assert list(contract.columns) == list(PROFILES.columns)
    assert contract.strict is True
    assert [c.name for c in contract.columns["plan"].checks] == ["value_in_categories"]
    assert [c.name for c in contract.columns["snapshot_date"].checks] == ["day_column_in_batch_interval"]
    assert [c.name for c in contract.columns["monthly_charge"].checks] == ["value_in_range", "finite_number"]
    assert contract.columns["region"].nullable and not contract.columns["plan"].nullable


def test_a_missing_table_file_is_a_failed_check(settings):
    folder = _write_batch(settings)
    (folder / "churn_labels.csv").unlink()

    rejected = _rejected(settings)

    assert _named(rejected.failures) == {(LABELS.name, "file_present", None): None}  # about the file, not rows
    assert "churn_labels.csv: file_present" in str(rejected)


def test_a_table_file_that_is_not_csv_is_a_failed_check(settings):
    folder = _write_batch(settings)
    (folder / "customer_profiles.csv").write_bytes(b"")

    assert _named(_rejected(settings).failures) == {(PROFILES.name, "file_readable", None): None}


def test_a_day_without_a_raw_batch_is_a_clear_error(settings):
    with pytest.raises(FileNotFoundError, match="raw/dt=2026-05-04"):
        validate_batch(DAY, settings)


def test_a_truncated_table_is_rejected_against_recent_row_counts(settings):
    recent = {"row_count": 40, "null_rates": {"device": 0.5, "genre": 0.5, "minutes_watched": 0.5}}
    _write_history(settings, ACTIVITY.name, {1: recent, 2: recent, 3: {**recent, "row_count": 30}})
    _write_batch(settings)

    rejected = _rejected(settings)

    [failure] = rejected.failures
    assert (failure.table, failure.check, failure.column, failure.failing_count) == (
        ACTIVITY.name,
        "row_count_vs_recent",
        None,
        4,
    )
    assert "expected 20 to 80" in failure.detail  # 0.5 and 2.0 x the median 40


def test_a_null_spike_is_rejected_against_recent_null_rates(settings):
    def recent(device_rate):
        return {"row_count": 4, "null_rates": {"device": device_rate, "genre": 0.5, "minutes_watched": 0.5}}

    _write_history(settings, ACTIVITY.name, {1: recent(0.5), 2: recent(0.25), 3: recent(0.5)})
    _write_batch(settings, activity_events=_changed(ACTIVITY_ROWS, 0, device=None))  # 3 of 4 missing: 0.75 > 0.6

    rejected = _rejected(settings)

    [failure] = rejected.failures
    assert (failure.check, failure.column, failure.failing_count) == ("null_rate_vs_recent", "device", 3)
    assert failure.detail.startswith("null rate 0.750 above 0.600")
    assert [row["line"] for row in failure.sample_rows] == [2, 4]  # settings.validation.sample_rows == 2


def test_batch_level_checks_wait_for_enough_recent_non_empty_batches(settings):
    big = {"row_count": 40, "null_rates": {"device": 0.0}}
    empty = {"row_count": 0, "null_rates": {"device": 0.0}}
    too_old = settings.validation.history_batches + 1
    _write_history(settings, ACTIVITY.name, {1: big, 2: big, 3: empty, too_old: big})
    _write_batch(settings)

    assert validate_batch(DAY, settings).row_counts[ACTIVITY.name] == 4  # two usable batches are not enough

    _write_history(settings, ACTIVITY.name, {4: big})
    _write_batch(settings)
    assert _named(_rejected(settings).failures) == {
        (ACTIVITY.name, "row_count_vs_recent", None): 4,
        (ACTIVITY.name, "null_rate_vs_recent", "device"): 2,
    }


def test_a_rejected_batch_moves_to_quarantine_with_a_machine_readable_report(settings):
    raw = _write_batch(settings, activity_events=_changed(ACTIVITY_ROWS, 1, minutes_watched="-5", device="vr"))
    delivered = _tree(raw)

    rejected = _rejected(settings)

    quarantined = lake.partition_dir(settings.quarantine_dir, DAY)
    assert _tree(raw) == delivered, "the raw zone keeps the rejected delivery as it was"
    assert rejected.report_path == quarantined / "report.json"
    assert {name: data for name, data in _tree(quarantined).items() if str(name) != "report.json"} == delivered
    report = json.loads(rejected.report_path.read_text())
    assert report["day"] == "2026-05-04"
    assert datetime.fromisoformat(report["rejected_at"]).tzinfo is not None
    assert report["files"] == ["activity_events.csv", "churn_labels.csv", "customer_profiles.csv"]
    bad_row = {"line": 3, **ACTIVITY_ROWS[1], "minutes_watched": "-5", "device": "vr"}
    assert report["failures"] == [
        {
            "table": "activity_events",
            "file": "activity_events.csv",
            "check": "value_in_range",
            "column": "minutes_watched",
            "failing_count": 1,
            "sample_rows": [bad_row],
            "detail": "values must be >= 0.0 and <= 1440.0",
        },
        {
            "table": "activity_events",
            "file": "activity_events.csv",
            "check": "value_in_categories",
            "column": "device",
            "failing_count": 1,
            "sample_rows": [bad_row],
            "detail": "allowed: tv, mobile, web, tablet",
        },
    ]


def test_the_error_names_the_day_the_files_the_checks_and_the_lines(settings):
    _write_batch(
        settings,
        activity_events=_changed(ACTIVITY_ROWS, 3, event_type="refund"),
        customer_profiles=_changed(PROFILE_ROWS, 2, monthly_charge="12,99"),
    )

    message = str(_rejected(settings))

    assert message.startswith(
        "batch 2026-05-04 rejected: 2 failed checks in activity_events.csv, customer_profiles.csv"
    )
    assert "activity_events.csv: value_in_categories on column event_type: 1 rows" in message
    assert "customer_profiles.csv: coercible_to_dtype on column monthly_charge: 1 rows" in message
    assert "e.g. lines 5" in message and "e.g. lines 4" in message


def test_a_rejection_leaves_accepted_data_of_every_day_byte_identical(settings):
    _write_batch(
        settings,
        DAY - timedelta(days=1),
        **{
            ACTIVITY.name: [
                {**row, "event_time": row["event_time"].replace("05-04", "05-03")} for row in ACTIVITY_ROWS
            ],
            PROFILES.name: [{**row, "snapshot_date": "2026-05-03"} for row in PROFILE_ROWS],
            LABELS.name: [{**row, "as_of_date": "2026-04-30"} for row in LABEL_ROWS],
        },
    )
    validate_batch(DAY - timedelta(days=1), settings)
    _write_batch(settings)
    validate_batch(DAY, settings)
    accepted = _tree(settings.validated_dir)

    _write_batch(settings, customer_profiles=_changed(PROFILE_ROWS, 0, plan="PREMIUM+"))  # the day re-sent, broken
    _rejected(settings)

    assert _tree(settings.validated_dir) == accepted


def test_revalidating_a_batch_gives_byte_identical_files_whatever_the_row_order(settings):
    _write_batch(settings)
    validate_batch(DAY, settings)
    first = _tree(settings.validated_dir)

    _write_batch(settings, **{name: rows[::-1] for name, rows in CLEAN.items()})
    validate_batch(DAY, settings)

    assert _tree(settings.validated_dir) == first


def test_a_re_sent_batch_replaces_the_quarantine_and_once_fixed_clears_it(settings):
    _write_batch(settings, activity_events=_changed(ACTIVITY_ROWS, 0, minutes_watched="n/a"))
    _rejected(settings)
    _write_batch(settings, customer_profiles=_changed(PROFILE_ROWS, 0, plan="gold"))
    _rejected(settings)

    quarantined = lake.partition_dir(settings.quarantine_dir, DAY)
    report = json.loads((quarantined / "report.json").read_text())
    assert [(f["table"], f["check"]) for f in report["failures"]] == [(PROFILES.name, "value_in_categories")]
    assert "n/a" not in (quarantined / "activity_events.csv").read_text()

    _write_batch(settings)
    validate_batch(DAY, settings)
    assert not quarantined.exists()
    assert lake.partition_dir(settings.raw_dir, DAY).exists()
