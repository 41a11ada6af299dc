"""The training set: matured labels joined point-in-time with the model's FeatureService, and its snapshot.

Each label event (an entity's label as of day ``d``) is looked up at ``as_of_timestamp(d)`` in the FeatureService
with Feast's point-in-time semantics (``driftloop.features.point_in_time``), so it only sees features computed from
data up to ``d``. The result must have exactly one row per label event with features: an event with no feature row
inside the view's ttl fails loudly, naming the events, instead of training on silently shrunk data (Feast's own file
offline store drops such rows) — unless ``DRIFTLOOP_TRAINING_DROP_UNMATCHED`` is set, when such events are dropped,
counted and reported. The snapshot (Parquet) and its content hash are the reference for drift monitoring later.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pandas as pd

from driftloop.dates import as_of_timestamp
from driftloop.features.point_in_time import LookupIncomplete, check_one_row_per_event, unmatched_rows
from driftloop.settings import Settings, get_settings
from driftloop.storage import lake
from driftloop.usecase.active import active_spec
from driftloop.usecase.spec import ENTITY_TIMESTAMP

log = logging.getLogger(__name__)


class TrainingSetIncomplete(LookupIncomplete):
    """The point-in-time join did not return exactly one row per label event."""


@dataclass(frozen=True)
class TrainingSet:
    """A snapshot of the training set: the rows, where they are stored, their content hash, and how many label
    events were dropped for having no feature row (only with ``DRIFTLOOP_TRAINING_DROP_UNMATCHED``)."""

    frame: pd.DataFrame
    path: Path
    sha256: str
    feature_service: str
    start: date
    end: date
    dropped_unmatched: int = 0


def label_events(start: date, end: date, settings: Settings | None = None) -> pd.DataFrame:
    """Accepted label rows whose as-of date lies in ``[start, end]``, with their entity timestamp."""
    settings = settings or get_settings()
    spec = active_spec(settings)
    table, as_of = spec.label_table, spec.label.as_of_column
    root = settings.validated_dir / table.name
    days = [day for day in lake.partition_days(root)]
    parts = [pd.read_parquet(lake.partition_dir(root, day) / "part.parquet") for day in days]
    labels = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=list(table.columns))
    as_of_days = pd.to_datetime(labels[as_of]).dt.date
    labels = labels[(as_of_days >= start) & (as_of_days <= end)].copy()
    stamps = [as_of_timestamp(d) for d in pd.to_datetime(labels[as_of]).dt.date]
    labels[ENTITY_TIMESTAMP] = pd.to_datetime(pd.Series(stamps, index=labels.index, dtype=object), utc=True)
    if labels.empty:
        labels[ENTITY_TIMESTAMP] = labels[ENTITY_TIMESTAMP].astype("datetime64[ns, UTC]")
    return labels.sort_values(spec.entity_columns, kind="stable").reset_index(drop=True)


def newest_label_day(settings: Settings | None = None) -> date | None:
    """The newest as-of day among the accepted labels (None when there are none): how far labels have matured.
    Reads only the as-of column of the newest label partitions (a batch's labels are as of its day or earlier)."""
    import pyarrow.parquet as pq

    settings = settings or get_settings()
    spec = active_spec(settings)
    root = settings.validated_dir / spec.label_table.name
    newest = None
    for day in reversed(lake.partition_days(root)):
        if newest is not None and day <= newest:
            break
        column = pq.read_table(lake.partition_dir(root, day) / "part.parquet", columns=[spec.label.as_of_column])
        values = pd.to_datetime(column.column(0).to_pandas()).dt.date.dropna()
        if len(values):
            newest = max(newest or date.min, values.max())
    return newest


def check_labels_matched(events: pd.DataFrame, joined: pd.DataFrame, feature_columns: list[str], spec) -> None:
    """Raise TrainingSetIncomplete unless every label event came back once, with at least one feature value."""
    try:
        check_one_row_per_event(events, joined, feature_columns, spec.entity_columns)
    except LookupIncomplete as exc:
        raise TrainingSetIncomplete(
            str(exc).replace("entity rows", "label events")
            + " (set DRIFTLOOP_TRAINING_DROP_UNMATCHED=true to drop label events without features)"
        ) from exc


def build_training_set(start: date, end: date, settings: Settings | None = None) -> TrainingSet:
    """Join the label events of ``[start, end]`` with the FeatureService point-in-time and snapshot the result."""
    from driftloop.features.point_in_time import feature_columns as service_columns
    from driftloop.features.point_in_time import historical_features, service_lookups

    settings = settings or get_settings()
    spec = active_spec(settings)
    service = spec.feast.feature_service
    events = label_events(start, end, settings)
    if events.empty:
        raise TrainingSetIncomplete(f"no matured labels with {spec.label.as_of_column} in {start}..{end}")
    lookups = service_lookups(service, settings)
    feature_columns = service_columns(lookups)
    joined = historical_features(events, lookups)
    dropped = 0
    if settings.model.training_drop_unmatched:
        unmatched = unmatched_rows(joined, feature_columns)
        dropped = int(unmatched.sum())
        if dropped:
            sample = joined.loc[unmatched, spec.entity_columns].head(3).to_dict("records")
            log.warning(
                "dropped %d of %d label events with no feature row within the ttl (DRIFTLOOP_TRAINING_DROP_UNMATCHED), "
                "e.g. %s",
                dropped,
                len(joined),
                sample,
            )
            keep = ~unmatched.to_numpy()
            events, joined = events[keep].reset_index(drop=True), joined[keep].reset_index(drop=True)
        if events.empty:
            raise TrainingSetIncomplete(f"none of the label events of {start}..{end} has a feature row within the ttl")
    check_labels_matched(events, joined, feature_columns, spec)
    targets = [c for c in spec.label.targets.values() if c in joined.columns]
    frame = joined[[*spec.entity_columns, spec.label.as_of_column, *dict.fromkeys(targets), *feature_columns]]
    frame = frame.sort_values(spec.entity_columns, kind="stable").reset_index(drop=True)
    # Snapshots are named by their content hash too: a later training of the same window never overwrites the
    # reference an earlier version is monitored against.
    staging = settings.data_root / "training_sets" / f"{service}_{start}_{end}.staging.parquet"
    with lake.replace_file(staging) as scratch:
        frame.to_parquet(scratch, index=False)
    digest = hashlib.sha256(staging.read_bytes()).hexdigest()
    target = staging.with_name(f"{service}_{start}_{end}_{digest[:12]}.parquet")
    staging.replace(target)
    return TrainingSet(
        frame=frame,
        path=target,
        sha256=digest,
        feature_service=service,
        start=start,
        end=end,
        dropped_unmatched=dropped,
    )
