"""The training set: matured labels joined point-in-time with the model's FeatureService, and its snapshot.

Each label event (a customer's renewal day ``d``) is looked up at ``as_of_timestamp(d)`` in the FeatureService with
Feast's point-in-time semantics (``driftloop.point_in_time``), so it only sees features computed from data up to
``d``. The result must have exactly one row per label event with features: an event with no feature row inside the
view's ttl fails loudly, naming the events, instead of training on silently shrunk data (Feast's own file offline
store drops such rows). The snapshot (Parquet) and its content hash are the reference for drift monitoring later.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pandas as pd

from driftloop import lake
from driftloop.dates import as_of_timestamp
from driftloop.settings import Settings, get_settings
from driftloop.tables import LABELS

ENTITY_COLUMNS = ["customer_id", "event_timestamp"]


class TrainingSetIncomplete(ValueError):
    """The point-in-time join did not return exactly one row per label event."""


@dataclass(frozen=True)
class TrainingSet:
    """A snapshot of the training set: the rows, where they are stored and their content hash."""

    frame: pd.DataFrame
    path: Path
    sha256: str
    feature_service: str
    start: date
    end: date


def label_events(start: date, end: date, settings: Settings | None = None) -> pd.DataFrame:
    """Accepted label rows whose ``as_of_date`` lies in ``[start, end]``, with their entity timestamp."""
    settings = settings or get_settings()
    root = settings.validated_dir / LABELS.name
    parts = [pd.read_parquet(lake.partition_dir(root, day) / "part.parquet") for day in lake.partition_days(root)]
    labels = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=list(LABELS.columns))
    as_of = pd.to_datetime(labels["as_of_date"]).dt.date
    labels = labels[(as_of >= start) & (as_of <= end)].copy()
    labels["event_timestamp"] = [as_of_timestamp(d) for d in pd.to_datetime(labels["as_of_date"]).dt.date]
    labels["event_timestamp"] = pd.to_datetime(labels["event_timestamp"], utc=True)
    return labels.sort_values(ENTITY_COLUMNS, kind="stable").reset_index(drop=True)


def check_one_row_per_event(events: pd.DataFrame, joined: pd.DataFrame, feature_columns: list[str]) -> None:
    """Raise TrainingSetIncomplete unless every label event came back once, with at least one feature value."""
    keys = joined[ENTITY_COLUMNS].astype({"customer_id": "int64"})
    merged = events[ENTITY_COLUMNS].merge(keys.value_counts().rename("n").reset_index(), how="left", on=ENTITY_COLUMNS)
    dropped = merged[merged["n"].isna()]
    duplicated = merged[merged["n"] > 1]
    no_features = joined[joined[feature_columns].isna().all(axis=1)]
    problems = []
    if len(dropped):
        sample = dropped[ENTITY_COLUMNS].head(3).to_dict("records")
        problems.append(f"{len(dropped)} label events missing from the join, e.g. {sample}")
    if len(duplicated):
        problems.append(f"{len(duplicated)} label events returned more than once")
    if len(no_features):
        sample = no_features[ENTITY_COLUMNS].head(3).to_dict("records")
        problems.append(f"{len(no_features)} label events found no feature row within the TTL, e.g. {sample}")
    if problems:
        raise TrainingSetIncomplete(
            f"training set has {len(joined)} rows for {len(events)} label events: " + "; ".join(problems)
        )


def build_training_set(start: date, end: date, settings: Settings | None = None) -> TrainingSet:
    """Join the label events of ``[start, end]`` with the FeatureService point-in-time and snapshot the result."""
    from driftloop.feature_store import FEATURE_SERVICE
    from driftloop.point_in_time import feature_columns as service_columns
    from driftloop.point_in_time import historical_features, service_lookups

    settings = settings or get_settings()
    events = label_events(start, end, settings)
    if events.empty:
        raise TrainingSetIncomplete(f"no matured labels with as_of_date in {start}..{end}")
    lookups = service_lookups(FEATURE_SERVICE, settings)
    feature_columns = service_columns(lookups)
    joined = historical_features(events, lookups)
    check_one_row_per_event(events, joined, feature_columns)
    frame = joined[[*ENTITY_COLUMNS, "as_of_date", "churned", "future_watch_hours", *feature_columns]]
    frame = frame.sort_values(ENTITY_COLUMNS, kind="stable").reset_index(drop=True)
    # Snapshots are named by their content hash too: a later training of the same window never overwrites the
    # reference an earlier version is monitored against.
    staging = settings.data_root / "training_sets" / f"{FEATURE_SERVICE}_{start}_{end}.staging.parquet"
    with lake.replace_file(staging) as scratch:
        frame.to_parquet(scratch, index=False)
    digest = hashlib.sha256(staging.read_bytes()).hexdigest()
    target = staging.with_name(f"{FEATURE_SERVICE}_{start}_{end}_{digest[:12]}.parquet")
    staging.replace(target)
    return TrainingSet(frame=frame, path=target, sha256=digest, feature_service=FEATURE_SERVICE, start=start, end=end)
