"""Point-in-time lookups of a FeatureService in the offline store, with Feast's semantics, in one pandas pass.

Feast's file offline store answers ``get_historical_features`` by merging every entity row with every feature row of
its entity (through dask), keeping the rows whose ``timestamp_field`` lies in ``[entity time - ttl, entity time]``
(both ends included; no lower end without a ttl) and taking the newest one. This module takes the same definitions
from the registry (each feature view's join keys, timestamp field, ttl, source folder and the features the service
projects) and does the same lookup with ``pandas.merge_asof`` (backward, by join keys, tolerance = ttl, exact matches
included). It reads little: the join keys and timestamps of the row groups whose Parquet statistics allow a row in
``[min(entity time) - ttl, max(entity time)]``, then the features of only the row groups that hold a match.

Where the result differs from Feast's, it is on purpose and never changes a value that is returned:

- an entity row with no feature row inside the ttl comes back, with missing features, instead of being dropped (Feast
  drops it when its entity has rows outside the ttl, and returns it empty when the entity has none), so callers can
  name it (:func:`check_one_row_per_event` does);
- every entity row comes back once, in the given order (Feast sorts by time and merges identical entity rows);
- feature rows without a timestamp are an error (Feast would hand them to any lookup of their entity that finds
  nothing newer);
- of two rows of one entity with the same timestamp (one file per day leaves none here), the last in file order is
  taken, where Feast's pick is unspecified.

Definitions this module does not implement fail loudly in :func:`service_lookups`: field mappings, join key maps,
a created timestamp column (Feast breaks ties of equal timestamps with it), sources that are not local files.
Training and scoring both check a lookup's result with :func:`check_one_row_per_event`.
``tests/unit/test_point_in_time.py`` checks the result against Feast's ``get_historical_features`` on the
repository's definitions.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds

from driftloop.settings import Settings

ENTITY_TIMESTAMP = "event_timestamp"


class LookupIncomplete(ValueError):
    """A point-in-time lookup did not return exactly one row with features per entity row."""


@dataclass(frozen=True)
class ViewLookup:
    """What a point-in-time lookup needs from one feature view of a FeatureService."""

    name: str
    join_keys: list[str]
    timestamp_field: str
    ttl: timedelta | None
    source: Path
    features: list[str]


def service_lookups(service_name: str, settings: Settings) -> list[ViewLookup]:
    """The lookups of ``service_name`` as the registry holds it, one per projected feature view, in order."""
    from feast import FileSource

    from driftloop.features.feature_store import feature_store

    store = feature_store(settings)
    service = store.get_feature_service(service_name)
    lookups = []
    for projection in service.feature_view_projections:
        view = store.get_feature_view(projection.name)
        source = view.batch_source
        unsupported = [
            what
            for what, present in [
                (f"a {type(source).__name__}, not a FileSource", not isinstance(source, FileSource)),
                ("a field mapping", bool(source.field_mapping)),
                ("a join key map", bool(projection.join_key_map)),
                ("a created timestamp column", bool(source.created_timestamp_column)),
                ("a remote path", "://" in str(getattr(source, "path", ""))),
            ]
            if present
        ]
        if unsupported:
            raise NotImplementedError(f"point-in-time lookup of {view.name!r}: its source has {', '.join(unsupported)}")
        lookups.append(
            ViewLookup(
                name=view.name,
                join_keys=[column.name for column in view.entity_columns],
                timestamp_field=source.timestamp_field,
                ttl=view.ttl if view.ttl and view.ttl.total_seconds() else None,
                # A relative path is relative to the feature repository, as for Feast.
                source=Path(settings.feature_repo) / source.path,
                features=[feature.name for feature in projection.features],
            )
        )
    return lookups


def feature_columns(lookups: list[ViewLookup]) -> list[str]:
    """The service's feature columns in declaration order."""
    return [feature for lookup in lookups for feature in lookup.features]


def _utc_nanoseconds(values: pd.Series) -> pd.Series:
    """Timestamps as ``datetime64[ns, UTC]``; naive ones are taken as UTC, as Feast does."""
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        return values.dt.tz_convert("UTC").dt.as_unit("ns")
    return pd.to_datetime(values, utc=True).dt.as_unit("ns")


def _timestamp_bound(nanoseconds: int, column_type: pa.DataType) -> pa.Scalar:
    """``nanoseconds`` since the epoch as a scalar of the timestamp column's type (rounded down to its unit)."""
    stamp = pa.scalar(nanoseconds, type=pa.timestamp("ns", tz=getattr(column_type, "tz", None)))
    return stamp.cast(column_type, safe=False)


def _row_groups(lookup: ViewLookup, first: int | None, last: int) -> tuple[pa.Schema, list[ds.ParquetFileFragment]]:
    """The source's schema, and its row groups that can hold a row stamped in ``[first, last]`` (nanoseconds; no lower
    end when ``first`` is None) or one without a timestamp, by their statistics. Every file of the source folder
    counts, as for Feast, except names starting with ``.`` or ``_``."""
    dataset = ds.dataset(lookup.source, format="parquet")
    stamp = ds.field(lookup.timestamp_field)
    column_type = dataset.schema.field(lookup.timestamp_field).type
    can_match = stamp <= _timestamp_bound(last, column_type)
    if first is not None:
        can_match &= stamp >= _timestamp_bound(first, column_type)
    groups = [
        group for file in dataset.get_fragments() for group in file.split_by_row_group(can_match | stamp.is_null())
    ]
    return dataset.schema, groups


