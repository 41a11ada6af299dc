"""Batch scoring: the champion's predictions for every entity with features on a day, to Parquet and PostgreSQL.

Features are read through the same FeatureService as training, with the same offline point-in-time lookup
(``driftloop.features.point_in_time``) at the end of the scored day, not the online store: a backfill of an old day then
scores with the features as of that day, and scoring uses exactly the join training used. The model matrix is built
by the same function as in training. The feature rows a day was scored from are kept next to the predictions
(``scored_features/``): drift monitoring compares them with the model's training snapshot.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from driftloop.dates import as_of_timestamp
from driftloop.features.partitions import feature_partition_path
from driftloop.features.point_in_time import LookupIncomplete, check_one_row_per_event
from driftloop.model import model_registry
from driftloop.model.training import categorical_columns
from driftloop.settings import Settings, get_settings
from driftloop.storage import lake
from driftloop.storage.databases import database_label, failures_named
from driftloop.usecase.active import active_spec
from driftloop.usecase.spec import ENTITY_TIMESTAMP

log = logging.getLogger(__name__)

SQL_KEY_TYPES = {"int64": "BIGINT", "str": "TEXT"}
_TABLE_LOCK_KEY = 4_711_001
"""PostgreSQL advisory lock taken while the predictions table is created."""


def prediction_columns(settings: Settings | None = None) -> list[str]:
    """The columns of a predictions partition and table: the entity's join key first."""
    key = active_spec(settings).entity.join_key
    return [key, "score_date", "prediction", "model_name", "model_version", "run_id", "scored_at"]


class ScoringError(ValueError):
    """Scoring cannot go on: no champion, bad inputs or bad outputs; the message says which."""


@dataclass(frozen=True)
class ScoredDay:
    """What a day's scoring wrote."""

    day: date
    rows: int
    model_version: str
    path: Path
    database_rows: int | None


def champion(settings: Settings) -> tuple[str, str]:
    """The champion's (version, MLflow run id); fails clearly when there is none, and raises
    ``model_registry.RegistryUnavailable`` naming the tracking server when the registry cannot say."""
    version = model_registry.version_by_alias(settings.mlflow_tracking_uri, settings.model.name, "champion")
    if version is None:
        raise ScoringError(
            f"models:/{settings.model.name}@champion does not exist: train and promote a model first (DAG `train`)"
        )
    return str(version.version), version.run_id


def scored_entities(day: date, settings: Settings) -> pd.DataFrame:
    """Entity rows for every entity with a feature row of ``day`` (those the feature function found active that
    day), stamped at the end of the day."""
    key = active_spec(settings).entity.join_key
    path = feature_partition_path(day, settings)
    if not path.exists():
        raise ScoringError(f"no features for {day}: {path} does not exist (was its batch accepted and `features` run?)")
    ids = pd.read_parquet(path, columns=[key])[key].sort_values().to_numpy()
    return pd.DataFrame({key: ids, ENTITY_TIMESTAMP: pd.Timestamp(as_of_timestamp(day))})


def check_inputs(features: pd.DataFrame, feature_columns: list[str]) -> None:
    """Feature rows must carry every feature, finite numbers and known categories."""
    missing = [c for c in feature_columns if c not in features.columns]
    if missing:
        raise ScoringError(f"features missing for scoring: {', '.join(missing)}")
    categorical = categorical_columns()
    numeric = [c for c in feature_columns if c not in categorical]
    values = features[numeric].astype(float)
    bad = values.columns[~np.isfinite(values.fillna(0.0)).all()].tolist()
    if bad:
        raise ScoringError(f"non-finite feature values in {', '.join(bad)}")
    for column, allowed in categorical.items():
        if column in features:
            unknown = sorted({value for value in pd.unique(features[column]) if not pd.isna(value)} - set(allowed))
            if unknown:
                raise ScoringError(f"unknown {column} values {unknown}")


def check_outputs(predictions: np.ndarray, task_type: str) -> None:
    """Predictions must be finite, and probabilities must lie in [0, 1] for classification."""
    if not np.isfinite(predictions).all():
        raise ScoringError(f"{int((~np.isfinite(predictions)).sum())} predictions are NaN or infinite")
    if task_type == "classification":
        outside = int(((predictions < 0.0) | (predictions > 1.0)).sum())
        if outside:
            raise ScoringError(f"{outside} probabilities outside [0, 1]")


