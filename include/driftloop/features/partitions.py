"""Daily per-entity features, point-in-time safe, written as the Feast offline source.

The use case's feature function (``[features]`` in ``usecase.toml``) computes the rows of a day ``d`` from the
accepted batches: its ``entities`` tables as of ``d`` and its ``events`` tables over the ``feature_window_days``
calendar days ending on ``d`` (``d - N + 1`` to ``d``), so a row dated ``d`` only uses data up to the end of ``d``.
This module reads those inputs, stamps the rows with ``event_timestamp`` (the end of ``d``), and refuses to write a
partition whose columns or types differ from the feature view declared in the use case's Feast definitions.

A day's features are stale when any accepted partition they read (its entity snapshot, its window's events) is newer
than them: a re-delivered or late day makes every later day whose window holds it pending again.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pyarrow as pa

from driftloop.dates import as_of_timestamp
from driftloop.settings import Settings, get_settings
from driftloop.storage import lake
from driftloop.usecase.active import active_spec, use_case_function
from driftloop.usecase.spec import ENTITY_TIMESTAMP, TableSpec, UseCaseSpec

log = logging.getLogger(__name__)

# Feast type of a declared feature -> pandas dtype a feature function must produce and Arrow type written.
FEAST_TO_PANDAS = {"Int64": "int64", "Float64": "float64", "String": "object", "Bool": "bool"}
FEAST_TO_ARROW = {"Int64": pa.int64(), "Float64": pa.float64(), "String": pa.string(), "Bool": pa.bool_()}
KEY_TO_PANDAS = {"int64": "int64", "str": "object"}
KEY_TO_ARROW = {"int64": pa.int64(), "str": pa.string()}


@dataclass(frozen=True)
class FeaturePartition:
    """A day's features in the offline store: where and how many entities."""

    day: date
    path: Path
    rows: int


def key_dtypes(spec: UseCaseSpec) -> dict[str, str]:
    """The entity key and the timestamp Feast joins on (not features, so the feature view does not list them)."""
    return {spec.entity.join_key: KEY_TO_PANDAS[spec.entity.dtype], ENTITY_TIMESTAMP: "datetime64[ns, UTC]"}


def check_against_declaration(features: pd.DataFrame, declared: dict[str, str], spec: UseCaseSpec) -> None:
    """Raise ValueError naming every column whose presence or dtype differs from the feature view's declaration
    (``declared``: feature -> Feast type name) plus the entity key and ``event_timestamp``."""
    keys = key_dtypes(spec)
    produced = {column: str(dtype) for column, dtype in features.dtypes.items()}
    expected = {**keys, **{name: FEAST_TO_PANDAS.get(dtype, dtype) for name, dtype in declared.items()}}
    declared_as = {**keys, **declared}
    problems = [f"{c}: declared but not produced" for c in expected if c not in produced]
    problems += [f"{c}: produced but not declared" for c in produced if c not in expected]
    problems += [
        f"{c}: produced {produced[c]}, declared {declared_as[c]}"
        for c in expected
        if c in produced and produced[c] != expected[c]
    ]
    if problems:
        raise ValueError(
            f"features of {spec.features.module}:{spec.features.function} differ from the feature view "
            f"{spec.feast.feature_view} in {spec.feast.definitions}: " + "; ".join(problems)
        )


def _arrow_schema(features: pd.DataFrame, declared: dict[str, str], spec: UseCaseSpec) -> pa.Schema:
    """The Parquet schema of a partition: fixed types, so a day whose string column is all missing is still a
    string."""
    types = {
        spec.entity.join_key: KEY_TO_ARROW[spec.entity.dtype],
        ENTITY_TIMESTAMP: pa.timestamp("ns", tz="UTC"),
        **{name: FEAST_TO_ARROW[dtype] for name, dtype in declared.items()},
    }
    return pa.schema([pa.field(column, types[column]) for column in features.columns])


def feature_partition_path(day: date, settings: Settings) -> Path:
    """Where ``day``'s features live in the offline store."""
    return settings.offline_store_dir / f"{lake.partition_name(day)}.parquet"


def _accepted_path(table: str, day: date, settings: Settings) -> Path:
    return lake.partition_dir(settings.validated_dir / table, day) / "part.parquet"


def _day_tables(spec: UseCaseSpec) -> list[TableSpec]:
    """The tables whose partition of day ``d`` must exist for ``d`` to have features: the entity snapshots, or (with
    none) the event tables."""
    return spec.tables_with_role("entities") or spec.tables_with_role("events")


def _input_paths(day: date, spec: UseCaseSpec, settings: Settings) -> list[Path]:
    """The accepted partitions ``day``'s features read: each entity table's of ``day`` and each events table's of
    the window's days (whether or not they exist)."""
    window = [day - timedelta(days=i) for i in range(settings.feature_window_days)]
    return [_accepted_path(table.name, day, settings) for table in spec.tables_with_role("entities")] + [
        _accepted_path(table.name, d, settings) for table in spec.tables_with_role("events") for d in window
    ]