def _read(groups: list[ds.ParquetFileFragment], columns: list[str], schema: pa.Schema) -> tuple[pa.Table, np.ndarray]:
    """``columns`` of every row of ``groups``, one after the other, and the row where each group starts."""
    tables = [group.to_table(columns=columns, schema=schema) for group in groups]
    starts = np.cumsum([0, *(len(table) for table in tables)])
    return (pa.concat_tables(tables) if tables else schema.empty_table().select(columns)), starts


def lookup_view(entities: pd.DataFrame, lookup: ViewLookup) -> pd.DataFrame:
    """``lookup``'s features for each row of ``entities`` (its join keys and a ``datetime64[ns, UTC]``
    ``event_timestamp``), in the rows' order: the newest feature row of the same entity stamped at or before the
    row's time and at most ``ttl`` before it; missing values where there is none."""
    stamps = entities[ENTITY_TIMESTAMP].array.asi8
    ttl = pd.Timedelta(lookup.ttl).value if lookup.ttl else None
    schema, groups = _row_groups(lookup, None if ttl is None else int(stamps.min()) - ttl, int(stamps.max()))
    keys, starts = _read(groups, [*lookup.join_keys, lookup.timestamp_field], schema)
    feature_time = keys[lookup.timestamp_field]
    if feature_time.null_count:
        raise ValueError(f"{feature_time.null_count} rows of {lookup.source} have no {lookup.timestamp_field}")
    right = pd.DataFrame({key: keys[key].to_numpy() for key in lookup.join_keys})
    right["__feature_time"] = feature_time.cast(pa.timestamp("ns", tz=feature_time.type.tz)).cast(pa.int64()).to_numpy()
    right["__feature_row"] = np.arange(len(right))
    left = pd.DataFrame({key: entities[key].to_numpy() for key in lookup.join_keys})
    left["__entity_time"] = stamps
    left["__entity_row"] = np.arange(len(left))
    matched = pd.merge_asof(
        left.sort_values("__entity_time", kind="stable"),
        right.sort_values("__feature_time", kind="stable"),
        left_on="__entity_time",
        right_on="__feature_time",
        by=lookup.join_keys,
        direction="backward",
        allow_exact_matches=True,
        tolerance=ttl,
    )
    feature_row = matched.sort_values("__entity_row")["__feature_row"].to_numpy()
    found = ~np.isnan(feature_row)
    matched_rows = np.where(found, feature_row, 0).astype("int64")
    needed = np.zeros(len(right), dtype=bool)
    needed[matched_rows[found]] = True
    # The features of the matched rows only, read from the row groups that hold one, in feature-row order.
    parts = [
        group.to_table(columns=lookup.features, schema=schema).take(np.flatnonzero(needed[start:end]))
        for group, start, end in zip(groups, starts[:-1], starts[1:], strict=True)
        if needed[start:end].any()
    ]
    values = pa.concat_tables(parts) if parts else schema.empty_table().select(lookup.features)
    position = np.cumsum(needed)[matched_rows] - 1
    return values.take(pa.array(position, mask=~found)).to_pandas()


def historical_features(entities: pd.DataFrame, lookups: list[ViewLookup]) -> pd.DataFrame:
    """``entities`` (with ``event_timestamp`` and each view's join keys) with the features of ``lookups`` (see
    :func:`service_lookups`) appended: one row per entity row in the given order, and missing values where a view has
    no row within its ttl. Datetime columns come back as ``datetime64[ns, UTC]``, as from Feast (which makes the entity
    rows' datetimes UTC, ``coerce_tz_aware``)."""
    out = entities.reset_index(drop=True)
    for column in out.columns:
        if column == ENTITY_TIMESTAMP or pd.api.types.is_datetime64_any_dtype(out[column]):
            out[column] = _utc_nanoseconds(out[column])
    for lookup in lookups:
        out = pd.concat([out, lookup_view(out, lookup)], axis=1)
    return out


def unmatched_rows(joined: pd.DataFrame, feature_columns: list[str]) -> pd.Series:
    """Which rows of a lookup's result found no feature row within the ttl (every feature missing)."""
    return joined[feature_columns].isna().all(axis=1)


def check_one_row_per_event(
    events: pd.DataFrame, joined: pd.DataFrame, feature_columns: list[str], entity_columns: list[str]
) -> None:
    """Raise LookupIncomplete unless every entity row of ``events`` (keyed by ``entity_columns``: the join key and
    ``event_timestamp``) came back once in ``joined``, with at least one feature value."""
    key_dtypes = {column: events[column].dtype for column in entity_columns}
    keys = joined[entity_columns].astype(key_dtypes)
    counts = keys.value_counts().rename("n").reset_index()
    merged = events[entity_columns].merge(counts, how="left", on=entity_columns)
    dropped = merged[merged["n"].isna()]
    duplicated = merged[merged["n"] > 1]
    no_features = joined[unmatched_rows(joined, feature_columns)]
    problems = []
    if len(dropped):
        sample = dropped[entity_columns].head(3).to_dict("records")
        problems.append(f"{len(dropped)} entity rows missing from the join, e.g. {sample}")
    if len(duplicated):
        problems.append(f"{len(duplicated)} entity rows returned more than once")
    if len(no_features):
        sample = no_features[entity_columns].head(3).to_dict("records")
        problems.append(f"{len(no_features)} entity rows found no feature row within the TTL, e.g. {sample}")
    if problems:
        summary = f"the lookup has {len(joined)} rows for {len(events)} entity rows: "
        raise LookupIncomplete(summary + "; ".join(problems))
