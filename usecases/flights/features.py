"""The flights use case's feature function: daily per-route features, point-in-time safe.

A row dated ``d`` describes a route with at least one flight scheduled on ``d`` (UTC) and uses only data up to the
end of ``d``: the route's flights, delays and cancellations of the day and of the 7 days ending on ``d``, its
origin airport's delays of the day, the origin's weather of the day (and its rain over 7 days), the route's
distance, its main carrier and the weekday. A cancelled flight is one without a departure delay. Means and shares
over no departed flight (or no weather report) are missing, which XGBoost handles. The columns are exactly those
declared in ``feast_repo.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta

import pandas as pd

FLIGHTS, WEATHER = "flights", "weather"
WEEK_DAYS = 7
DELAYED_MINUTES = 15.0


def _day_start(day: date) -> pd.Timestamp:
    return pd.Timestamp(day).tz_localize("UTC")


def _between(frame: pd.DataFrame, column: str, start: date, end: date) -> pd.DataFrame:
    """Rows whose ``column`` (UTC timestamps) lies in the days ``start`` to ``end``, both included."""
    stamps = pd.to_datetime(frame[column], utc=True)
    return frame[(stamps >= _day_start(start)) & (stamps < _day_start(end + timedelta(days=1)))]


def _delay_stats(flights: pd.DataFrame, by: str) -> pd.DataFrame:
    """Per ``by``: scheduled flights, cancellation rate, mean departure delay and share delayed by over 15 minutes
    (both of departed flights)."""
    delay = flights["dep_delay"].astype("float64")
    frame = pd.DataFrame(
        {
            by: flights[by],
            "cancelled": delay.isna().astype("float64"),
            "delay": delay,
            "delayed": (delay > DELAYED_MINUTES).astype("float64").where(delay.notna()),
        }
    )
    grouped = frame.groupby(by)
    return pd.DataFrame(
        {
            "flights": grouped.size(),
            "cancel_rate": grouped["cancelled"].mean(),
            "delay_mean": grouped["delay"].mean(),
            "share_delayed": grouped["delayed"].mean(),
        }
    )


def _top_carrier(flights: pd.DataFrame) -> pd.Series:
    """Per route, the carrier with the most scheduled flights (ties: the first in alphabetical order)."""
    counts = flights.groupby(["route", "carrier"]).size().rename("n").reset_index()
    counts = counts.sort_values(["route", "n", "carrier"], ascending=[True, False, True], kind="stable")
    return counts.drop_duplicates("route").set_index("route")["carrier"]


def _weather_stats(weather: pd.DataFrame) -> pd.DataFrame:
    grouped = weather.groupby("origin")
    return pd.DataFrame(
        {
            "temp_mean_1d": grouped["temp"].mean(),
            "temp_range_1d": grouped["temp"].max() - grouped["temp"].min(),
            "humid_mean_1d": grouped["humid"].mean(),
            "precip_sum_1d": grouped["precip"].sum(),
            "wind_speed_max_1d": grouped["wind_speed"].max(),
            "visib_min_1d": grouped["visib"].min(),
        }
    )


def compute_route_features(day: date, tables: Mapping[str, pd.DataFrame], window_days: int = 7) -> pd.DataFrame:
    """One row per route with a flight scheduled on ``day`` (UTC), from the ``flights`` and ``weather`` of the
    7 days ending on ``day`` (``window_days`` must be at least 7; rows outside those days are ignored)."""
    if window_days < WEEK_DAYS:
        raise ValueError(f"the flights features need a window of at least {WEEK_DAYS} days, got {window_days}")
    week_start = day - timedelta(days=WEEK_DAYS - 1)
    week = _between(tables[FLIGHTS], "scheduled_departure", week_start, day)
    today = _between(week, "scheduled_departure", day, day)
    weather_week = _between(tables[WEATHER], "observed_at", week_start, day)
    weather_today = _between(weather_week, "observed_at", day, day)

    routes = pd.Index(sorted(today["route"].unique()), name="route")
    origin = pd.Series(routes.str.split("-").str[0], index=routes)
    day_stats = _delay_stats(today, "route").reindex(routes)
    week_stats = _delay_stats(week, "route").reindex(routes)
    origin_delay = _delay_stats(today, "origin")["delay_mean"]
    weather = _weather_stats(weather_today).reindex(origin.to_numpy()).set_index(routes)
    rain_week = weather_week.groupby("origin")["precip"].sum().reindex(origin.to_numpy()).to_numpy()

    def floats(values) -> list:
        return pd.Series(values, index=routes, dtype="float64").to_numpy()

    frame = pd.DataFrame(
        {
            "route": routes.astype(object),
            "origin": origin.to_numpy().astype(object),
            "carrier_top": _top_carrier(today).reindex(routes).to_numpy().astype(object),
            "distance": floats(today.groupby("route")["distance"].max().reindex(routes).astype("float64")),
            "weekday": pd.Series(day.weekday(), index=range(len(routes)), dtype="int64"),
            "flights_1d": day_stats["flights"].astype("int64").to_numpy(),
            "cancel_rate_1d": floats(day_stats["cancel_rate"]),
            "dep_delay_mean_1d": floats(day_stats["delay_mean"]),
            "share_delayed15_1d": floats(day_stats["share_delayed"]),
            "flights_7d": week_stats["flights"].astype("int64").to_numpy(),
            "cancel_rate_7d": floats(week_stats["cancel_rate"]),
            "dep_delay_mean_7d": floats(week_stats["delay_mean"]),
            "origin_dep_delay_mean_1d": floats(origin_delay.reindex(origin.to_numpy()).to_numpy()),
            **{column: floats(weather[column]) for column in weather.columns},
            "precip_sum_7d": floats(rain_week),
        }
    )
    return frame.reset_index(drop=True)
