"""Churn's daily features: hand-computed values for known histories, point-in-time windows, one declaration, and
the core's build of a partition from accepted batches with them."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pyarrow.parquet as pq
import pytest

from churn_usecase import ACTIVITY, CHURN, PROFILES
from churn_usecase import compute_daily_features as churn_features
from driftloop.features.feature_store import declared_feature_schema
from driftloop.features.partitions import build_features_for_day, check_against_declaration
from driftloop.settings import load_settings
from driftloop.storage import lake

DAY = date(2026, 3, 31)


def compute_daily_features(day, activity, profiles, window_days=30):
    """The churn feature function on one activity and one profile frame, as the core hands them over."""
    return churn_features(day, {ACTIVITY.name: activity, PROFILES.name: profiles}, window_days)


def _events(rows):
    frame = pd.DataFrame(rows, columns=["customer_id", "event_time", "event_type", "device", "minutes_watched"])
    frame["event_time"] = pd.to_datetime(frame["event_time"], utc=True)
    frame["event_id"] = [f"e{i}" for i in range(len(frame))]
    frame["genre"] = "drama"
    return frame[list(ACTIVITY.columns)]


def _profiles(day, rows):
    frame = pd.DataFrame(rows, columns=["customer_id", "plan", "monthly_charge", "region", "signup_date"])
    frame["snapshot_date"] = pd.Timestamp(day)
    frame["signup_date"] = pd.to_datetime(frame["signup_date"])
    return frame[list(PROFILES.columns)]


PROFILES_TODAY = _profiles(
    DAY,
    [
        [2, "premium", 19.99, "east", "2026-03-01"],
        [1, "basic", 8.99, "north", "2025-03-31"],
        [3, "standard", 13.99, None, "2026-03-31"],
    ],
)

ACTIVITY_UP_TO_TOMORROW = _events(
    [
        # customer 1: two sessions today, one 6 days ago, one 29 days ago (in the 30-day window), one 30 days ago
        # (outside it), one tomorrow (after the day: must be ignored), a support contact and a payment failure.
        [1, "2026-03-31T08:00:00Z", "session", "mobile", 30.0],
        [1, "2026-03-31T21:00:00Z", "session", "tv", 50.0],
        [1, "2026-03-25T10:00:00Z", "session", "mobile", 20.0],
        [1, "2026-03-02T10:00:00Z", "session", None, None],
        [1, "2026-03-01T23:59:59Z", "session", "tv", 999.0],
        [1, "2026-04-01T00:00:00Z", "session", "tv", 999.0],
        [1, "2026-03-20T12:00:00Z", "support_contact", None, None],
        [1, "2026-03-10T12:00:00Z", "payment_failure", None, None],
        # customer 2: one session 10 days ago only
        [2, "2026-03-21T09:30:00Z", "session", "web", 45.5],
        # customer 9 is not in today's profiles (churned): no row for them
        [9, "2026-03-31T09:30:00Z", "session", "web", 10.0],
    ]
)


@pytest.fixture(scope="module")
def features():
    return compute_daily_features(DAY, ACTIVITY_UP_TO_TOMORROW, PROFILES_TODAY, window_days=30).set_index("customer_id")


def test_one_row_per_active_customer(features):
    assert list(features.index) == [1, 2, 3]


def test_rolling_windows_count_only_days_up_to_the_day(features):
    one = features.loc[1]
    # 7 days = Mar 25..31: sessions on Mar 31 (2) and Mar 25 (1) -> 3 sessions, 30+50+20 minutes, 2 active days
    assert (one["sessions_7d"], one["minutes_7d"], one["active_days_7d"]) == (3, 100.0, 2)
    # 30 days = Mar 2..31: adds the Mar 2 session (minutes missing -> 0); Mar 1 and Apr 1 are outside
    assert (one["sessions_30d"], one["minutes_30d"], one["active_days_30d"]) == (4, 100.0, 3)
    assert one["avg_session_minutes_30d"] == 25.0
    assert one["days_since_last_session"] == 0
    assert (one["support_contacts_30d"], one["payment_failures_30d"]) == (1, 1)
    # 2 of the 3 sessions with a known device were on mobile
    assert one["mobile_share_30d"] == pytest.approx(2 / 3)
    assert (one["tenure_days"], one["plan"], one["monthly_charge"], one["region"]) == (365, "basic", 8.99, "north")


def test_a_customer_with_one_old_session_and_one_with_none(features):
    two, three = features.loc[2], features.loc[3]
    assert (two["sessions_7d"], two["sessions_30d"], two["minutes_30d"]) == (0, 1, 45.5)
    assert two["days_since_last_session"] == 10 and two["mobile_share_30d"] == 0.0
    assert (three["sessions_30d"], three["minutes_30d"], three["avg_session_minutes_30d"]) == (0, 0.0, 0.0)
    assert three["days_since_last_session"] == 31, "no session in the window: window + 1"
    assert three["tenure_days"] == 0 and three["region"] is None


def test_window_edges_are_n_days_before_the_end_of_the_day():
    # The end of Mar 31 is Apr 1 00:00. The 30-day window starts exactly 30 days earlier, Mar 2 00:00:00; the 7-day
    # window starts Mar 25 00:00:00. Each edge: one event on it (counted) and one a second before it (not counted).
    activity = _events(
        [
            [1, "2026-03-02T00:00:00Z", "session", "tv", 1.0],  # first instant of the 30-day window: counted
            [1, "2026-03-01T23:59:59Z", "session", "tv", 2.0],  # a second before it: not counted
            [1, "2026-03-25T00:00:00Z", "session", "tv", 4.0],  # first instant of the 7-day window
            [1, "2026-03-24T23:59:59Z", "session", "tv", 8.0],  # only in the 30-day window
            [1, "2026-03-31T23:59:59Z", "session", "tv", 16.0],  # last instant of the day: counted
            [1, "2026-04-01T00:00:00Z", "session", "tv", 32.0],  # the next day: ignored
        ]
    )
    one = compute_daily_features(DAY, activity, PROFILES_TODAY, window_days=30).set_index("customer_id").loc[1]
    assert (one["sessions_30d"], one["minutes_30d"]) == (4, 1.0 + 4.0 + 8.0 + 16.0)
    assert (one["sessions_7d"], one["minutes_7d"]) == (2, 4.0 + 16.0)
    # active days in 30 days: Mar 2, 24, 25, 31; last session today
    assert (one["active_days_30d"], one["days_since_last_session"]) == (4, 0)


def test_last_session_at_the_start_of_the_window_is_29_days_ago():
    activity = _events([[1, "2026-03-02T00:00:00Z", "session", "tv", 10.0]])
    one = compute_daily_features(DAY, activity, PROFILES_TODAY, window_days=30).set_index("customer_id").loc[1]
    assert one["days_since_last_session"] == 29


def test_dates_given_as_python_dates_give_the_same_features(features):
    as_dates = PROFILES_TODAY.assign(snapshot_date=DAY, signup_date=[d.date() for d in PROFILES_TODAY["signup_date"]])
    again = compute_daily_features(DAY, ACTIVITY_UP_TO_TOMORROW, as_dates, window_days=30).set_index("customer_id")
    pd.testing.assert_frame_equal(again, features)


def test_only_the_days_snapshot_counts_and_no_activity_at_all_is_fine():
    yesterday = _profiles(date(2026, 3, 30), [[7, "basic", 8.99, "west", "2026-01-01"]])
    no_activity = pd.DataFrame(columns=list(ACTIVITY.columns))
    produced = compute_daily_features(DAY, no_activity, pd.concat([yesterday, PROFILES_TODAY]), window_days=30)
    assert list(produced["customer_id"]) == [1, 2, 3]
    assert (produced["sessions_30d"] == 0).all() and (produced["days_since_last_session"] == 31).all()


def test_a_customer_twice_in_the_snapshot_is_an_error():
    twice = pd.concat([PROFILES_TODAY, PROFILES_TODAY.iloc[:1]])
    with pytest.raises(ValueError, match=r"profiles of 2026-03-31: customer_id must be unique .* \[2\]"):
        compute_daily_features(DAY, ACTIVITY_UP_TO_TOMORROW, twice)


def test_produced_columns_and_types_are_exactly_the_feature_view_declaration(features):
    declared = declared_feature_schema(load_settings())
    stamped = features.reset_index().assign(event_timestamp=pd.Timestamp("2026-03-31T23:59:59Z").as_unit("ns"))
    check_against_declaration(stamped, declared, CHURN)
    assert set(declared) == set(features.columns)


def test_a_difference_from_the_declaration_is_named():
    declared = {"sessions_7d": "Int64", "plan": "String", "churn_score": "Float64"}
    produced = pd.DataFrame({"customer_id": [1], "sessions_7d": [1.5], "plan": ["basic"], "extra": [1]})
    with pytest.raises(ValueError) as error:
        check_against_declaration(produced, declared, CHURN)
    message = str(error.value)
    assert "churn_score: declared but not produced" in message
    assert "event_timestamp: declared but not produced" in message
    assert "extra: produced but not declared" in message
    assert "sessions_7d: produced float64, declared Int64" in message


def test_building_a_day_needs_its_accepted_profiles(data_root):
    with pytest.raises(
        FileNotFoundError, match="no accepted customer_profiles for 2026-03-31: .*customer_profiles/dt=2026-03-31"
    ):
        build_features_for_day(DAY, load_settings())


def _write_accepted(settings, table, day, frame):
    target = lake.partition_dir(settings.validated_dir / table, day)
    target.mkdir(parents=True)
    frame.to_parquet(target / "part.parquet", index=False)


def test_building_a_day_reads_the_window_days_that_exist_and_rewrites_identical_bytes(data_root):
    settings = load_settings()
    # Accepted activity on Mar 30 and Mar 31 (Mar 29's batch was quarantined: absent); Mar 1 is outside the window.
    _write_accepted(
        settings, "activity_events", date(2026, 3, 1), _events([[1, "2026-03-01T10:00:00Z", "session", "tv", 5.0]])
    )
    _write_accepted(
        settings, "activity_events", date(2026, 3, 30), _events([[1, "2026-03-30T10:00:00Z", "session", "tv", 40.0]])
    )
    _write_accepted(settings, "activity_events", DAY, _events([[2, "2026-03-31T10:00:00Z", "session", "mobile", 15.0]]))
    # Nobody's region is known today: the column is still a string column in the partition.
    _write_accepted(settings, "customer_profiles", DAY, PROFILES_TODAY.assign(region=None))

    first = build_features_for_day(DAY, settings)
    first_bytes = first.path.read_bytes()
    second = build_features_for_day(DAY, settings)

    assert first.path == settings.offline_store_dir / "dt=2026-03-31.parquet" and first.rows == 3
    assert second.path.read_bytes() == first_bytes, "same inputs, byte-identical partition"
    written = pd.read_parquet(first.path).set_index("customer_id")
    assert list(written.index) == [1, 2, 3]
    assert (written["event_timestamp"] == pd.Timestamp("2026-03-31T23:59:59Z")).all(), "stamped at the end of the day"
    assert (
        written.loc[1, "sessions_30d"],
        written.loc[1, "minutes_30d"],
        written.loc[1, "days_since_last_session"],
    ) == (1, 40.0, 1)
    assert (written.loc[2, "sessions_7d"], written.loc[2, "mobile_share_30d"]) == (1, 1.0)
    assert str(pq.read_schema(first.path).field("region").type) == "string"
    assert [p.name for p in settings.offline_store_dir.iterdir()] == ["dt=2026-03-31.parquet"], "no scratch left"


def test_accepted_days_without_up_to_date_features_are_pending(data_root):
    from churn_usecase import SimulationConfig, simulate_to_landing
    from driftloop.features.partitions import pending_feature_days
    from driftloop.ingest.landing import copy_batch_to_raw
    from driftloop.ingest.validation import validate_batch

    settings = load_settings()
    first = date(2026, 3, 10)
    config = SimulationConfig(n_customers=40, epoch=date(2026, 3, 1), label_horizon_days=settings.label_horizon_days)
    for batch in simulate_to_landing(config, first, 2, settings.data_root / "landing"):
        day = date.fromisoformat(batch.name.removeprefix("dt="))
        copy_batch_to_raw(day, batch, settings)
        validate_batch(day, settings)
    second = date(2026, 3, 11)
    assert pending_feature_days(settings) == [first, second]
    build_features_for_day(first, settings)
    build_features_for_day(second, settings)
    assert pending_feature_days(settings) == []
    landed = settings.data_root / "landing" / "dt=2026-03-10"
    copy_batch_to_raw(first, landed, settings)
    validate_batch(first, settings)
    assert pending_feature_days(settings) == [], "an identical re-delivery rewrites nothing"
    header, first_row, *rest = (landed / "customer_profiles.csv").read_text().splitlines()
    fields = first_row.split(",")
    fields[header.split(",").index("monthly_charge")] = "1.0"  # one customer's price corrected
    (landed / "customer_profiles.csv").write_text("\n".join([header, ",".join(fields), *rest]) + "\n")
    copy_batch_to_raw(first, landed, settings)
    validate_batch(first, settings)
    assert pending_feature_days(settings) == [first], "a changed snapshot makes its own features stale"
