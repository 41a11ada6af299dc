"""Daily per-customer features, point-in-time safe, written as the Feast offline source.

A row dated ``d`` describes a customer active on ``d`` (in that day's profile snapshot) and uses only events up to
the end of ``d``: rolling 7- and 30-day activity, support and billing counts, tenure, plan and price. An N-day window
is the N calendar days ending on ``d`` (``d - N + 1`` to ``d``), i.e. events less than N days before the end of ``d``.
The columns are exactly those declared by the feature view in ``feature_repo/``; ``build_features_for_day`` refuses
to write a partition whose columns or types differ from the declaration.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from driftloop import lake
from driftloop.dates import as_of_timestamp
from driftloop.settings import Settings, get_settings
from driftloop.tables import ACTIVITY, PROFILES

# Feast type of a declared feature -> pandas dtype produced by compute_daily_features and Arrow type written.
FEAST_TO_PANDAS = {"Int64": "int64", "Float64": "float64", "String": "object"}
FEAST_TO_ARROW = {"Int64": pa.int64(), "Float64": pa.float64(), "String": pa.string()}
# The entity key and the timestamp Feast joins on; they are not features, so the feature view does not list them.
KEY_DTYPES = {"customer_id": "int64", "event_timestamp": "datetime64[ns, UTC]"}
KEY_ARROW = {"customer_id": pa.int64(), "event_timestamp": pa.timestamp("ns", tz="UTC")}


@dataclass(frozen=True)
class FeaturePartition:
    """A day's features in the offline store: where and how many customers."""

    day: date
    path: Path
    rows: int


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


def compute_daily_features(
    day: date, activity: pd.DataFrame, profiles: pd.DataFrame, window_days: int = 30
) -> pd.DataFrame:
    """One row per customer in ``day``'s ``profiles`` snapshot, with features from the ``activity`` of the
    ``window_days`` calendar days up to ``day`` (later and earlier events are ignored).

    ``days_since_last_session`` is ``window_days + 1`` for a customer without a session in the window; averages
    and shares over no sessions are 0.
    """
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
            "event_timestamp": pd.Series(as_of_timestamp(day), index=customers.index).astype("datetime64[ns, UTC]"),
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


def check_against_declaration(features: pd.DataFrame, declared: dict[str, str]) -> None:
    """Raise ValueError naming every column whose presence or dtype differs from the feature view's declaration
    (``declared``: feature -> Feast type name) plus the key columns ``customer_id`` and ``event_timestamp``."""
    produced = {column: str(dtype) for column, dtype in features.dtypes.items()}
    expected = {**KEY_DTYPES, **{name: FEAST_TO_PANDAS.get(dtype, dtype) for name, dtype in declared.items()}}
    declared_as = {**KEY_DTYPES, **declared}
    problems = [f"{c}: declared but not produced" for c in expected if c not in produced]
    problems += [f"{c}: produced but not declared" for c in produced if c not in expected]
    problems += [
        f"{c}: produced {produced[c]}, declared {declared_as[c]}"
        for c in expected
        if c in produced and produced[c] != expected[c]
    ]
    if problems:
        raise ValueError("features differ from the feature view in feature_repo/: " + "; ".join(problems))


def _arrow_schema(features: pd.DataFrame, declared: dict[str, str]) -> pa.Schema:
    """The Parquet schema of a partition: fixed types, so a day whose ``region`` is all missing is still a string."""
    types = {**KEY_ARROW, **{name: FEAST_TO_ARROW[dtype] for name, dtype in declared.items()}}
    return pa.schema([pa.field(column, types[column]) for column in features.columns])


def feature_partition_path(day: date, settings: Settings) -> Path:
    """Where ``day``'s features live in the offline store."""
    return settings.offline_store_dir / f"{lake.partition_name(day)}.parquet"


def pending_feature_days(settings: Settings | None = None) -> list[date]:
    """Accepted days whose feature partition is missing or older than their accepted batch, oldest first."""
    settings = settings or get_settings()
    pending = []
    for day in lake.partition_days(settings.validated_dir / PROFILES.name):
        accepted = [
            lake.partition_dir(settings.validated_dir / spec.name, day) / "part.parquet"
            for spec in (ACTIVITY, PROFILES)
        ]
        features = feature_partition_path(day, settings)
        newest_input = max(p.stat().st_mtime_ns for p in accepted if p.exists())
        if not features.exists() or features.stat().st_mtime_ns < newest_input:
            pending.append(day)
    return pending


def _read_accepted(table: str, day: date, settings: Settings) -> pd.DataFrame | None:
    path = lake.partition_dir(settings.validated_dir / table, day) / "part.parquet"
    return pd.read_parquet(path) if path.exists() else None


def build_features_for_day(day: date, settings: Settings | None = None) -> FeaturePartition:
    """Compute ``day``'s features from accepted batches and write ``offline/.../dt=DAY.parquet`` (replacing it).

    Reads ``day``'s accepted profiles (FileNotFoundError naming the path when there are none) and the accepted
    activity of the window's days that exist (quarantined or missing days are absent). The file is written only when
    its columns and types are exactly the feature view's; the same inputs give a byte-identical file.
    """
    # Imported here: reading pending days (above) must not pay for importing Feast.
    from driftloop.feature_store import declared_feature_schema

    settings = settings or get_settings()
    profiles = _read_accepted(PROFILES.name, day, settings)
    if profiles is None:
        path = lake.partition_dir(settings.validated_dir / PROFILES.name, day) / "part.parquet"
        raise FileNotFoundError(f"no accepted profiles for {day}: {path} does not exist (was the batch quarantined?)")
    window = [day - timedelta(days=i) for i in range(settings.feature_window_days)]
    parts = [part for part in (_read_accepted(ACTIVITY.name, d, settings) for d in window) if part is not None]
    activity = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=list(ACTIVITY.columns))
    features = compute_daily_features(day, activity, profiles, settings.feature_window_days)
    declared = declared_feature_schema(settings)
    check_against_declaration(features, declared)
    target = feature_partition_path(day, settings)
    with lake.replace_file(target) as scratch:
        features.to_parquet(scratch, index=False, schema=_arrow_schema(features, declared))
    return FeaturePartition(day=day, path=target, rows=len(features))