def _csv_rows(frame: pd.DataFrame) -> io.BytesIO:
    """``frame``'s prediction columns as headerless CSV for ``COPY``; zoned timestamps as their UTC time without a zone
    (Arrow writes zoned ones ten times slower), to be read in a UTC session."""
    import pyarrow as pa
    import pyarrow.csv as pa_csv

    table = pa.Table.from_pandas(frame[prediction_columns()], preserve_index=False)
    for index, field in enumerate(table.schema):
        if pa.types.is_timestamp(field.type) and field.type.tz:
            table = table.set_column(index, field.name, table[field.name].cast(pa.timestamp(field.type.unit)))
    rows = io.BytesIO()
    pa_csv.write_csv(table, rows, pa_csv.WriteOptions(include_header=False))
    rows.seek(0)
    return rows


def write_database(frame: pd.DataFrame, day: date, url: str) -> int:
    """Replace ``day``'s rows of the predictions table in one transaction (upsert by entity and score date): a
    failure leaves the day's old rows as they were. Errors name the day and the database, never the password.

    The rows travel in one ``COPY`` into a temporary table, then one ``INSERT ... SELECT`` upserts them: a day's
    ``INSERT`` statements (even paged) took seconds. The table is created first in a transaction of its own, under
    an advisory lock, so concurrent first writers do not collide."""
    import psycopg2

    spec = active_spec()
    key, table = spec.entity.join_key, spec.predictions_table
    columns = ", ".join(prediction_columns())
    rows = _csv_rows(frame)
    with failures_named(url, f"writing the predictions of {day}"):
        connection = psycopg2.connect(url)
        try:
            cursor = connection.cursor()
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", (_TABLE_LOCK_KEY,))
            cursor.execute(
                f"""CREATE TABLE IF NOT EXISTS {table} (
                    {key} {SQL_KEY_TYPES[spec.entity.dtype]} NOT NULL, score_date DATE NOT NULL,
                    prediction DOUBLE PRECISION NOT NULL, model_name TEXT NOT NULL, model_version TEXT NOT NULL,
                    run_id TEXT NOT NULL, scored_at TIMESTAMPTZ NOT NULL, PRIMARY KEY ({key}, score_date))"""
            )
            connection.commit()
            cursor.execute(f"DELETE FROM {table} WHERE score_date = %s", (day,))
            cursor.execute("SET LOCAL TIME ZONE 'UTC'")
            cursor.execute(f"CREATE TEMPORARY TABLE scored (LIKE {table}) ON COMMIT DROP")
            cursor.copy_expert(f"COPY scored ({columns}) FROM STDIN WITH (FORMAT csv)", rows)
            cursor.execute(
                f"INSERT INTO {table} ({columns}) SELECT {columns} FROM scored ON CONFLICT ({key}, score_date) "
                "DO UPDATE SET prediction = EXCLUDED.prediction, model_name = EXCLUDED.model_name, "
                "model_version = EXCLUDED.model_version, run_id = EXCLUDED.run_id, scored_at = EXCLUDED.scored_at"
            )
            written = cursor.rowcount
            connection.commit()
        finally:
            # Closing discards an unfinished transaction; no rollback on a connection the server already closed.
            connection.close()
    return written


def database_day(day: date, url: str) -> tuple[int, list[str]]:
    """Rows of ``day`` in the predictions table and the model versions they carry (0 and [] without the table)."""
    import psycopg2

    table = active_spec().predictions_table
    with failures_named(url, f"reading the predictions of {day}"):
        connection = psycopg2.connect(url)
        try:
            cursor = connection.cursor()
            cursor.execute("SELECT to_regclass(%s) IS NOT NULL", (table,))
            if not cursor.fetchone()[0]:
                return 0, []
            cursor.execute(
                f"SELECT count(*), coalesce(array_agg(DISTINCT model_version), '{{}}') FROM {table} "
                "WHERE score_date = %s",
                (day,),
            )
            rows, versions = cursor.fetchone()
        finally:
            connection.close()
    return rows, sorted(versions)


