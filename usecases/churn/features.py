"""The churn use case's feature function: daily per-customer features, point-in-time safe.

A row dated ``d`` describes a customer active on ``d`` (in that day's profile snapshot) and uses only events up to
the end of ``d``: rolling 7- and 30-day activity, support and billing counts, tenure, plan and price. An N-day window
is the N calendar days ending on ``d`` (``d - N + 1`` to ``d``), i.e. events less than N days before the end of ``d``.
The columns are exactly those declared in ``feast_repo.py``; ``driftloop.features.partitions`` refuses to write a
partition whose columns or types differ from the declaration.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta

import numpy as np
import pandas as pd

ACTIVITY, PROFILES = "activity_events", "customer_profiles"


def _day_start(day: date) -> pd.Timestamp:
    return pd.Timestamp(day).tz_localize("UTC")


def _as_days(values: pd.Series) -> pd.Series:
    """Python dates, naive or tz-aware datetimes -> naive ``datetime64[ns]`` at midnight (the UTC calendar day)."""
    parsed = pd.to_datetime(values)
    if parsed.dt.tz is not None:
        parsed = parsed.dt.tz_convert("UTC").dt.tz_localize(None)
    return parsed.dt.normalize().astype("datetime64[ns]")


def _active_customers(day: date, profiles: pd.DataFrame) -> pd.DataFrame:
    """The rows of ``day``'s snapshot, one per customer, sorted by customer_id."""
    snapshot = profiles[_as_days(profiles["snapshot_date"]) == pd.Timestamp(day)]
    repeated = snapshot["customer_id"][snapshot["customer_id"].duplicated()]
    if len(repeated):
        raise ValueError(
            f"profiles of {day}: customer_id must be unique in a snapshot, repeated: {sorted(set(repeated))[:10]}"
        )
    customers = snapshot[["customer_id", "plan", "monthly_charge", "region", "signup_date"]]
    customers = customers.assign(signup_date=_as_days(customers["signup_date"]))
    return customers.sort_values("customer_id").reset_index(drop=True)


def compute_daily_features(day: date, tables: Mapping[str, pd.DataFrame], window_days: int = 30) -> pd.DataFrame:
    """One row per customer in ``day``'s ``customer_profiles`` snapshot, with features from the ``activity_events``
    of the ``window_days`` calendar days up to ``day`` (later and earlier events are ignored).

    ``days_since_last_session`` is ``window_days + 1`` for a customer without a session in the window; averages
    and shares over no sessions are 0.
    """
    activity, profiles = tables[ACTIVITY], tables[PROFILES]
    customers = _active_customers(day, profiles)
    day_end = _day_start(day + timedelta(days=1))
    window_start = _day_start(day - timedelta(days=window_days - 1))
    week_start = _day_start(day - timedelta(days=6))
    events = activity.assign(event_time=pd.to_datetime(activity["event_time"], utc=True))
    events = events[(events["event_time"] >= window_start) & (events["event_time"] < day_end)]
    events = events[events["customer_id"].isin(customers["customer_id"])]
    sessions = events[events["event_type"] == "session"].assign(
        minutes=lambda f: f["minutes_watched"].astype("float64").fillna(0.0),
        day=lambda f: f["event_time"].dt.floor("D"),
        mobile=lambda f: (f["device"] == "mobile").astype(int),
        known_device=lambda f: f["device"].notna().astype(int),
    )
    week = sessions[sessions["event_time"] >= week_start]

    def per_customer(series: pd.Series, fill) -> np.ndarray:
        return series.reindex(customers["customer_id"]).fillna(fill).to_numpy()

    by_customer = sessions.groupby("customer_id")
    week_by_customer = week.groupby("customer_id")
    counts = events.groupby(["customer_id", "event_type"]).size().unstack(fill_value=0)
    no_events = pd.Series(dtype="int64")
    sessions_30d = per_customer(by_customer.size(), 0).astype("int64")
    minutes_30d = per_customer(by_customer["minutes"].sum(), 0.0).astype("float64")
    known_devices = per_customer(by_customer["known_device"].sum(), 0)
    mobile = per_customer(by_customer["mobile"].sum(), 0)
    days_since = (_day_start(day) - by_customer["day"].max()).dt.days
    return pd.DataFrame(
        {
            "customer_id": customers["customer_id"].astype("int64"),
            "sessions_7d": per_customer(week_by_customer.size(), 0).astype("int64"),
            "sessions_30d": sessions_30d,
            "minutes_7d": per_customer(week_by_customer["minutes"].sum(), 0.0).astype("float64"),
            "minutes_30d": minutes_30d,
            "active_days_7d": per_customer(week_by_customer["day"].nunique(), 0).astype("int64"),
            "active_days_30d": per_customer(by_customer["day"].nunique(), 0).astype("int64"),
            "avg_session_minutes_30d": np.divide(
                minutes_30d, sessions_30d, out=np.zeros(len(customers)), where=sessions_30d > 0
            ),
            "days_since_last_session": per_customer(days_since, window_days + 1).astype("int64"),
            "support_contacts_30d": per_customer(counts.get("support_contact", no_events), 0).astype("int64"),
            "payment_failures_30d": per_customer(counts.get("payment_failure", no_events), 0).astype("int64"),
            "mobile_share_30d": np.divide(
                mobile, known_devices, out=np.zeros(len(customers)), where=known_devices > 0
            ).astype("float64"),
            "tenure_days": (pd.Timestamp(day) - customers["signup_date"]).dt.days.astype("int64"),
            "monthly_charge": customers["monthly_charge"].astype("float64"),
            "plan": customers["plan"].astype(object),
            "region": customers["region"].astype(object).where(customers["region"].notna(), None),
        }
    )
