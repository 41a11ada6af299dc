"""Feast on the feature repo: apply is idempotent, materialize puts each customer's newest offline row online (again
and again), and the offline store's folder of daily files serves point-in-time lookups through the FeatureService."""

from __future__ import annotations

import os
import uuid
from dataclasses import replace
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from churn_usecase import ACTIVITY, CHURN, DEVICES, PLANS, PROFILES, REGIONS
from driftloop.dates import as_of_timestamp, day_range
from driftloop.features.feature_store import (
    apply_feature_repo,
    declared_feature_schema,
    feature_store,
    materialize_days,
    online_features,
)
from driftloop.features.partitions import build_features_for_day
from driftloop.settings import get_settings, load_settings
from driftloop.storage import lake

FEATURE_SERVICE, FEATURE_VIEW = CHURN.feast.feature_service, CHURN.feast.feature_view

DAYS = day_range(date(2026, 3, 1), 4)
N_CUSTOMERS = 50
CHURNED = 50  # in the snapshots of the first three days only
SAMPLE = [1, 2, 17, 33, 49, CHURNED]


def _accepted_day(day: date, rng: np.random.Generator) -> dict[str, pd.DataFrame]:
    """Typed accepted tables of one day: every active customer's profile and a few sessions and support contacts."""
    ids = [i for i in range(1, N_CUSTOMERS + 1) if not (i == CHURNED and day == DAYS[-1])]
    profiles = pd.DataFrame(
        {
            "snapshot_date": pd.Timestamp(day),
            "customer_id": ids,
            "plan": [PLANS[i % 3] for i in ids],
            "monthly_charge": [8.99 + 5 * (i % 3) for i in ids],
            "region": [None if i % 7 == 0 else REGIONS[i % 4] for i in ids],
            "signup_date": [pd.Timestamp("2025-01-01") + pd.Timedelta(days=3 * i) for i in ids],
        }
    )
    owners = np.repeat(ids, rng.poisson(2.0, len(ids)))
    activity = pd.DataFrame(
        {
            "customer_id": owners,
            "event_time": pd.Timestamp(day, tz="UTC") + pd.to_timedelta(rng.integers(0, 86400, len(owners)), "s"),
            "event_type": rng.choice(["session"] * 9 + ["support_contact"], len(owners)),
            "device": rng.choice(DEVICES, len(owners)),
            "genre": "drama",
            "minutes_watched": rng.uniform(1, 120, len(owners)).round(1),
        }
    )
    activity["event_id"] = [f"{day}-{i}" for i in range(len(activity))]
    return {ACTIVITY.name: activity[list(ACTIVITY.columns)], PROFILES.name: profiles[list(PROFILES.columns)]}


@pytest.fixture(scope="module")
def settings(tmp_path_factory):
    """A data root with four accepted days, their features built, the repo applied and every day materialized."""
    with pytest.MonkeyPatch.context() as env:
        env.setenv("DRIFTLOOP_DATA_ROOT", str(tmp_path_factory.mktemp("data")))
        get_settings.cache_clear()
        settings = load_settings()
        rng = np.random.default_rng(3)
        for day in DAYS:
            for table, frame in _accepted_day(day, rng).items():
                target = lake.partition_dir(settings.validated_dir / table, day)
                target.mkdir(parents=True)
                frame.to_parquet(target / "part.parquet", index=False)
            build_features_for_day(day, settings)
        apply_feature_repo(settings)
        materialize_days(DAYS, settings)
        yield settings
    get_settings.cache_clear()


REDIS_URL = os.environ.get("DRIFTLOOP_TEST_REDIS_URL", "redis://127.0.0.1:6379/12")
"""A Redis the Redis online store test writes to (its keys are deleted afterwards); the test is skipped without it."""
ALL_CUSTOMERS = list(range(1, N_CUSTOMERS + 1))


def _newest_offline_rows(settings, customer_ids) -> pd.DataFrame:
    offline = pd.concat(pd.read_parquet(p) for p in sorted(settings.offline_store_dir.glob("dt=*.parquet")))
    newest = offline.sort_values("event_timestamp").groupby("customer_id").last()
    return newest.loc[customer_ids].drop(columns="event_timestamp")


