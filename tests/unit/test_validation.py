"""Validation rejects each kind of broken batch with the check named, quarantines it, leaves accepted data alone."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pandas as pd
import pytest

from driftloop import lake
from driftloop.ingest import copy_batch_to_raw
from driftloop.scenarios import CORRUPTIONS
from driftloop.settings import load_settings
from driftloop.simulate import SimulationConfig, simulate_to_landing
from driftloop.tables import ACTIVITY, LABELS, PROFILES
from driftloop.validation import BatchRejected, batch_level_failures, check_table, validate_batch

START = date(2026, 3, 1)
HISTORY_DAYS = 4
HORIZON = 3
BAD_DAY = START + timedelta(days=HISTORY_DAYS)

# The check (and column) each simulated corruption must be rejected with.
EXPECTED_CHECK = {
    "missing_column": ("activity_events", "column_in_dataframe", "minutes_watched"),
    "bad_type": ("activity_events", "coerce_dtype('float64')", "minutes_watched"),
    "null_key": ("activity_events", "not_nullable", "customer_id"),
    "out_of_range": ("activity_events", "in_range(0.0, 1440.0)", "minutes_watched"),
    "unknown_category": ("customer_profiles", "isin(['basic', 'standard', 'premium'])", "plan"),
    "duplicate_key": ("activity_events", "field_uniqueness", "event_id"),
    "wrong_day": ("activity_events", "day_in_batch_interval", "event_time"),
    "truncated": ("activity_events", "row_count_vs_recent", None),
    "null_spike": ("activity_events", "null_rate_vs_recent", "device"),
}


def _config(**overrides) -> SimulationConfig:
    base = {"n_customers": 200, "seed": 5, "epoch": START - timedelta(days=10), "label_horizon_days": HORIZON}
    return SimulationConfig(**{**base, **overrides})


def _ingest(settings, config, day):
    [batch] = simulate_to_landing(config, day, 1, settings.data_root / "landing")
    copy_batch_to_raw(day, batch, settings)


@pytest.fixture
def accepted_history(data_root, monkeypatch):
    """Four accepted clean days, so batch-level checks have history."""
    monkeypatch.setenv("DRIFTLOOP_LABEL_HORIZON_DAYS", str(HORIZON))
    settings = load_settings()
    for i in range(HISTORY_DAYS):
        _ingest(settings, _config(), START + timedelta(days=i))
        validate_batch(START + timedelta(days=i), settings)
    return settings


def _digest(settings):
    return {p.relative_to(settings.data_root): p.read_bytes() for p in settings.validated_dir.rglob("*") if p.is_file()}


def test_every_simulated_corruption_kind_is_covered():
    assert set(EXPECTED_CHECK) == set(CORRUPTIONS)


@pytest.mark.parametrize("kind", CORRUPTIONS)
def test_a_corrupt_batch_is_rejected_with_its_check_and_accepted_data_is_unchanged(accepted_history, kind):
    settings = accepted_history
    before = _digest(settings)
    _ingest(settings, _config(scenario="corrupt", corruption=kind), BAD_DAY)

    with pytest.raises(BatchRejected) as rejected:
        validate_batch(BAD_DAY, settings)

    table, check, column = EXPECTED_CHECK[kind]
    named = {(f.table, f.check, f.column) for f in rejected.value.failures}
    assert (table, check, column) in named, named
    assert f"{table}.csv" in str(rejected.value) and check in str(rejected.value)
    assert _digest(settings) == before
    quarantined = lake.partition_dir(settings.quarantine_dir, BAD_DAY)
    assert not lake.partition_dir(settings.raw_dir, BAD_DAY).exists()
    report = json.loads((quarantined / "report.json").read_text())
    [failure] = [f for f in report["failures"] if (f["table"], f["check"], f["column"]) == (table, check, column)]
    assert failure["failing_count"] > 0
    assert report["day"] == BAD_DAY.isoformat() and f"{table}.csv" in report["files"]


def test_a_clean_batch_is_accepted_typed_with_every_row(accepted_history):
    settings = accepted_history
    _ingest(settings, _config(), BAD_DAY)
    raw_rows = {
        name: len(pd.read_csv(lake.partition_dir(settings.raw_dir, BAD_DAY) / f"{name}.csv"))
        for name in ("activity_events", "customer_profiles", "churn_labels")
    }
    accepted = validate_batch(BAD_DAY, settings)
    assert accepted.row_counts == raw_rows
    activity = pd.read_parquet(accepted.paths["activity_events"])
    assert str(activity["event_time"].dtype) == "datetime64[ns, UTC]"
    assert str(activity["customer_id"].dtype) == "int64"
    labels = pd.read_parquet(accepted.paths["churn_labels"])
    assert set(labels["as_of_date"].dt.date) == {BAD_DAY - timedelta(days=HORIZON)}


def test_revalidating_a_batch_gives_byte_identical_files_and_clears_a_stale_quarantine(accepted_history):
    settings = accepted_history
    _ingest(settings, _config(scenario="corrupt", corruption="bad_type"), BAD_DAY)
    with pytest.raises(BatchRejected):
        validate_batch(BAD_DAY, settings)
    _ingest(settings, _config(), BAD_DAY)
    validate_batch(BAD_DAY, settings)
    first = _digest(settings)
    _ingest(settings, _config(), BAD_DAY)
    validate_batch(BAD_DAY, settings)
    assert _digest(settings) == first
    assert not lake.partition_dir(settings.quarantine_dir, BAD_DAY).exists()


def _profiles(rows):
    return pd.DataFrame(rows, columns=list(PROFILES.columns)).astype(object)


def test_hand_made_profiles_name_each_broken_rule(data_root):
    settings = load_settings()
    day = date(2026, 5, 4)
    raw = _profiles(
        [
            ["2026-05-04", "1", "basic", "8.99", "north", "2025-01-01"],
            ["2026-05-04", "1", "gold", "8.99", None, "2025-01-01"],  # duplicate id, unknown plan
            ["2026-05-03", "3", "basic", "120", "west", "2025-01-01"],  # wrong day, charge above 100
            ["2026-05-04", "x", "basic", "9.99", "east", "2025-01-01"],  # id not an integer
        ]
    )
    typed, failures = check_table(PROFILES, raw, day, settings, "customer_profiles.csv")
    assert typed is None
    found = {(f.check, f.column): f for f in failures}
    assert found[("field_uniqueness", "customer_id")].failing_count == 2
    assert found[("isin(['basic', 'standard', 'premium'])", "plan")].failing_count == 1
    assert found[("day_in_batch_interval", "snapshot_date")].failing_count == 1
    assert found[("in_range(0.0, 100.0)", "monthly_charge")].failing_count == 1
    bad_id = found[("coerce_dtype('int64')", "customer_id")]
    assert bad_id.failing_count == 1 and bad_id.sample_rows[0]["line"] == 5
    assert bad_id.sample_rows[0]["customer_id"] == "x"


def test_labels_must_describe_the_day_the_horizon_points_at(data_root, monkeypatch):
    monkeypatch.setenv("DRIFTLOOP_LABEL_HORIZON_DAYS", "30")
    settings = load_settings()
    raw = pd.DataFrame(
        [["7", "2026-04-04", "0", "12.5"], ["8", "2026-04-05", "1", "0"]], columns=list(LABELS.columns)
    ).astype(object)
    _, failures = check_table(LABELS, raw, date(2026, 5, 4), settings, "churn_labels.csv")
    assert [(f.check, f.column, f.failing_count) for f in failures] == [("day_in_batch_interval", "as_of_date", 1)]


def test_batch_level_checks_wait_for_enough_history(data_root):
    settings = load_settings()
    stats = {"row_count": 10, "null_rates": {"device": 0.9}}
    two_batches = [{"row_count": 100, "null_rates": {"device": 0.02}}] * 2
    assert batch_level_failures(ACTIVITY, stats, two_batches, settings, "activity_events.csv") == []
    failures = batch_level_failures(ACTIVITY, stats, two_batches * 2, settings, "activity_events.csv")
    assert [(f.check, f.column) for f in failures] == [("row_count_vs_recent", None), ("null_rate_vs_recent", "device")]


def test_a_missing_file_is_a_failed_check(data_root):
    settings = load_settings()
    folder = lake.partition_dir(settings.raw_dir, START)
    folder.mkdir(parents=True)
    (folder / "activity_events.csv").write_text(",".join(ACTIVITY.columns) + "\n")
    with pytest.raises(BatchRejected) as rejected:
        validate_batch(START, settings)
    missing = {f.file for f in rejected.value.failures if f.check == "file_present"}
    assert missing == {"customer_profiles.csv", "churn_labels.csv"}
