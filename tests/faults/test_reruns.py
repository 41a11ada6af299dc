"""Reruns after lost or repeated state: monitoring a day again, and a lost SQLite online store.

- Monitoring the same day and version twice logs into one MLflow run (found by its tags), not a second one.
- ``apply_feature_repo`` after the SQLite ``online.db`` was lost creates its tables again, so materializing works
  (Feast alone skips the online store when the definitions did not change: "no such table").
"""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import pytest

from driftloop.settings import get_settings

pytestmark = pytest.mark.faults

DAY = date(2026, 5, 10)


@pytest.fixture
def settings(data_root):
    """Settings on a fresh data root (MLflow on SQLite, Feast file registry and SQLite online store there)."""
    return get_settings()


def _monitor_result(drift_share: float):
    from driftloop.monitoring.drift_thresholds import Thresholds
    from driftloop.monitoring.monitor import DriftResult, MonitorResult

    thresholds = Thresholds(
        columns={"monthly_charge": 0.1}, severe={"monthly_charge": 0.3}, prediction=0.1, noise={}, sample_size=100
    )
    drift = DriftResult(
        columns={"monthly_charge": drift_share},
        drifted_columns=["monthly_charge"] if drift_share > 0.1 else [],
        drift_share=drift_share,
        dataset_drift=drift_share > 0.3,
        prediction_drift=0.05,
        prediction_drifted=False,
        reference_rows=100,
        current_rows=100,
        thresholds=thresholds,
        severe_columns=["monthly_charge"] if drift_share >= 0.3 else [],
        enough_rows=True,
        drifted=drift_share > 0.3,
        reasons=["share"] if drift_share > 0.3 else [],
    )
    verdict = "drift" if drift.dataset_drift else "no_drift"
    return MonitorResult(day=DAY, model_version="1", verdict=verdict, drift=drift, report_uri="/r.html", record_id=1)


def test_monitoring_a_day_again_logs_into_the_same_mlflow_run(settings, tmp_path):
    import mlflow

    from driftloop.model import model_registry
    from driftloop.monitoring.monitor import _log_to_mlflow

    registry = model_registry.client(settings.mlflow_tracking_uri)
    registry.create_registered_model(settings.model.name)
    registry.create_model_version(settings.model.name, source=str(tmp_path))

    _log_to_mlflow(_monitor_result(0.1), settings, {})
    _log_to_mlflow(_monitor_result(0.5), settings, {})
    other_day = _monitor_result(0.2)
    _log_to_mlflow(type(other_day)(**{**vars(other_day), "day": DAY + timedelta(days=1)}), settings, {})

    experiment = mlflow.get_experiment_by_name(f"{settings.model.name}-monitoring")
    runs = mlflow.search_runs([experiment.experiment_id], output_format="list", order_by=["tags.interval ASC"])
    assert [run.data.tags["interval"] for run in runs] == [DAY.isoformat(), (DAY + timedelta(days=1)).isoformat()]
    assert runs[0].data.metrics["drift_share"] == 0.5 and runs[0].data.tags["verdict"] == "drift"
    assert runs[0].info.status == "FINISHED"


def _offline_day(settings, day: date, customers: int) -> None:
    """A day's offline feature partition with every declared feature (values by type)."""
    from driftloop.dates import as_of_timestamp
    from driftloop.features.feature_store import declared_feature_schema
    from driftloop.storage import lake

    values = {"Int64": 1, "Int32": 1, "Float64": 0.5, "Float32": 0.5, "String": "basic", "Bool": False}
    frame = pd.DataFrame({"customer_id": pd.Series(range(1, customers + 1), dtype="int64")})
    for column, dtype in declared_feature_schema(settings).items():
        frame[column] = values[dtype]
    frame["event_timestamp"] = pd.Timestamp(as_of_timestamp(day))
    target = settings.offline_store_dir / f"{lake.partition_name(day)}.parquet"
    with lake.replace_file(target) as scratch:
        frame.to_parquet(scratch, index=False)


def test_apply_recreates_a_lost_sqlite_online_store(settings):
    from driftloop.features.feature_store import apply_feature_repo, materialize_days, online_features

    _offline_day(settings, DAY, 5)
    apply_feature_repo(settings)
    materialize_days([DAY], settings)
    settings.feast_online_path.unlink()

    apply_feature_repo(settings)
    assert settings.feast_online_path.exists()
    materialize_days([DAY], settings)
    online = online_features([1, 5], settings)
    assert online["customer_id"].tolist() == [1, 5]
    assert online.drop(columns="customer_id").notna().all().all()
