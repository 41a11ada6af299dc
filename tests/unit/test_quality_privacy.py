"""Personal columns never travel as such, quarantine reports mask them, and features read only allowed sources."""

from __future__ import annotations

import json
from dataclasses import replace

import pandas as pd
import pytest
from test_validation import DAY, HORIZON, PROFILE_ROWS, _changed, _write_batch

from driftloop.ingest.validation import BatchRejected, validate_batch
from driftloop.quality.privacy import MASK, PrivacyViolation, check_allowed_sources, check_no_personal_columns
from driftloop.settings import REPO_ROOT, ValidationSettings, load_settings
from driftloop.usecase.spec import PrivacySpec, load_spec


@pytest.fixture
def settings(data_root):
    """The settings of test_validation's batches: a 3-day label horizon, no recent batches needed."""
    return replace(load_settings(), label_horizon_days=HORIZON, validation=ValidationSettings(sample_rows=2))


CHURN = load_spec(REPO_ROOT / "usecases" / "churn")


def test_a_training_set_or_predictions_carrying_a_personal_column_fail():
    check_no_personal_columns(pd.DataFrame({"customer_id": [1], "tenure_days": [30]}), CHURN, "the training set")
    carrying = pd.DataFrame({"customer_id": [1], "signup_date": ["2025-01-01"], "prediction": [0.2]})
    with pytest.raises(PrivacyViolation, match=r"the predictions of 2026-05-04 carries personal data as such: "):
        check_no_personal_columns(carrying, CHURN, "the predictions of 2026-05-04")
    with pytest.raises(PrivacyViolation, match=r"signup_date \(privacy.personal_columns of .*usecase.toml\)"):
        check_no_personal_columns(carrying, CHURN, "the training set")


def test_quarantine_sample_rows_show_personal_columns_masked(settings, caplog):
    _write_batch(settings, customer_profiles=_changed(PROFILE_ROWS, 1, plan="PREMIUM+"))
    with pytest.raises(BatchRejected) as rejected:
        validate_batch(DAY, settings)
    report = json.loads(rejected.value.report_path.read_text())
    [failure] = report["failures"]
    assert failure["check"] == "value_in_categories"
    assert failure["sample_rows"][0]["plan"] == "PREMIUM+", "other columns are shown as delivered"
    assert failure["sample_rows"][0]["signup_date"] == MASK
    assert "2025-01-01" not in rejected.value.report_path.read_text() + str(rejected.value) + caplog.text


def test_features_and_labels_come_only_from_allowed_sources():
    check_allowed_sources(CHURN, ["activity_events", "customer_profiles"], "the features of 2026-05-04")
    narrow = replace(CHURN, privacy=PrivacySpec(allowed_sources=("customer_profiles", "churn_labels")))
    with pytest.raises(PrivacyViolation, match=r"the features of 2026-05-04 reads activity_events, not among"):
        check_allowed_sources(narrow, ["activity_events", "customer_profiles"], "the features of 2026-05-04")
    check_allowed_sources(replace(CHURN, privacy=PrivacySpec()), ["anything"], "no list allows every table")
