"""Drift verdicts measured on the churn demo's world: false alarms on clean samples and detection of the price rise
at 24 to 20,000 rows, 50 draws each (see ``bench/drift_verdicts.py``; about two minutes)."""

from __future__ import annotations

import pytest

from bench import drift_verdicts

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def world():
    return drift_verdicts.demo_world()


@pytest.fixture(scope="module")
def rates(world):
    from driftloop.settings import load_settings

    rows = drift_verdicts.verdict_rates(world, load_settings())
    print("\n" + drift_verdicts.table(rows))
    return {r["rows"]: r for r in rows}


def test_clean_samples_are_told_drift_in_at_most_5_percent_of_draws_at_every_size(rates):
    assert set(rates) == set(drift_verdicts.SIZES) and all(r["draws"] == 50 for r in rates.values())
    for n, r in rates.items():
        for source in ("reference", "clean_day"):
            assert r[f"calibrated.{source}.drift"] <= 0.05, (n, source)
            assert r[f"calibrated_small_min.{source}.drift"] <= 0.05, (n, source)


def test_the_price_rise_is_detected_at_500_rows_and_above(rates):
    for n in (500, 2000, 20000):
        assert rates[n]["calibrated.shifted.drift"] >= 0.95, n
        assert rates[n]["calibrated_small_min.shifted.drift"] >= 0.95, n


def test_at_24_rows_the_verdict_is_insufficient_data_or_correct(rates):
    small = rates[24]
    assert small["calibrated.reference.insufficient"] + small["calibrated.reference.drift"] == 1.0
    assert small["calibrated.reference.drift"] <= 0.05 and small["calibrated_small_min.reference.drift"] <= 0.05


def test_the_fixed_rule_it_replaces_is_told_drift_on_clean_small_samples(rates):
    assert rates[24]["fixed.reference.drift"] > 0.5


def test_the_demo_s_clean_days_raise_no_drifted_column_and_its_first_price_rise_day_drifts(world):
    from driftloop.settings import load_settings

    days = drift_verdicts.full_days(world, load_settings())
    *clean, first_rise = days.values()
    assert all(d["verdict"] == "no_drift" and d["drifted_columns"] == [] for d in clean), clean
    assert first_rise["verdict"] == "drift" and "monthly_charge" in first_rise["drifted_columns"]
    assert any(r.startswith("severe column monthly_charge") for r in first_rise["reasons"])


def test_a_reference_with_the_ramp_up_rows_would_drift_the_clean_days_on_window_features(world):
    """Why the reference leaves out rows with incomplete feature windows: with them, 30-day counts move."""
    import pandas as pd

    from driftloop.model.training import categorical_columns
    from driftloop.monitoring.drift_thresholds import distances

    with_ramp_up = pd.concat([world.reference, world.ramp_up], ignore_index=True)
    for frame in world.clean_days.values():
        complete = distances(world.reference, frame, world.columns, categorical_columns())
        polluted = distances(with_ramp_up, frame, world.columns, categorical_columns())
        assert polluted["active_days_30d"] >= 0.1 > complete["active_days_30d"]
