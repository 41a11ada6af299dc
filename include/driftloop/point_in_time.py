"""Point-in-time lookups of a FeatureService in the offline store, with Feast's semantics, in one pandas pass.

Feast's file offline store answers ``get_historical_features`` by merging every entity row with every feature row of
its entity (through dask), keeping the rows whose ``timestamp_field`` lies in ``[entity time - ttl, entity time]``
and taking the newest one. This module reads the same definitions from the registry (each feature view's join key,
timestamp field, ttl, source folder, and the features the service projects) and does the same lookup with
``pandas.merge_asof`` (backward, by join key, tolerance = ttl, exact matches included), reading only the daily
partitions (``dt=YYYY-MM-DD.parquet``) that can hold a match. One difference, on purpose: an entity row with no
feature row inside the ttl comes back with missing values instead of being dropped, so callers can name it
(``training_set.check_one_row_per_event`` does). ``tests/unit/test_point_in_time.py`` checks the values against
Feast's ``get_historical_features``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from driftloop import lake
from driftloop.settings import Settings

ENTITY_TIMESTAMP = "event_timestamp"


@dataclass(frozen=True)
class ViewLookup:
    """What a point-in-time lookup needs from one feature view of a FeatureService."""

    name: str
    join_key: str
    timestamp_field: str
    ttl: timedelta | None
    source: Path
    features: list[str]


def service_lookups(service_name: str, settings: Settings) -> list[ViewLookup]:
    """The lookups of ``service_name`` as the registry holds it, one per projected feature view."""
    from driftloop.feature_store import feature_store

    store = feature_store(settings)
    service = store.get_feature_service(service_name)
    lookups = []
    for projection in service.feature_view_projections:
        view = store.get_feature_view(projection.name)
        [join_key] = [column.name for column in view.entity_columns]
        ttl = view.ttl if view.ttl and view.ttl.total_seconds() else None
        lookups.append(
            ViewLookup(
                name=view.name,
                join_key=join_key,
                timestamp_field=view.batch_source.timestamp_field,
                ttl=ttl,
                source=Path(view.batch_source.path),
                features=[feature.name for feature in projection.features],
            )
        )
    return lookups


def _partitions(lookup: ViewLookup, first: date | None, last: date) -> list[Path]:
    """The daily files of the source that can hold rows stamped in ``[first, last]`` (a day of margin each side;
    no lower bound without a ttl)."""
    days = lake.partition_days(lookup.source)
    keep = [d for d in days if (first is None or d >= first - timedelta(days=1)) and d <= last + timedelta(days=1)]
    return [lookup.source / f"{lake.partition_name(d)}.parquet" for d in keep]


def _utc_ns(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values, utc=True).astype("datetime64[ns, UTC]")


def lookup_view(entities: pd.DataFrame, lookup: ViewLookup) -> pd.DataFrame:
    """``lookup``'s features for each row of ``entities`` (join key and ``event_timestamp``), in the rows' order."""
    stamps = _utc_ns(entities[ENTITY_TIMESTAMP])
    first = (stamps.min() - lookup.ttl).date() if lookup.ttl else None
    files = _partitions(lookup, first, stamps.max().date())
    columns = [lookup.join_key, lookup.timestamp_field, *lookup.features]
    if files:
        rows = pq.read_table(files, columns=columns).to_pandas()
    else:
        rows = pd.DataFrame({column: pd.Series(dtype="float64") for column in columns})
    feature_time = f"__{lookup.name}_timestamp"
    rows = rows.rename(columns={lookup.timestamp_field: feature_time})
    rows[feature_time] = _utc_ns(rows[feature_time])
    rows[lookup.join_key] = rows[lookup.join_key].astype("int64")
    left = pd.DataFrame(
        {lookup.join_key: entities[lookup.join_key].astype("int64").to_numpy(), "__stamp": stamps.to_numpy()}
    )
    left["__row"] = range(len(left))
    joined = pd.merge_asof(
        left.sort_values("__stamp", kind="stable"),
        rows.sort_values(feature_time, kind="stable"),
        left_on="__stamp",
        right_on=feature_time,
        by=lookup.join_key,
        direction="backward",
        allow_exact_matches=True,
        tolerance=pd.Timedelta(lookup.ttl) if lookup.ttl else None,
    )
    return joined.sort_values("__row")[lookup.features].reset_index(drop=True)


def feature_columns(lookups: list[ViewLookup]) -> list[str]:
    """The service's feature columns in declaration order."""
    return [feature for lookup in lookups for feature in lookup.features]


def historical_features(entities: pd.DataFrame, lookups: list[ViewLookup]) -> pd.DataFrame:
    """``entities`` (with ``event_timestamp`` and each view's join key) with the features of ``lookups`` (see
    :func:`service_lookups`) appended, one row per entity row in the given order; missing values where a view has no
    row within its ttl."""
    out = entities.reset_index(drop=True)
    for lookup in lookups:
        found = lookup_view(out, lookup)
        out = pd.concat([out, found], axis=1)
    return out
