"""Every Asset driftloop's DAGs produce or consume, named by layer (raw -> validated -> features -> model -> ...).

URIs point at the configured storage, so lineage in the UI shows where the data lives; each asset's ``group`` is its
layer (``LAYERS``), so the UI's asset list groups them that way. Every event carries an ``extra`` saying what it
holds (days, rows, model version, verdicts), shown on the event in the UI.
"""

from __future__ import annotations

from airflow.sdk import Asset

from driftloop.settings import get_settings

_settings = get_settings()


LAYERS = ("raw", "validated", "features", "model", "serving", "monitoring")
"""The layers of the loop, in data order; every asset belongs to one."""


def _uri(path) -> str:
    text = str(path)
    return text if "://" in text else f"file://{text}"


RAW_BATCHES = Asset(name="raw_batches", uri=_uri(_settings.raw_uri), group="raw")
"""Daily batches copied from landing, as delivered. ``extra``: the ``day``, its ``delivery`` and ``files``."""

VALIDATED_BATCHES = Asset(name="validated_batches", uri=_uri(_settings.validated_dir), group="validated")
"""Accepted, typed daily batches. Each event's ``extra`` names the ``day`` it accepted, its ``delivery`` and the
``row_counts`` per table."""

ENTITY_FEATURES = Asset(name="entity_features", uri=_uri(_settings.offline_store_dir), group="features")
"""Daily per-entity features of the use case in the Feast offline source, registered with Feast: what scoring and
monitoring read (point-in-time), so they wait for it and not for the online store.
``extra`` lists the ``days`` and the ``rows`` of each."""

ONLINE_FEATURES = Asset(name="online_features", uri=f"x-feast-online:{_settings.feast_online_store}", group="features")
"""The newest features per entity in Feast's online store (serving lookups), loaded beside scoring; no DAG of the
loop waits for it. ``extra`` lists the ``days`` materialized. The ``x-`` scheme: not a storage URI (see
``CHAMPION_MODEL``)."""

CHAMPION_MODEL = Asset(name="champion_model", uri=f"x-mlflow-models:/{_settings.model.name}@champion", group="model")
"""The registered model version holding the ``champion`` alias (MLflow's ``models:/<name>@champion``); updated when the
gate promotes or a rollback moves it. ``extra``: the ``model_version``, the version it replaced and why. The ``x-``
scheme marks it as not a storage URI: Airflow then skips URI normalization, which for an unknown scheme loads every
provider's normalizers (boto3 included) and added a quarter second to each DAG's parse."""

PREDICTIONS = Asset(name="predictions", uri=_uri(_settings.predictions_dir), group="serving")
"""Daily predictions of the champion for every entity with features that day. ``extra`` lists the ``days`` scored,
the ``rows`` of each and the ``model_version``."""

DRIFT_REPORTS = Asset(name="drift_reports", uri=_uri(f"{_settings.monitoring.reports_uri}/drift"), group="monitoring")
"""Evidently drift and quality reports, one per monitored day; each day's verdict is a drift record.
``extra`` lists the ``days``, maps each to its ``verdicts`` and names the ``model_version``."""
