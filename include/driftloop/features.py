"""Daily per-customer features, point-in-time safe, written as the Feast offline source.

A row dated ``d`` describes a customer active on ``d`` (in that day's profile snapshot) and uses only events up to
the end of ``d``: rolling 7- and 30-day activity, support and billing counts, tenure, plan and price. The columns are
exactly those declared by the feature view in ``feature_repo/``; ``build_features_for_day`` refuses to write a
partition whose columns or types differ from the declaration.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from driftloop import lake
from driftloop.dates import as_of_timestamp
from driftloop.settings import Settings, get_settings
from driftloop.tables import ACTIVITY, PROFILES

FEAST_TO_PANDAS = {"Int64": "int64", "Float64": "float64", "String": "object"}
KEY_COLUMNS = ("customer_id", "event_timestamp")


@dataclass(frozen=True)
class FeaturePartition:
    """A day's features in the offline store: where and how many customers."""

    day: date
    path: Path
    rows: int


def _day_start(day: date) -> pd.Timestamp:
    return pd.Timestamp(day).tz_localize("UTC")


def compute_daily_features(
    day: date, activity: pd.DataFrame, profiles: pd.DataFrame, window_days: int = 30
) -> pd.DataFrame:
    """One row per customer in ``profiles`` with features from ``activity`` of the ``window_days`` up to ``day``."""
    customers = profiles[["customer_id", "plan", "monthly_charge", "region", "signup_date"]].copy()
    customers = customers.sort_values("customer_id").reset_index(drop=True)
    day_end = _day_start(day + timedelta(days=1))
    window_start = _day_start(day - timedelta(days=window_days - 1))
    week_start = _day_start(day - timedelta(days=6))
    events = activity[(activity["event_time"] >= window_start) & (activity["event_time"] < day_end)]
    events = events[events["customer_id"].isin(customers["customer_id"])]
    sessions = events[events["event_type"] == "session"].assign(
        minutes=lambda f: f["minutes_watched"].fillna(0.0),
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
    last_session = by_customer["day"].max()
    sessions_30d = per_customer(by_customer.size(), 0).astype("int64")
    minutes_30d = per_customer(by_customer["minutes"].sum(), 0.0).astype("float64")
    known_devices = per_customer(by_customer["known_device"].sum(), 0)
    mobile = per_customer(by_customer["mobile"].sum(), 0)
    days_since = per_customer((_day_start(day) - last_session).dt.days, window_days + 1).astype("int64")
    features = pd.DataFrame(
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
            "days_since_last_session": days_since,
            "support_contacts_30d": per_customer(counts.get("support_contact", pd.Series(dtype=int)), 0).astype(
                "int64"
            ),
            "payment_failures_30d": per_customer(counts.get("payment_failure", pd.Series(dtype=int)), 0).astype(
                "int64"
            ),
            "mobile_share_30d": np.divide(
                mobile, known_devices, out=np.zeros(len(customers)), where=known_devices > 0
            ).astype("float64"),
            "tenure_days": (pd.Timestamp(day) - pd.to_datetime(customers["signup_date"])).dt.days.astype("int64"),
            "monthly_charge": customers["monthly_charge"].astype("float64"),
            "plan": customers["plan"].astype(object),
            "region": customers["region"].astype(object).where(customers["region"].notna(), None),
        }
    )
    return features


def _read_partition(root: Path, day: date) -> pd.DataFrame | None:
    path = lake.partition_dir(root, day) / "part.parquet"
    return pd.read_parquet(path) if path.exists() else None


def check_against_declaration(features: pd.DataFrame, declared: dict[str, str]) -> None:
    """Raise ValueError naming every column whose presence or dtype differs from the feature view's declaration."""
    produced = {c: str(t) for c, t in features.dtypes.items() if c not in KEY_COLUMNS}
    expected = {name: FEAST_TO_PANDAS.get(dtype, dtype) for name, dtype in declared.items()}
    problems = [f"{c}: declared but not produced" for c in expected if c not in produced]
    problems += [f"{c}: produced but not declared" for c in produced if c not in expected]
    problems += [
        f"{c}: produced {produced[c]}, declared {declared[c]}"
        for c in expected
        if c in produced and produced[c] != expected[c]
    ]
    if problems:
        raise ValueError("features differ from the feature view in feature_repo/: " + "; ".join(problems))


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


def build_features_for_day(day: date, settings: Settings | None = None) -> FeaturePartition:
    """Compute ``day``'s features from accepted batches and write ``offline/.../dt=DAY.parquet`` (replacing it)."""
    from driftloop.feature_store import declared_feature_schema

    settings = settings or get_settings()
    profiles = _read_partition(settings.validated_dir / PROFILES.name, day)
    if profiles is None:
        path = lake.partition_dir(settings.validated_dir / PROFILES.name, day) / "part.parquet"
        raise FileNotFoundError(f"no accepted profiles for {day}: {path} does not exist (was the batch quarantined?)")
    window = [day - timedelta(days=i) for i in range(settings.feature_window_days)]
    parts = [p for p in (_read_partition(settings.validated_dir / ACTIVITY.name, d) for d in window) if p is not None]
    activity = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=list(ACTIVITY.columns))
    features = compute_daily_features(day, activity, profiles, settings.feature_window_days)
    check_against_declaration(features, declared_feature_schema(settings))
    target = feature_partition_path(day, settings)
    with lake.replace_file(target) as scratch:
        features.to_parquet(scratch, index=False)
    return FeaturePartition(day=day, path=target, rows=len(features))