def pending_feature_days(settings: Settings | None = None) -> list[date]:
    """Accepted days whose feature partition is missing or older than any accepted partition it reads (its own
    batch, or an events batch of an earlier day in its window that was re-delivered or arrived late), oldest
    first."""
    settings = settings or get_settings()
    spec = active_spec(settings)
    pending = []
    for day in lake.partition_days(settings.validated_dir / _day_tables(spec)[0].name):
        features = feature_partition_path(day, settings)
        newest_input = max(p.stat().st_mtime_ns for p in _input_paths(day, spec, settings) if p.exists())
        if not features.exists() or features.stat().st_mtime_ns < newest_input:
            pending.append(day)
    return pending


def feature_days_reading(day: date, tables: Iterable[str], settings: Settings) -> list[date]:
    """Days with a feature partition that reads ``day``'s partition of any of ``tables``: ``day`` itself for an
    entity table, ``day`` and the later days whose window holds it for an events table; oldest first."""
    spec = active_spec(settings)
    roles = {spec.tables[name].role for name in tables if name in spec.tables}
    span = settings.feature_window_days if "events" in roles else 1 if "entities" in roles else 0
    days = [day + timedelta(days=i) for i in range(span)]
    return [d for d in days if feature_partition_path(d, settings).exists()]


def scored_days(days: Iterable[date], settings: Settings) -> list[date]:
    """The days of ``days`` that were already scored (they have a predictions partition), oldest first."""
    return sorted(d for d in days if (settings.predictions_dir / f"{lake.partition_name(d)}.parquet").exists())


def feature_inputs(day: date, settings: Settings) -> dict[str, pd.DataFrame]:
    """The accepted tables ``day``'s features are computed from: each ``entities`` table's partition of ``day`` and
    each ``events`` table's partitions of the window's days that exist (quarantined or missing days are absent).

    FileNotFoundError naming the path when ``day`` itself was not accepted."""
    spec = active_spec(settings)
    for table in _day_tables(spec):
        path = _accepted_path(table.name, day, settings)
        if not path.exists():
            raise FileNotFoundError(
                f"no accepted {table.name} for {day}: {path} does not exist (was the batch quarantined?)"
            )
    inputs = {
        table.name: pd.read_parquet(_accepted_path(table.name, day, settings))
        for table in spec.tables_with_role("entities")
    }
    window = [day - timedelta(days=i) for i in range(settings.feature_window_days)]
    for table in spec.tables_with_role("events"):
        paths = [p for p in (_accepted_path(table.name, d, settings) for d in sorted(window)) if p.exists()]
        parts = [pd.read_parquet(p) for p in paths]
        inputs[table.name] = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=list(table.columns))
    return inputs


def compute_features(day: date, settings: Settings | None = None) -> pd.DataFrame:
    """The use case's feature rows of ``day``, key first, stamped with ``event_timestamp`` at the end of ``day``."""
    settings = settings or get_settings()
    spec = active_spec(settings)
    function = use_case_function(spec, spec.features.module, spec.features.function)
    features = function(day, feature_inputs(day, settings), settings.feature_window_days)
    if not isinstance(features, pd.DataFrame):
        raise TypeError(
            f"{spec.features.module}:{spec.features.function} returned {type(features).__name__}, not a DataFrame"
        )
    key = spec.entity.join_key
    if key not in features.columns:
        raise ValueError(f"features of {spec.features.module}:{spec.features.function} have no join key column {key!r}")
    repeated = features[key][features[key].duplicated()]
    if len(repeated):
        raise ValueError(f"features of {day}: {key} must be unique, repeated: {sorted(set(repeated))[:10]}")
    stamped = features.drop(columns=[ENTITY_TIMESTAMP], errors="ignore").reset_index(drop=True)
    stamped.insert(1 if stamped.columns[0] == key else 0, ENTITY_TIMESTAMP, pd.Timestamp(as_of_timestamp(day)))
    stamped[ENTITY_TIMESTAMP] = stamped[ENTITY_TIMESTAMP].astype("datetime64[ns, UTC]")
    ordered = [key, ENTITY_TIMESTAMP, *(c for c in stamped.columns if c not in (key, ENTITY_TIMESTAMP))]
    return stamped[ordered].sort_values(key, kind="stable").reset_index(drop=True)


def build_features_for_day(day: date, settings: Settings | None = None) -> FeaturePartition:
    """Compute ``day``'s features from accepted batches and write ``offline/.../dt=DAY.parquet`` (replacing it).

    The file is written only when its columns and types are exactly the feature view's; the same inputs give a
    byte-identical file.
    """
    # Imported here: reading pending days (above) must not pay for importing Feast.
    from driftloop.features.feature_store import declared_feature_schema

    settings = settings or get_settings()
    spec = active_spec(settings)
    features = compute_features(day, settings)
    declared = declared_feature_schema(settings)
    features = features[
        [
            *key_dtypes(spec),
            *(c for c in declared if c in features.columns),
            *(c for c in features.columns if c not in declared and c not in key_dtypes(spec)),
        ]
    ]
    check_against_declaration(features, declared, spec)
    target = feature_partition_path(day, settings)
    with lake.replace_file(target) as scratch:
        features.to_parquet(scratch, index=False, schema=_arrow_schema(features, declared, spec))
    log.info("features for %s: %d rows -> %s", day, len(features), target)
    return FeaturePartition(day=day, path=target, rows=len(features))
