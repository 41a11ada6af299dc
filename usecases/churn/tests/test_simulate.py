"""The simulator writes deterministic, contract-shaped daily batches with real signal, drift and corruption."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import pytest

from churn_usecase import (
    ACTIVITY,
    DEVICES,
    EVENT_TYPES,
    GENRES,
    LABELS,
    PLANS,
    PROFILES,
    REGIONS,
    SimulationConfig,
    simulate_days,
    simulate_to_landing,
)
from driftloop.cli import main

EPOCH = date(2026, 1, 1)
HORIZON = 30


def _config(**overrides) -> SimulationConfig:
    return SimulationConfig(
        **{"n_customers": 400, "seed": 3, "epoch": EPOCH, "label_horizon_days": HORIZON, **overrides}
    )


@pytest.fixture(scope="module")
def sixty_days():
    days = [EPOCH + timedelta(days=i) for i in range(60)]
    return simulate_days(_config(), days)


def test_same_config_gives_byte_identical_files_whether_a_day_is_alone_or_in_a_range(tmp_path):
    day = EPOCH + timedelta(days=12)
    [alone] = simulate_to_landing(_config(), day, 1, tmp_path / "alone")
    ranged = simulate_to_landing(_config(), EPOCH + timedelta(days=10), 4, tmp_path / "ranged")
    for name in ("activity_events.csv", "customer_profiles.csv", "churn_labels.csv", "_SUCCESS"):
        assert (alone / name).read_bytes() == (ranged[2] / name).read_bytes()
    [other_seed] = simulate_to_landing(_config(seed=4), day, 1, tmp_path / "other")
    assert (alone / "activity_events.csv").read_bytes() != (other_seed / "activity_events.csv").read_bytes()


def test_clean_batches_follow_the_contract(sixty_days):
    day = EPOCH + timedelta(days=45)
    batch = sixty_days[day]
    activity, profiles, labels = batch[ACTIVITY.name], batch[PROFILES.name], batch[LABELS.name]
    assert list(activity.columns) == list(ACTIVITY.columns)
    assert list(profiles.columns) == list(PROFILES.columns)
    assert list(labels.columns) == list(LABELS.columns)
    assert activity["event_id"].is_unique and profiles["customer_id"].is_unique
    assert "session" in set(activity["event_type"]) and set(activity["event_type"]) <= set(EVENT_TYPES)
    assert set(activity["device"].dropna()) <= set(DEVICES) and set(activity["genre"].dropna()) <= set(GENRES)
    times = pd.to_datetime(activity["event_time"], utc=True)
    assert (times.dt.date == day).all()
    minutes = pd.to_numeric(activity["minutes_watched"])
    assert minutes.dropna().between(0, 1440).all()
    assert set(profiles["plan"]) <= set(PLANS) and set(profiles["region"].dropna()) <= set(REGIONS)
    assert (profiles["snapshot_date"] == day.isoformat()).all()
    assert (pd.to_datetime(profiles["signup_date"]).dt.date <= day).all()
    assert profiles["monthly_charge"].between(0, 100).all()
    assert 0 < activity["device"].isna().mean() < 0.5, "some values are missing, as in real feeds"


def test_labels_arrive_after_the_horizon_and_match_who_left(sixty_days):
    day = EPOCH + timedelta(days=50)
    as_of = day - timedelta(days=HORIZON)
    labels = sixty_days[day][LABELS.name]
    assert len(labels) > 0 and (labels["as_of_date"] == as_of.isoformat()).all()
    active_at_horizon_end = set(sixty_days[day - timedelta(days=1)][PROFILES.name]["customer_id"])
    active_on_as_of = set(sixty_days[as_of][PROFILES.name]["customer_id"])
    assert set(labels["customer_id"]) <= active_on_as_of
    for row in labels.itertuples():
        assert row.churned == (row.customer_id not in active_at_horizon_end)
    assert labels["future_watch_hours"].min() >= 0
    assert sixty_days[EPOCH + timedelta(days=5)][LABELS.name].empty, "no label before a horizon has passed"


def test_churn_rate_is_realistic_and_driven_by_engagement():
    days = [EPOCH + timedelta(days=i) for i in range(31, 120)]
    batches = simulate_days(_config(n_customers=3000), days)
    labels = pd.concat(b[LABELS.name] for b in batches.values())
    assert 0.02 <= labels["churned"].mean() <= 0.12
    low, high = labels["future_watch_hours"].quantile([0.25, 0.75])
    assert labels["churned"].sum() > 20
    watched_little = labels[labels["future_watch_hours"] <= low]["churned"].mean()
    watched_a_lot = labels[labels["future_watch_hours"] >= high]["churned"].mean()
    assert watched_little > watched_a_lot


def test_weekends_have_more_sessions(sixty_days):
    sessions = {day: (b[ACTIVITY.name]["event_type"] == "session").sum() for day, b in sixty_days.items()}
    weekend = [n for day, n in sessions.items() if day.weekday() >= 5]
    weekday = [n for day, n in sessions.items() if day.weekday() < 5]
    assert sum(weekend) / len(weekend) > 1.1 * sum(weekday) / len(weekday)


def _mean_charge_and_sessions(batch):
    sessions = (batch[ACTIVITY.name]["event_type"] == "session").sum() / len(batch[PROFILES.name])
    return batch[PROFILES.name]["monthly_charge"].mean(), sessions


def test_covariate_drift_shifts_price_and_usage_from_its_start_day_only():
    start = EPOCH + timedelta(days=20)
    days = [start - timedelta(days=1), start + timedelta(days=6)]
    clean = simulate_days(_config(), days)
    drift = simulate_days(_config(scenario="covariate_drift", scenario_start=start), days)
    assert drift[days[0]][PROFILES.name].equals(clean[days[0]][PROFILES.name])
    clean_charge, clean_sessions = _mean_charge_and_sessions(clean[days[1]])
    drift_charge, drift_sessions = _mean_charge_and_sessions(drift[days[1]])
    assert drift_charge > 1.2 * clean_charge
    assert drift_sessions < 0.85 * clean_sessions


def test_concept_drift_keeps_the_inputs_but_changes_who_churns():
    start = EPOCH + timedelta(days=20)
    days = [start + timedelta(days=i) for i in range(0, 60)]
    clean = simulate_days(_config(n_customers=2000), days)
    concept = simulate_days(_config(n_customers=2000, scenario="concept_drift", scenario_start=start), days)
    clean_charge, clean_sessions = _mean_charge_and_sessions(clean[days[5]])
    concept_charge, concept_sessions = _mean_charge_and_sessions(concept[days[5]])
    assert concept_charge == pytest.approx(clean_charge, rel=0.02)
    assert concept_sessions == pytest.approx(clean_sessions, rel=0.1)
    clean_labels = pd.concat(clean[d][LABELS.name] for d in days[35:])
    concept_labels = pd.concat(concept[d][LABELS.name] for d in days[35:])
    assert not clean_labels["churned"].equals(concept_labels["churned"])


def test_a_price_shock_moves_the_inputs_and_makes_the_standard_plan_leave_most():
    start = EPOCH + timedelta(days=20)
    days = [start + timedelta(days=i) for i in range(0, 40)]
    clean = simulate_days(_config(n_customers=3000, label_horizon_days=3), days)
    shock = simulate_days(
        _config(n_customers=3000, label_horizon_days=3, scenario="price_shock", scenario_start=start), days
    )
    clean_charge, clean_sessions = _mean_charge_and_sessions(clean[days[5]])
    shock_charge, shock_sessions = _mean_charge_and_sessions(shock[days[5]])
    assert shock_charge > 1.2 * clean_charge and shock_sessions < 0.85 * clean_sessions

    def churn_by_plan(world):
        labels = pd.concat(world[d][LABELS.name] for d in days[3:12])
        plans = world[days[0]][PROFILES.name].set_index("customer_id")["plan"]
        return labels.assign(plan=labels["customer_id"].map(plans)).groupby("plan")["churned"].mean()

    clean_churn, shock_churn = churn_by_plan(clean), churn_by_plan(shock)
    assert (shock_churn > clean_churn).all()
    assert shock_churn["standard"] > 1.5 * max(shock_churn["basic"], shock_churn["premium"])


@pytest.mark.parametrize(
    ("kind", "broken"),
    [
        ("missing_column", lambda a, p: "minutes_watched" not in a.columns),
        (
            "bad_type",
            lambda a, p: (
                pd.to_numeric(a["minutes_watched"], errors="coerce").isna().sum() > a["minutes_watched"].isna().sum()
            ),
        ),
        ("null_key", lambda a, p: a["customer_id"].isna().any()),
        ("out_of_range", lambda a, p: (pd.to_numeric(a["minutes_watched"]) < 0).any()),
        ("unknown_category", lambda a, p: (~p["plan"].isin(PLANS)).any()),
        ("duplicate_key", lambda a, p: a["event_id"].duplicated().any()),
        ("wrong_day", lambda a, p: (pd.to_datetime(a["event_time"], utc=True).dt.date != date(2026, 1, 21)).any()),
        ("truncated", lambda a, p: len(a) < 0.2 * len(p)),
        ("null_spike", lambda a, p: a.loc[a["event_type"] == "session", "device"].isna().mean() > 0.5),
    ],
)
def test_each_corruption_breaks_its_batch_and_only_on_its_day(kind, broken):
    day = EPOCH + timedelta(days=20)
    config = _config(scenario="corrupt", scenario_start=day, scenario_days=1, corruption=kind)
    batches = simulate_days(config, [day, day + timedelta(days=1)])
    clean = simulate_days(_config(), [day + timedelta(days=1)])
    assert broken(batches[day][ACTIVITY.name], batches[day][PROFILES.name])
    for name, frame in clean[day + timedelta(days=1)].items():
        assert batches[day + timedelta(days=1)][name].equals(frame), name


def test_bad_configuration_is_rejected_clearly():
    with pytest.raises(ValueError, match="unknown scenario 'drifty'"):
        _config(scenario="drifty")
    with pytest.raises(ValueError, match="before the simulation epoch"):
        simulate_days(_config(), [EPOCH - timedelta(days=1)])


def test_the_cli_writes_batches_and_markers(tmp_path, capsys):
    status = main(
        [
            "simulate",
            "--start",
            "2026-02-01",
            "--days",
            "2",
            "--customers",
            "50",
            "--epoch",
            "2026-01-01",
            "--landing",
            str(tmp_path),
        ]
    )
    assert status == 0
    for day in ("2026-02-01", "2026-02-02"):
        folder = tmp_path / f"dt={day}"
        assert sorted(p.name for p in folder.iterdir()) == [
            "_SUCCESS",
            "activity_events.csv",
            "churn_labels.csv",
            "customer_profiles.csv",
        ]
    assert "2026-02-02: activity_events" in capsys.readouterr().out
    assert main(["simulate", "--start", "2026-02-01", "--landing", "s3://bucket/x"]) == 2


def test_a_corrupt_day_breaks_one_batch_of_any_scenario():
    day = date(2026, 3, 5)
    config = SimulationConfig(
        scenario="covariate_drift", scenario_start=date(2026, 3, 1), corrupt_day=day, corruption="bad_type"
    )
    assert config.corruption_on(day) == "bad_type"
    assert config.corruption_on(day + timedelta(days=1)) is None
    assert SimulationConfig(scenario="covariate_drift").corruption_on(day) is None
