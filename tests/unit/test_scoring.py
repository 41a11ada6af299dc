"""Scoring's PostgreSQL table on the machine's PostgreSQL: a day's predictions arrive exactly, and writing a day again
replaces that day only."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pandas as pd
import psycopg2
import pytest

from churn_usecase import CHURN
from driftloop.serving.scoring import prediction_columns, write_database
from postgres_databases import postgres_database

PREDICTION_COLUMNS, TABLE = prediction_columns(), CHURN.predictions_table

DAY = date(2026, 6, 1)


@pytest.fixture
def url():
    """An empty database created on 127.0.0.1 and dropped afterwards."""
    with postgres_database("driftloop_scoring") as name:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"


def _predictions(day: date, customers: list[int], version: str) -> pd.DataFrame:
    # A zone other than UTC, and values that a lossy or naive CSV rendering would change.
    scored_at = datetime(2026, 6, 2, 3, 4, 5, 678901, tzinfo=timezone(timedelta(hours=-5)))
    return pd.DataFrame(
        {
            "customer_id": customers,
            "score_date": day,
            "prediction": [0.1 + 0.2, 1 / 3, 2.5e-17][: len(customers)],
            "model_name": 'churn, "quoted"',
            "model_version": version,
            "run_id": "",
            "scored_at": pd.Timestamp(scored_at),
        }
    )


def _table(url: str) -> pd.DataFrame:
    with psycopg2.connect(url) as connection, connection.cursor() as cursor:
        cursor.execute(f"SELECT {', '.join(PREDICTION_COLUMNS)} FROM {TABLE} ORDER BY score_date, customer_id")
        rows = cursor.fetchall()
    connection.close()
    return pd.DataFrame(rows, columns=PREDICTION_COLUMNS)


def test_a_days_predictions_arrive_exactly(url, monkeypatch):
    monkeypatch.setenv("PGTZ", "America/New_York")  # a session time zone other than UTC
    frame = _predictions(DAY, [1, 2, 3], "1")

    assert write_database(frame, DAY, url) == 3

    stored = _table(url)
    assert stored["prediction"].tolist() == frame["prediction"].tolist()
    assert stored["model_name"].tolist() == ['churn, "quoted"'] * 3 and stored["run_id"].tolist() == [""] * 3
    assert stored["score_date"].tolist() == [DAY] * 3
    assert [stamp.timestamp() for stamp in stored["scored_at"]] == [frame["scored_at"][0].timestamp()] * 3


def test_writing_a_day_again_replaces_that_day_only(url):
    write_database(_predictions(DAY - timedelta(days=1), [1, 2], "1"), DAY - timedelta(days=1), url)
    write_database(_predictions(DAY, [1, 2, 3], "1"), DAY, url)

    assert write_database(_predictions(DAY, [2, 3], "2"), DAY, url) == 2

    stored = _table(url)
    assert stored[["customer_id", "score_date", "model_version"]].values.tolist() == [
        [1, DAY - timedelta(days=1), "1"],
        [2, DAY - timedelta(days=1), "1"],
        [2, DAY, "2"],
        [3, DAY, "2"],
    ]