def test_apply_registers_the_repo_and_applying_again_changes_nothing(settings):
    names = ["customer", FEATURE_SERVICE, FEATURE_VIEW, "customer_daily_features_source"]
    assert apply_feature_repo(settings) == sorted(names)
    assert apply_feature_repo(settings) == sorted(names)
    store = feature_store(settings)
    assert [view.name for view in store.list_feature_views()] == [FEATURE_VIEW]
    registered = {f.name: str(f.dtype) for f in store.get_feature_view(FEATURE_VIEW).features}
    assert registered == declared_feature_schema(settings)
    assert store.get_feature_view(FEATURE_VIEW).ttl == timedelta(days=2)


def test_online_values_are_each_customers_newest_offline_row(settings):
    online = online_features(SAMPLE, settings).set_index("customer_id")
    expected = _newest_offline_rows(settings, SAMPLE)
    assert list(online.columns) == list(declared_feature_schema(settings))
    pd.testing.assert_frame_equal(online, expected[online.columns], check_dtype=False)
    # the churned customer keeps their last row, the day before they left
    assert online.loc[CHURNED, "tenure_days"] == (DAYS[-2] - date(2025, 1, 1)).days - 3 * CHURNED


def test_materializing_again_gives_the_same_online_values(settings):
    before = online_features(SAMPLE, settings)
    materialize_days(DAYS, settings)
    pd.testing.assert_frame_equal(online_features(SAMPLE, settings), before)


def test_materializing_an_older_day_later_keeps_the_newest_values_online(settings):
    before = online_features(SAMPLE, settings)
    result = materialize_days([DAYS[1]], settings)
    # overlap of one day before, and on to the newest day in the offline store
    assert result.start == pd.Timestamp("2026-03-01T00:00:00Z")
    assert result.end == as_of_timestamp(DAYS[-1]) + timedelta(seconds=1)
    pd.testing.assert_frame_equal(online_features(SAMPLE, settings), before)


def test_an_unknown_customer_has_no_online_values(settings):
    online = online_features([999], settings)
    assert online["customer_id"].tolist() == [999]
    assert online.drop(columns="customer_id").isna().all(axis=None)


def test_point_in_time_lookups_read_the_folder_of_daily_files_within_the_ttl(settings):
    store = feature_store(settings)
    lookups = pd.DataFrame(
        {
            "customer_id": [1, 1, 1, 1],
            "event_timestamp": [
                as_of_timestamp(DAYS[1]),  # Mar 2's row, not a later one
                as_of_timestamp(DAYS[1]) - timedelta(seconds=1),  # before Mar 2's row: Mar 1's
                as_of_timestamp(DAYS[-1] + timedelta(days=2)),  # no newer row: Mar 4's, two days old (the ttl)
                as_of_timestamp(DAYS[-1] + timedelta(days=3)),  # three days after the newest row: nothing
            ],
        }
    )
    service = store.get_feature_service(FEATURE_SERVICE)
    joined = store.get_historical_features(entity_df=lookups, features=service).to_df()
    joined = joined.sort_values("event_timestamp").reset_index(drop=True)
    # tenure_days names the day of the row found: it grows by one a day (customer 1 signed up 2025-01-04).
    first_tenure = (DAYS[0] - date(2025, 1, 4)).days
    assert joined["tenure_days"].tolist() == [first_tenure, first_tenure + 1, first_tenure + 3]
    # Feast's file offline store drops a lookup that finds no row within the ttl instead of returning it empty.
    assert lookups["event_timestamp"].iloc[3] not in set(joined["event_timestamp"])


@pytest.fixture
def empty_online_store(settings, tmp_path):
    """The fixture's data root with an empty SQLite online store and a registry of their own (applying the repo with
    another online path in the same registry would drop the fixture's online tables), and batches smaller than the
    number of customers (7 rows: eight batches for the 50 customers of the newest day)."""
    fresh = replace(
        settings,
        feast_online_path=tmp_path / "online.db",
        feast_registry=str(tmp_path / "registry.db"),
        materialize_batch_rows=7,
    )
    apply_feature_repo(fresh)
    assert online_features(ALL_CUSTOMERS, fresh).drop(columns="customer_id").isna().all(axis=None)
    return fresh


