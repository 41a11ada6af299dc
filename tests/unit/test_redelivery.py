"""A day delivered three times (valid, invalid, valid again): the raw zone keeps every delivery, the validated day is
always the last valid one, and the features of every later day whose window holds it are rebuilt.

Five simulated days (2026-03-10 to 14) with a 3-day feature window are accepted and their features built; then
2026-03-11 is re-delivered cut mid-row (rejected), then corrected (every session watched a minute more, one event
dropped, one added). The features of the 11th, 12th and 13th read the 11th's events; those of the 10th and 14th do
not.
"""

from __future__ import annotations

import csv
import hashlib
import io
import shutil
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from churn_usecase import SimulationConfig, simulate_to_landing
from driftloop.dates import day_range
from driftloop.features.partitions import (
    build_features_for_day,
    feature_partition_path,
    pending_feature_days,
    scored_days,
)
from driftloop.ingest.landing import copy_batch_to_raw
from driftloop.ingest.validation import BatchRejected, validate_batch
from driftloop.settings import get_settings, load_settings
from driftloop.storage import lake, raw_zone

DAYS = day_range(date(2026, 3, 10), 5)
REDELIVERED = DAYS[1]
IN_ITS_WINDOWS = DAYS[1:4]


@pytest.fixture
def settings(data_root, monkeypatch):
    """Churn with a 3-day label horizon and a 3-day feature window on a fresh data root."""
    monkeypatch.setenv("DRIFTLOOP_LABEL_HORIZON_DAYS", "3")
    monkeypatch.setenv("DRIFTLOOP_FEATURE_WINDOW_DAYS", "3")
    get_settings.cache_clear()
    return load_settings()


def _validated_digest(settings, day: date) -> dict[str, str]:
    """SHA-256 of every validated file of ``day`` (the tables' partitions and stats)."""
    paths = sorted(p for p in settings.validated_dir.rglob("*") if p.is_file() and lake.partition_name(day) in str(p))
    return {str(p.relative_to(settings.validated_dir)): hashlib.sha256(p.read_bytes()).hexdigest() for p in paths}


def _features(settings) -> dict[date, bytes]:
    return {day: feature_partition_path(day, settings).read_bytes() for day in DAYS}


def _redeliver(settings, name: str, activity: bytes):
    """Land the re-delivered day with ``activity`` in place of its events and copy it into the raw zone."""
    original = settings.data_root / "landing" / lake.partition_name(REDELIVERED)
    folder = settings.data_root / name / lake.partition_name(REDELIVERED)
    shutil.copytree(original, folder)
    (folder / "activity_events.csv").write_bytes(activity)
    return copy_batch_to_raw(REDELIVERED, folder, settings)


def _corrected(activity: bytes) -> tuple[bytes, pd.DataFrame]:
    """The events with a minute more on every session, the last event dropped and one event added; and as a frame."""
    header, *rows = list(csv.reader(io.StringIO(activity.decode())))
    minutes = header.index("minutes_watched")
    for row in rows:
        row[minutes] = f"{float(row[minutes]) + 1:.1f}" if row[minutes] else ""
    added = list(rows[0])
    added[header.index("event_id")] += "-late"
    rows = [*rows[:-1], added]
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([header, *rows])
    return out.getvalue().encode(), pd.DataFrame(rows, columns=header)


def test_a_day_delivered_valid_invalid_then_valid_again_keeps_every_delivery_and_rebuilds_later_features(settings):
    config = SimulationConfig(n_customers=400, seed=5, epoch=date(2026, 3, 1), label_horizon_days=3)
    for batch in simulate_to_landing(config, DAYS[0], len(DAYS), settings.data_root / "landing"):
        day = date.fromisoformat(batch.name.removeprefix("dt="))
        validate_batch(day, settings, copy_batch_to_raw(day, batch, settings).delivery)
    for day in DAYS:
        build_features_for_day(day, settings)
    assert pending_feature_days(settings) == []
    first = raw_zone.find_delivery(REDELIVERED, settings)
    first_events = (Path(first.uri) / "activity_events.csv").read_bytes()
    accepted_first = _validated_digest(settings, REDELIVERED)
    built_first = _features(settings)

    # 2. cut mid-row: rejected; the accepted day and its features stay as they were.
    cut = _redeliver(settings, "cut", first_events[:-15])
    with pytest.raises(BatchRejected) as rejected:
        validate_batch(REDELIVERED, settings, cut.delivery)
    assert {f.check for f in rejected.value.failures} == {"row_field_count", "file_complete"}
    assert _validated_digest(settings, REDELIVERED) == accepted_first
    assert pending_feature_days(settings) == []
    assert {e["delivery"] for e in raw_zone.read_manifest(REDELIVERED, settings)["tables"].values()} == {first.name}

    # 3. corrected: accepted, replaces the validated day, says what changed and which features are stale.
    corrected_events, corrected = _corrected(first_events)
    fixed = _redeliver(settings, "fixed", corrected_events)
    accepted = validate_batch(REDELIVERED, settings, fixed.delivery)

    sessions_with_minutes = int(corrected["minutes_watched"].iloc[:-1].astype(bool).sum())
    assert accepted.changes == {
        "activity_events": {"added": 1, "removed": 1, "changed": sessions_with_minutes},
        "customer_profiles": {"added": 0, "removed": 0, "changed": 0},
        "churn_labels": {"added": 0, "removed": 0, "changed": 0},
    }
    assert accepted.stale_feature_days == IN_ITS_WINDOWS
    assert pending_feature_days(settings) == IN_ITS_WINDOWS, "the later days whose window holds the 11th"
    validated = pd.read_parquet(lake.partition_dir(settings.validated_dir / "activity_events", REDELIVERED))
    assert sorted(validated["event_id"]) == sorted(corrected["event_id"])
    expected_minutes = pd.to_numeric(corrected["minutes_watched"].replace("", None)).sum()
    assert validated["minutes_watched"].sum() == pytest.approx(expected_minutes)
    assert _validated_digest(settings, REDELIVERED) != accepted_first

    deliveries = raw_zone.deliveries(REDELIVERED, settings)
    assert [d.name for d in deliveries] == [first.name, cut.delivery, fixed.delivery], "every delivery is kept"
    assert [(Path(d.uri) / "activity_events.csv").read_bytes() for d in deliveries] == [
        first_events,
        first_events[:-15],
        corrected_events,
    ]
    assert {e["delivery"] for e in raw_zone.read_manifest(REDELIVERED, settings)["tables"].values()} == {fixed.delivery}
    assert not lake.partition_dir(settings.quarantine_dir, REDELIVERED).exists(), "the day is accepted again"

    scored = settings.predictions_dir / f"{lake.partition_name(DAYS[2])}.parquet"
    scored.parent.mkdir(parents=True)
    scored.write_bytes(b"")
    assert scored_days(pending_feature_days(settings), settings) == [DAYS[2]], "the rebuild lists the scored days"

    for day in pending_feature_days(settings):
        build_features_for_day(day, settings)
    rebuilt = _features(settings)
    assert pending_feature_days(settings) == []
    assert [day for day in DAYS if rebuilt[day] != built_first[day]] == IN_ITS_WINDOWS
