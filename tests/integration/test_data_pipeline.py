"""ingest -> validate -> features through Airflow (``dag.test()``) on tiny simulated data, one day corrupt.

The checks are on what the pipeline produced: files in raw, quarantine and the offline store, row counts, feature
values recomputed by hand from the accepted events, and online values equal to the latest offline ones.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pytest

from churn_usecase import SimulationConfig, simulate_days, simulate_to_landing
from dagruns import run_dag, tree_digest
from driftloop.dates import day_range
from driftloop.settings import load_settings
from driftloop.storage import lake, raw_zone

pytestmark = pytest.mark.integration

START = date(2026, 3, 1)
N_DAYS = 6
CORRUPT_DAY = START + timedelta(days=4)
HORIZON = 3
CUSTOMERS = 150


@pytest.fixture(scope="module")
def pipeline(airflow_db, tmp_path_factory):
    """Simulate N_DAYS (day 4 truncated), ingest every day and build features for the accepted ones."""
    monkeypatch = pytest.MonkeyPatch()
    root = tmp_path_factory.mktemp("pipeline") / "data"
    monkeypatch.setenv("DRIFTLOOP_DATA_ROOT", str(root))
    monkeypatch.setenv("DRIFTLOOP_LABEL_HORIZON_DAYS", str(HORIZON))
    monkeypatch.setenv("DRIFTLOOP_LANDING_POKE_INTERVAL_S", "1")
    monkeypatch.setenv("DRIFTLOOP_LANDING_TIMEOUT_S", "60")
    config = SimulationConfig(
        n_customers=CUSTOMERS,
        seed=11,
        epoch=START - timedelta(days=10),
        scenario="corrupt",
        scenario_start=CORRUPT_DAY,
        scenario_days=1,
        corruption="truncated",
        label_horizon_days=HORIZON,
    )
    days = day_range(START, N_DAYS)
    simulate_to_landing(config, START, N_DAYS, root / "landing")
    ingest_results = {day: run_dag("ingest", day, {"day": day.isoformat()}) for day in days}
    accepted = [day for day in days if day != CORRUPT_DAY]
    features_result = run_dag("features", days[-1], {"days": [d.isoformat() for d in accepted]})
    expected = simulate_days(config, days)
    yield {
        "root": root,
        "days": days,
        "accepted": accepted,
        "ingest": ingest_results,
        "features": features_result,
        "expected": expected,
    }
    monkeypatch.undo()
    from driftloop.settings import get_settings

    get_settings.cache_clear()


def test_clean_days_are_accepted_and_the_corrupt_day_fails_at_validation(pipeline):
    for day, (state, tasks, _) in pipeline["ingest"].items():
        if day == CORRUPT_DAY:
            assert state == "failed"
            assert tasks["copy_to_raw"] == "success" and tasks["validate"] == "failed"
        else:
            assert state == "success", (day, tasks)
    assert pipeline["features"].state == "success", pipeline["features"]


def test_raw_zone_holds_each_accepted_batch_as_delivered(pipeline):
    root = pipeline["root"]
    settings = load_settings()
    for day in pipeline["accepted"]:
        [delivery] = raw_zone.deliveries(day, settings)
        assert {entry["delivery"] for entry in raw_zone.read_manifest(day, settings)["tables"].values()} == {
            delivery.name
        }
        for name in ("activity_events.csv", "customer_profiles.csv", "churn_labels.csv"):
            landed = lake.partition_dir(root / "landing", day) / name
            assert (Path(delivery.uri) / name).read_bytes() == landed.read_bytes()


def test_validated_tables_hold_exactly_the_simulated_rows(pipeline):
    root = pipeline["root"]
    for day in pipeline["accepted"]:
        for table, frame in pipeline["expected"][day].items():
            part = pd.read_parquet(lake.partition_dir(root / "validated" / table, day) / "part.parquet")
            assert len(part) == len(frame), (day, table)
    labels = pd.read_parquet(lake.partition_dir(root / "validated" / "churn_labels", START + timedelta(days=5)))
    assert set(labels["as_of_date"].astype(str).str[:10]) <= {(START + timedelta(days=5 - HORIZON)).isoformat()}


def test_the_corrupt_batch_is_quarantined_with_its_reason_and_nothing_downstream(pipeline):
    root = pipeline["root"]
    quarantined = lake.partition_dir(root / "quarantine", CORRUPT_DAY)
    report = json.loads((quarantined / "report.json").read_text())
    checks = {(f["table"], f["check"]) for f in report["failures"]}
    assert ("activity_events", "row_count_vs_recent") in checks
    assert (quarantined / "activity_events.csv").exists()
    [delivery] = raw_zone.deliveries(CORRUPT_DAY, load_settings())
    assert report["delivery"] == delivery.name, "the rejected delivery stays in raw"
    assert raw_zone.read_manifest(CORRUPT_DAY, load_settings()) == {}, "and is not marked accepted"
    assert not (lake.partition_dir(root / "validated" / "activity_events", CORRUPT_DAY)).exists()
    assert not (root / "offline" / "customer_daily_features" / f"{lake.partition_name(CORRUPT_DAY)}.parquet").exists()


def test_offline_features_have_one_row_per_active_customer_with_values_from_accepted_events(pipeline):
    root = pipeline["root"]
    day = pipeline["accepted"][-1]
    features = pd.read_parquet(root / "offline" / "customer_daily_features" / f"{lake.partition_name(day)}.parquet")
    profiles = pipeline["expected"][day]["customer_profiles"]
    assert sorted(features["customer_id"]) == sorted(profiles["customer_id"])
    events = pd.concat(
        pd.read_parquet(lake.partition_dir(root / "validated" / "activity_events", d) / "part.parquet")
        for d in pipeline["accepted"]
        if d > day - timedelta(days=7)
    )
    sessions = events[events["event_type"] == "session"]
    busiest = sessions["customer_id"].value_counts().index[0]
    row = features.set_index("customer_id").loc[busiest]
    assert row["sessions_7d"] == (sessions["customer_id"] == busiest).sum()
    assert row["minutes_7d"] == pytest.approx(sessions.loc[sessions["customer_id"] == busiest, "minutes_watched"].sum())


def test_online_store_serves_the_latest_offline_values(pipeline):
    from driftloop.features.feature_store import online_features

    root = pipeline["root"]
    day = pipeline["accepted"][-1]
    offline = pd.read_parquet(root / "offline" / "customer_daily_features" / f"{lake.partition_name(day)}.parquet")
    sample = offline["customer_id"].sample(n=10, random_state=1).tolist()
    online = online_features(sample).set_index("customer_id").sort_index()
    expected = offline.set_index("customer_id").loc[sorted(sample)]
    for column in online.columns:
        if column in expected.columns:
            pd.testing.assert_series_equal(
                online[column], expected[column], check_dtype=False, check_names=False, obj=column
            )


def test_rerunning_ingest_and_features_for_a_day_changes_nothing(pipeline):
    root = pipeline["root"]
    day = pipeline["accepted"][2]
    zones = [root / "raw", root / "validated", root / "offline", root / "quarantine"]
    before = tree_digest(*zones)
    assert run_dag("ingest", day, {"day": day.isoformat()}).state == "success"
    assert run_dag("features", day, {"days": [day.isoformat()]}).state == "success"
    assert tree_digest(*zones) == before