def test_batches_smaller_than_the_entities_put_every_newest_row_online(empty_online_store):
    materialize_days(DAYS, empty_online_store)
    online = online_features(ALL_CUSTOMERS, empty_online_store).set_index("customer_id")
    expected = _newest_offline_rows(empty_online_store, ALL_CUSTOMERS)
    pd.testing.assert_frame_equal(online, expected[online.columns], check_dtype=False)


def test_an_older_days_run_after_a_newer_days_run_keeps_the_newest_values_online(empty_online_store):
    materialize_days([DAYS[-1]], empty_online_store)
    newest = online_features(ALL_CUSTOMERS, empty_online_store)
    # the churned customer, absent from the last day, has the row of the overlap day before it
    assert newest.set_index("customer_id").loc[CHURNED, "tenure_days"] == (
        (DAYS[-2] - date(2025, 1, 1)).days - 3 * CHURNED
    )
    materialize_days([DAYS[0]], empty_online_store)
    pd.testing.assert_frame_equal(online_features(ALL_CUSTOMERS, empty_online_store), newest)
    expected = _newest_offline_rows(empty_online_store, ALL_CUSTOMERS)
    pd.testing.assert_frame_equal(newest.set_index("customer_id"), expected[newest.columns[1:]], check_dtype=False)


def test_the_materialized_interval_is_recorded_in_the_registry(settings):
    result = materialize_days([DAYS[2]], settings)
    intervals = feature_store(settings).get_feature_view(FEATURE_VIEW).materialization_intervals
    assert intervals[-1] == (result.start, result.end)
    assert result.start == pd.Timestamp("2026-03-02T00:00:00Z")


def test_the_redis_online_store_gets_the_same_values_as_sqlite(settings, tmp_path):
    redis = pytest.importorskip("redis")
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.exceptions.ConnectionError:
        pytest.skip(f"no Redis at {REDIS_URL}")
    project = f"driftloop_test_{uuid.uuid4().hex[:8]}"
    on_redis = replace(
        settings,
        feast_online_store=REDIS_URL,
        feast_project=project,
        feast_registry=str(tmp_path / "registry.db"),
        materialize_batch_rows=7,
    )
    try:
        apply_feature_repo(on_redis)
        materialize_days(DAYS, on_redis)
        pd.testing.assert_frame_equal(
            online_features(ALL_CUSTOMERS, on_redis), online_features(ALL_CUSTOMERS, settings)
        )
    finally:
        keys = list(client.scan_iter(match=f"*{project}".encode(), count=1000))
        if keys:
            client.delete(*keys)
    assert len(keys) == N_CUSTOMERS


def test_a_materialization_killed_after_its_first_batch_is_finished_by_its_retry(empty_online_store, monkeypatch):
    from feast import FeatureStore

    write = FeatureStore.write_to_online_store
    calls = []

    def dies_after_one_batch(self, *args, **kwargs):
        if calls:
            raise KeyboardInterrupt("killed mid-materialization")
        calls.append(1)
        return write(self, *args, **kwargs)

    monkeypatch.setattr(FeatureStore, "write_to_online_store", dies_after_one_batch)
    with pytest.raises(KeyboardInterrupt):
        materialize_days(DAYS, empty_online_store)
    view = feature_store(empty_online_store).get_feature_view(FEATURE_VIEW)
    assert not view.materialization_intervals, "a killed run must not record its interval"
    monkeypatch.setattr(FeatureStore, "write_to_online_store", write)
    materialize_days(DAYS, empty_online_store)
    online = online_features(ALL_CUSTOMERS, empty_online_store).set_index("customer_id")
    expected = _newest_offline_rows(empty_online_store, ALL_CUSTOMERS)
    pd.testing.assert_frame_equal(online, expected[online.columns], check_dtype=False)
