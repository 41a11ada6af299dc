"""Upstream schema changes are noticed even in rejected batches, and library changes since training are named."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import pandas as pd
import pytest
from test_validation import ACTIVITY_ROWS, DAY, HORIZON, _changed, _write_batch

from driftloop.ingest.validation import BatchRejected, validate_batch
from driftloop.quality.dependencies import (
    delivered_schema,
    library_changes,
    library_versions,
    record_schema_changes,
    schema_notices,
)
from driftloop.settings import ValidationSettings, load_settings


@pytest.fixture
def settings(data_root):
    """The settings of test_validation's batches: a 3-day label horizon, no recent batches needed."""
    return replace(load_settings(), label_horizon_days=HORIZON, validation=ValidationSettings(sample_rows=2))


def test_a_column_added_removed_or_retyped_upstream_is_noticed_even_when_rejected(settings):
    _write_batch(settings, day=DAY - timedelta(days=1))
    record_schema_changes(
        DAY - timedelta(days=1),
        {"activity_events": pd.DataFrame(ACTIVITY_ROWS, dtype=object)},
        settings.data_root,
    )
    changed = [
        {**{k: v for k, v in _changed(ACTIVITY_ROWS, i, minutes_watched="lots")[i].items() if k != "genre"}, "app": "2"}
        for i in range(len(ACTIVITY_ROWS))
    ]
    _write_batch(settings, activity_events=changed)
    with pytest.raises(BatchRejected):
        validate_batch(DAY, settings)
    assert schema_notices([DAY], settings.data_root) == [
        f"{DAY} activity_events: column app appeared (integer) since {DAY - timedelta(days=1)}",
        f"{DAY} activity_events: column genre disappeared (was text) since {DAY - timedelta(days=1)}",
        f"{DAY} activity_events: column minutes_watched changed from number to text since {DAY - timedelta(days=1)}",
    ]


def test_the_kind_of_a_column_is_read_from_its_values():
    frame = pd.DataFrame(
        {"a": ["1", "2"], "b": ["1.5", "2"], "c": ["2026-05-04T08:00:00Z", None], "d": ["x", "1"], "e": [None, None]}
    )
    assert delivered_schema(frame) == {"a": "integer", "b": "number", "c": "datetime", "d": "text", "e": "empty"}


def test_changed_library_versions_since_training_are_named():
    now = library_versions()
    assert now["xgboost"] == "3.2.0" and len(now["requirements.lock"]) == 12
    trained = {**now, "xgboost": "3.1.0", "requirements.lock": "000000000000"}
    assert library_changes(trained, now) == [
        f"requirements.lock 000000000000 -> {now['requirements.lock']}",
        "xgboost 3.1.0 -> 3.2.0",
    ]
    assert library_changes(now, now) == []


def test_monitoring_reports_the_schema_notices_of_its_window(tmp_path):
    first, second = date(2026, 5, 1), date(2026, 5, 2)
    record_schema_changes(first, {"weather": pd.DataFrame({"temp": ["1.5"]})}, tmp_path)
    record_schema_changes(second, {"weather": pd.DataFrame({"temp": ["1.5"], "wind": ["3"]})}, tmp_path)
    assert schema_notices([first], tmp_path) == []
    assert schema_notices([first, second], tmp_path) == [
        f"{second} weather: column wind appeared (integer) since {first}"
    ]
    # Whole numbers in a decimal column are the same family: no notice.
    third = date(2026, 5, 3)
    record_schema_changes(third, {"weather": pd.DataFrame({"temp": ["2"], "wind": ["3.5"]})}, tmp_path)
    assert schema_notices([third], tmp_path) == []
    # Recording a day again (a rerun) gives the same notice, not a second one.
    record_schema_changes(second, {"weather": pd.DataFrame({"temp": ["1.5"], "wind": ["3"]})}, tmp_path)
    assert len(schema_notices([second], tmp_path)) == 1
