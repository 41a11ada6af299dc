"""The flights feature function on a small hand-made frame: one row per route scheduled that day, values checked
by hand, data after the day or before the 7-day window ignored, and exactly the columns feast_repo.py declares."""

from __future__ import annotations

import math
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from driftloop.usecase.active import use_case_module
from driftloop.usecase.spec import load_spec

SPEC = load_spec(Path(__file__).resolve().parents[1])
features = use_case_module(SPEC, "features.py")
DAY = date(2026, 5, 12)  # a Tuesday
NAN = float("nan")


def _flights() -> pd.DataFrame:
    rows = [
        # route, carrier, scheduled departure (UTC), dep_delay, distance
        ("EWR-ORD", "UA", "2026-05-12T10:00:00Z", 10.0, 719),
        ("EWR-ORD", "UA", "2026-05-12T15:00:00Z", 30.0, 719),
        ("EWR-ORD", "AA", "2026-05-12T23:59:00Z", NAN, 719),  # cancelled
        ("EWR-ORD", "UA", "2026-05-09T12:00:00Z", 50.0, 719),  # in the 7 days
        ("EWR-ORD", "UA", "2026-05-05T12:00:00Z", 500.0, 719),  # 8 days before: outside the window
        ("JFK-LAX", "DL", "2026-05-12T00:00:00Z", -5.0, 2475),
        ("JFK-LAX", "DL", "2026-05-13T00:00:00Z", 99.0, 2475),  # the next day: ignored
        ("EWR-BOS", "EV", "2026-05-11T12:00:00Z", 0.0, 200),  # flew yesterday only: no row
    ]
    frame = pd.DataFrame(rows, columns=["route", "carrier", "scheduled_departure", "dep_delay", "distance"])
    frame["origin"] = frame["route"].str[:3]
    frame["scheduled_departure"] = pd.to_datetime(frame["scheduled_departure"], utc=True)
    frame["distance"] = frame["distance"].astype("float64")
    return frame


def _weather() -> pd.DataFrame:
    rows = [
        ("EWR", "2026-05-12T01:00:00Z", 60.0, 50.0, 10.0, 0.1, 10.0),
        ("EWR", "2026-05-12T13:00:00Z", 70.0, 70.0, 20.0, 0.2, 3.0),
        ("EWR", "2026-05-09T13:00:00Z", 65.0, 80.0, 5.0, 0.5, 1.0),  # counts in precip_sum_7d only
        ("EWR", "2026-05-13T01:00:00Z", 99.0, 99.0, 99.0, 9.0, 0.0),  # the next day: ignored
    ]
    frame = pd.DataFrame(rows, columns=["origin", "observed_at", "temp", "humid", "wind_speed", "precip", "visib"])
    frame["observed_at"] = pd.to_datetime(frame["observed_at"], utc=True)
    return frame


def test_one_row_per_route_scheduled_that_day_with_hand_checked_values():
    result = features.compute_route_features(DAY, {"flights": _flights(), "weather": _weather()}, 7)
    assert list(result["route"]) == ["EWR-ORD", "JFK-LAX"]
    ord_, lax = (row for _, row in result.iterrows())
    assert (ord_["origin"], ord_["carrier_top"], ord_["distance"], ord_["weekday"]) == ("EWR", "UA", 719.0, 1)
    assert (ord_["flights_1d"], ord_["flights_7d"]) == (3, 4)
    assert ord_["cancel_rate_1d"] == pytest.approx(1 / 3)
    assert ord_["dep_delay_mean_1d"] == pytest.approx(20.0)
    assert ord_["share_delayed15_1d"] == pytest.approx(0.5)  # 30 of the departed 10 and 30
    assert ord_["cancel_rate_7d"] == pytest.approx(0.25)
    assert ord_["dep_delay_mean_7d"] == pytest.approx(30.0)  # 10, 30, 50; the 500 is 8 days old
    assert ord_["origin_dep_delay_mean_1d"] == pytest.approx(20.0)
    assert ord_["temp_mean_1d"] == pytest.approx(65.0) and ord_["temp_range_1d"] == pytest.approx(10.0)
    assert ord_["humid_mean_1d"] == pytest.approx(60.0) and ord_["wind_speed_max_1d"] == pytest.approx(20.0)
    assert ord_["precip_sum_1d"] == pytest.approx(0.3) and ord_["precip_sum_7d"] == pytest.approx(0.8)
    assert ord_["visib_min_1d"] == pytest.approx(3.0)
    assert (lax["flights_1d"], lax["cancel_rate_1d"], lax["dep_delay_mean_1d"]) == (1, 0.0, -5.0)
    assert (lax["share_delayed15_1d"], lax["origin_dep_delay_mean_1d"]) == (0.0, -5.0)
    assert math.isnan(lax["temp_mean_1d"]) and math.isnan(lax["precip_sum_7d"])  # no JFK weather reported


def test_the_columns_and_types_are_those_the_feature_view_declares():
    from feast.types import Float64, Int64, String

    declared = use_case_module(SPEC, "feast_repo.py").route_daily_features.features
    result = features.compute_route_features(DAY, {"flights": _flights(), "weather": _weather()}, 7)
    expected = {Int64: "int64", Float64: "float64", String: "object"}
    assert list(result.columns) == ["route", *(f.name for f in declared)]
    assert {f.name: str(result[f.name].dtype) for f in declared} == {f.name: expected[f.dtype] for f in declared}


def test_a_route_whose_flights_were_all_cancelled_has_missing_delays():
    flights = _flights()
    flights.loc[flights["route"] == "JFK-LAX", "dep_delay"] = NAN
    result = features.compute_route_features(DAY, {"flights": flights, "weather": _weather()}, 7).set_index("route")
    assert result.loc["JFK-LAX", "cancel_rate_1d"] == 1.0
    assert math.isnan(result.loc["JFK-LAX", "dep_delay_mean_1d"]) and math.isnan(
        result.loc["JFK-LAX", "share_delayed15_1d"]
    )


def test_a_window_shorter_than_a_week_is_refused():
    with pytest.raises(ValueError, match="at least 7 days"):
        features.compute_route_features(DAY, {"flights": _flights(), "weather": _weather()}, 3)
