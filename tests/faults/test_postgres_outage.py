"""A PostgreSQL server stopped in the middle of a predictions write and of a drift claim.

The private cluster (tests/faults/private_postgres.py) is stopped while the write or the claim waits on a lock that
another session holds, so the stop lands inside the transaction. Afterwards the day's old rows (or the unclaimed
records) are intact, the error names the operation, the day and the database but not the password, and rerunning
heals: Parquet and PostgreSQL agree again.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta

import pandas as pd
import psycopg2
import pytest
from drift_record_rows import write_drift_record

from driftloop.monitoring import drift_records
from driftloop.serving.scoring import database_day, disagreement, prediction_columns, write_scored_day
from driftloop.settings import get_settings
from driftloop.storage import lake
from driftloop.storage.databases import DatabaseError

pytestmark = pytest.mark.faults

DAY = date(2026, 5, 10)
CHAMPION = {"champion_version": "1", "claim_timeout_s": 3600}


def _frames(version: str, customers: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    ids = list(range(1, customers + 1))
    predictions = pd.DataFrame(
        {
            "customer_id": pd.Series(ids, dtype="int64"),
            "score_date": DAY,
            "prediction": [i / (customers + 1) for i in ids],
            "model_name": "churn",
            "model_version": version,
            "run_id": f"run-{version}",
            "scored_at": datetime(2026, 5, 11, tzinfo=UTC),
        }
    )[prediction_columns()]
    return predictions, pd.DataFrame({"customer_id": ids, "monthly_charge": 9.99})


def _wait_until_blocked(url: str, query_start: str, timeout_s: float = 30.0) -> None:
    """Wait until a session of ``url``'s database waits on a lock in a statement starting with ``query_start``."""
    connection = psycopg2.connect(url)
    connection.autocommit = True
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query ILIKE %s",
                    (query_start + "%",),
                )
                if cursor.fetchone()[0]:
                    return
            time.sleep(0.1)
    finally:
        connection.close()
    raise TimeoutError(f"no session blocked on {query_start!r}")


def _holding_lock(url: str, statement: str):
    """A connection inside a transaction that holds the lock ``statement`` takes."""
    holder = psycopg2.connect(url)
    holder.cursor().execute(statement)
    return holder


@pytest.fixture
def settings(tmp_path, monkeypatch, running_cluster):
    """Settings on a fresh data root with predictions in a fresh database of the private cluster."""
    url = running_cluster.create_database(f"predictions_{tmp_path.name[-12:].replace('-', '_').lower()}")
    monkeypatch.setenv("DRIFTLOOP_DATA_ROOT", str(tmp_path / "data"))
    monkeypatch.setenv("DRIFTLOOP_PREDICTIONS_DB_URL", url)
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()


def test_a_server_stopped_during_a_predictions_write_keeps_the_old_day_and_a_rerun_heals(settings, running_cluster):
    url = settings.model.predictions_db_url
    write_scored_day(DAY, *_frames("1", 300), settings)
    assert database_day(DAY, url) == (300, ["1"]) and disagreement(DAY, settings) is None

    holder = _holding_lock(url, "LOCK TABLE predictions IN ACCESS EXCLUSIVE MODE")
    with ThreadPoolExecutor(1) as pool:
        write = pool.submit(write_scored_day, DAY, *_frames("2", 500), settings)
        _wait_until_blocked(url, "DELETE FROM predictions")
        running_cluster.stop()
        with pytest.raises(DatabaseError) as failure:
            write.result(timeout=60)
    holder.close()
    message = str(failure.value)
    assert f"writing the predictions of {DAY}" in message
    assert f"postgresql://postgres@127.0.0.1:{running_cluster.port}/" in message
    assert running_cluster.password not in message and "connection already closed" not in message

    running_cluster.start()
    assert database_day(DAY, url) == (300, ["1"]), "the day's old rows are intact"
    assert len(pd.read_parquet(settings.predictions_dir / f"dt={DAY}.parquet")) == 300
    assert disagreement(DAY, settings) is None
    assert lake.scratch_leftovers(settings.predictions_dir / f"dt={DAY}.parquet") == []

    healed = write_scored_day(DAY, *_frames("2", 500), settings)
    assert (healed.rows, healed.database_rows, healed.model_version) == (500, 500, "2")
    assert database_day(DAY, url) == (500, ["2"]) and disagreement(DAY, settings) is None


def test_a_day_whose_parquet_and_postgres_disagree_is_reported_and_a_rerun_heals(settings):
    from driftloop.serving.scoring import write_database

    write_scored_day(DAY, *_frames("1", 300), settings)
    # As when a writer is killed between PostgreSQL's commit and the Parquet rename.
    write_database(_frames("2", 310)[0], DAY, settings.model.predictions_db_url)
    different = disagreement(DAY, settings)
    assert different and "300 rows of versions ['1']" in different and "310 rows of versions ['2']" in different
    assert settings.model.predictions_db_url.split(":")[2].split("@")[0] not in different
    write_scored_day(DAY, *_frames("2", 310), settings)
    assert disagreement(DAY, settings) is None


def test_a_server_stopped_during_a_claim_consumes_nothing_and_a_rerun_claims_once(running_cluster, tmp_path):
    url = running_cluster.create_database(f"drift_{tmp_path.name[-12:].replace('-', '_').lower()}")
    for offset in range(3):
        write_drift_record(url, DAY + timedelta(days=offset))

    holder = _holding_lock(url, "LOCK TABLE retrain_runs IN ACCESS EXCLUSIVE MODE")
    with ThreadPoolExecutor(1) as pool:
        claim = pool.submit(drift_records.claim, url, "run-a", "churn", 0, **CHAMPION)
        _wait_until_blocked(url, "LOCK TABLE retrain_runs")
        running_cluster.stop()
        with pytest.raises(DatabaseError) as failure:
            claim.result(timeout=60)
    holder.close()
    message = str(failure.value)
    assert "claiming drift records for retraining run run-a" in message
    assert f"127.0.0.1:{running_cluster.port}/" in message and running_cluster.password not in message

    running_cluster.start()
    assert drift_records.retrainings(url) == []
    assert {record.consumed_by for record in drift_records.records(url)} == {None}
    claimed = drift_records.claim(url, "run-a", "churn", 0, **CHAMPION)
    assert claimed.record_ids == [1, 2, 3]
    assert drift_records.claim(url, "run-b", "churn", 0, **CHAMPION) is None
    assert {record.consumed_by for record in drift_records.records(url)} == {"run-a"}
    drift_records.engine(url).dispose()
