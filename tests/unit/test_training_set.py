"""The training set has exactly one point-in-time correct row per matured label event, or fails loudly."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import pytest

from churn_usecase import CHURN
from driftloop.model.training_set import TrainingSetIncomplete, build_training_set, check_labels_matched, label_events
from driftloop.storage import lake

START = date(2026, 3, 1)
HORIZON = 3


@pytest.fixture
def accepted_days_with_features(data_root, monkeypatch):
    from churn_usecase import SimulationConfig, simulate_to_landing
    from driftloop.features.feature_store import apply_feature_repo
    from driftloop.features.partitions import build_features_for_day
    from driftloop.ingest.landing import copy_batch_to_raw
    from driftloop.ingest.validation import validate_batch
    from driftloop.settings import load_settings

    monkeypatch.setenv("DRIFTLOOP_LABEL_HORIZON_DAYS", str(HORIZON))
    settings = load_settings()
    config = SimulationConfig(n_customers=300, seed=2, epoch=START - timedelta(days=40), label_horizon_days=HORIZON)
    for batch in simulate_to_landing(config, START, 8, settings.data_root / "landing"):
        day = date.fromisoformat(batch.name.removeprefix("dt="))
        copy_batch_to_raw(day, batch, settings)
        validate_batch(day, settings)
        build_features_for_day(day, settings)
    apply_feature_repo(settings)
    return settings


def test_each_label_event_gets_the_features_of_its_own_day(accepted_days_with_features):
    settings = accepted_days_with_features
    window = (START, START + timedelta(days=4))
    events = label_events(*window, settings)
    training = build_training_set(*window, settings)

    assert len(training.frame) == len(events) > 0
    assert training.path.exists() and len(training.sha256) == 64
    row = training.frame.iloc[len(training.frame) // 2]
    day = row["event_timestamp"].date()
    offline = pd.read_parquet(settings.offline_store_dir / f"{lake.partition_name(day)}.parquet")
    expected = offline.set_index("customer_id").loc[row["customer_id"]]
    for column in ("sessions_30d", "minutes_30d", "tenure_days", "plan"):
        assert row[column] == expected[column], column
    assert build_training_set(*window, settings).sha256 == training.sha256, "same inputs, same snapshot"


def test_label_events_before_any_feature_row_fail_loudly_instead_of_being_dropped(accepted_days_with_features):
    settings = accepted_days_with_features
    # Labels that describe days before the first feature partition find no feature row within the ttl (Feast's file
    # offline store would drop them from the join); the check turns that into an error naming them.
    with pytest.raises(TrainingSetIncomplete, match="label events found no feature row within the TTL"):
        build_training_set(START - timedelta(days=HORIZON), START + timedelta(days=4), settings)


def _events(*rows):
    return pd.DataFrame(
        {
            "customer_id": [r[0] for r in rows],
            "event_timestamp": pd.to_datetime([r[1] for r in rows], utc=True),
        }
    )


def test_a_dropped_or_repeated_event_is_named():
    events = _events((1, "2026-03-01T23:59:59Z"), (2, "2026-03-01T23:59:59Z"))
    dropped = events.iloc[:1].assign(sessions_7d=[3])
    with pytest.raises(TrainingSetIncomplete, match="1 rows for 2 label events: 1 label events missing"):
        check_labels_matched(events, dropped, ["sessions_7d"], CHURN)
    repeated = pd.concat([events, events.iloc[:1]]).assign(sessions_7d=[3, 4, 3])
    with pytest.raises(TrainingSetIncomplete, match="1 label events returned more than once"):
        check_labels_matched(events, repeated, ["sessions_7d"], CHURN)
    check_labels_matched(events, events.assign(sessions_7d=[1, 2]), ["sessions_7d"], CHURN)