def disagreement(day: date, settings: Settings) -> str | None:
    """How ``day``'s Parquet partition and PostgreSQL rows differ in row count or model version, or None when they
    agree (or no predictions database is configured). Rescoring the day heals a difference."""
    url = settings.model.predictions_db_url
    if not url:
        return None
    path = settings.predictions_dir / f"{lake.partition_name(day)}.parquet"
    parquet = pd.read_parquet(path, columns=["model_version"]) if path.exists() else pd.DataFrame({"model_version": []})
    parquet_rows, parquet_versions = len(parquet), sorted(parquet["model_version"].astype(str).unique())
    database_rows, database_versions = database_day(day, url)
    if (parquet_rows, parquet_versions) == (database_rows, database_versions):
        return None
    return (
        f"predictions of {day} disagree: Parquet {path.name} has {parquet_rows} rows of versions {parquet_versions}, "
        f"PostgreSQL {database_label(url)} {database_rows} rows of versions {database_versions}; rescore the day"
    )


def write_scored_day(day: date, frame: pd.DataFrame, scored_features: pd.DataFrame, settings: Settings) -> ScoredDay:
    """Write a scored day so that Parquet and PostgreSQL agree: both Parquet files are written to scratch files
    first, then PostgreSQL's rows are replaced in one transaction, then the files are renamed into place; a failure
    before that leaves the day's old data everywhere. Checks that both agree afterwards (a writer killed between the
    commit and the renames leaves them apart until the day is rescored)."""
    target = settings.predictions_dir / f"{lake.partition_name(day)}.parquet"
    features_target = settings.scored_features_dir / f"{lake.partition_name(day)}.parquet"
    url = settings.model.predictions_db_url
    with lake.replace_file(target) as scratch, lake.replace_file(features_target) as features_scratch:
        frame.to_parquet(scratch, index=False)
        scored_features.to_parquet(features_scratch, index=False)
        written = write_database(frame, day, url) if url else None
    different = disagreement(day, settings)
    if different:
        raise ScoringError(different)
    version = str(frame["model_version"].iloc[0]) if len(frame) else ""
    return ScoredDay(day=day, rows=len(frame), model_version=version, path=target, database_rows=written)


def score_day(day: date, settings: Settings | None = None) -> ScoredDay:
    """Score every entity with features on ``day`` with the champion; replaces that day's predictions."""
    from driftloop.features.point_in_time import feature_columns as service_columns
    from driftloop.features.point_in_time import historical_features, service_lookups

    settings = settings or get_settings()
    spec = active_spec(settings)
    key = spec.entity.join_key
    version, run_id = champion(settings)
    entities = scored_entities(day, settings)
    lookups = service_lookups(spec.feast.feature_service, settings)
    feature_columns = spec.model_inputs(service_columns(lookups))
    features = historical_features(entities, lookups)
    try:
        check_one_row_per_event(entities, features, service_columns(lookups), spec.entity_columns)
    except LookupIncomplete as exc:
        raise ScoringError(f"scoring {day}: {exc}") from exc
    check_inputs(features, feature_columns)
    predictions = model_registry.predict_with_version(
        settings.mlflow_tracking_uri, settings.model.name, version, features, feature_columns
    )
    check_outputs(predictions, settings.task_type)
    frame = pd.DataFrame(
        {
            key: features[key].astype(entities[key].dtype),
            "score_date": pd.Timestamp(day).date(),
            "prediction": predictions.astype("float64"),
            "model_name": settings.model.name,
            "model_version": version,
            "run_id": run_id,
            "scored_at": datetime.now(UTC),
        }
    )
    scored_features = features[[key, *(c for c in feature_columns if c != key)]]
    scored = write_scored_day(day, frame, scored_features, settings)
    log.info(
        "%s: %d rows scored by %s v%s -> %s%s",
        day,
        scored.rows,
        settings.model.name,
        scored.model_version,
        scored.path,
        f" and {scored.database_rows} rows in PostgreSQL" if scored.database_rows else "",
    )
    return scored
