"""Failures a retry cannot fix fail the task at once, told in one line; everything else stays retryable."""

from __future__ import annotations

import logging
from datetime import date

import pytest
from airflow.sdk.exceptions import AirflowFailException

from driftloop.errors import InvalidRequest, NotEnoughData, UnfixableInputError
from driftloop.ingest.validation import BatchRejected
from driftloop.model.training_run import step_training_set
from driftloop_airflow.failures import no_retry_on_unfixable


def test_an_unfixable_error_fails_without_retry_and_is_logged_once_in_full(caplog):
    @no_retry_on_unfixable
    def task_body(day):
        raise NotEnoughData(f"only {day} ingested: ingest more days before training\n  - detail line")

    with caplog.at_level(logging.ERROR), pytest.raises(AirflowFailException) as failed:
        task_body("2026-01-03")
    assert (
        str(failed.value)
        == "only 2026-01-03 ingested: ingest more days before training (not retried: see the message above)"
    )
    assert failed.value.__cause__ is None and failed.value.__suppress_context__
    messages = [r.getMessage() for r in caplog.records]
    assert messages == ["only 2026-01-03 ingested: ingest more days before training\n  - detail line"]


def test_other_errors_pass_through_to_be_retried():
    @no_retry_on_unfixable
    def task_body():
        raise ConnectionError("tracking server down")

    with pytest.raises(ConnectionError):
        task_body()


def test_a_rejected_batch_is_unfixable():
    assert issubclass(BatchRejected, UnfixableInputError)


def test_a_window_that_ends_before_it_starts_is_refused_before_reading_data(tmp_path):
    with pytest.raises(InvalidRequest, match=r"ends \(2026-01-01\) before it starts \(2026-01-09\)"):
        step_training_set(tmp_path, date(2026, 1, 9), date(2026, 1, 1), settings=None)
    assert list(tmp_path.iterdir()) == []
