"""The contract fields of the use-case spec: references, bounds and the acceptance policy are validated by field, a
``per_table`` use case keeps a delivery's good tables, and ``reference_history_days`` widens where a key may be
found; the policy settings name a bad value."""

from __future__ import annotations

import shutil
import tomllib
from datetime import date

import pytest

from driftloop.ingest.landing import copy_batch_to_raw
from driftloop.ingest.validation import BatchRejected, validate_batch
from driftloop.settings import REPO_ROOT, get_settings, load_settings
from driftloop.storage import lake, raw_zone
from driftloop.usecase.spec import SpecError, parse_spec

CHURN_DIR = REPO_ROOT / "usecases" / "churn"
DAY = date(2026, 5, 4)
ACTIVITY = (
    "event_id,customer_id,event_time,event_type,device,genre,minutes_watched\n"
    "e1,1,2026-05-04T08:00:00Z,session,tv,drama,42.5\n"
    "e2,2,2026-05-04T09:00:00Z,session,web,kids,10.0\n"
)
PROFILES = (
    "snapshot_date,customer_id,plan,monthly_charge,region,signup_date\n"
    "2026-05-04,1,basic,8.99,north,2025-01-01\n"
    "2026-05-04,2,premium,17.99,,2025-06-15\n"
)
LABELS = "customer_id,as_of_date,churned,future_watch_hours\n1,2026-05-01,0,12.5\n"


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda t: t["activity_events"].update(references={"customer_id": "profiles"}),
            r"tables\.activity_events\.references\.customer_id: must be \"table\.column\", got 'profiles'",
        ),
        (
            lambda t: t["activity_events"].update(references={"customer_id": "customers.customer_id"}),
            r"references\.customer_id: 'customers' is not another table of the batch",
        ),
        (
            lambda t: t["activity_events"].update(references={"customer_id": "customer_profiles.plan"}),
            r"references\.customer_id: int64 differs from customer_profiles\.plan's str",
        ),
        (
            lambda t: t["activity_events"].update(references={"device": "customer_profiles.id"}),
            r"references\.device: 'id' is not a column of customer_profiles",
        ),
        (
            lambda t: t["activity_events"].update(min_rows=10, max_rows=5),
            r"tables\.activity_events\.min_rows: 10 is above max_rows 5",
        ),
        (lambda t: t["churn_labels"].update(min_rows=-1), r"tables\.churn_labels\.min_rows: must be at least 0"),
        (
            lambda t: t["customer_profiles"]["columns"]["plan"].update(max_null_rate=0.1),
            r"columns\.plan\.max_null_rate: only a nullable column",
        ),
        (
            lambda t: t["customer_profiles"]["columns"]["region"].update(max_null_rate=1.5),
            r"columns\.region\.max_null_rate: must be a share between 0 and 1",
        ),
    ],
)
def test_a_contract_mistake_is_named_by_file_and_field(edit, message):
    document = tomllib.loads((CHURN_DIR / "usecase.toml").read_text())
    edit(document["tables"])
    with pytest.raises(SpecError, match=message):
        parse_spec(document, CHURN_DIR)


def test_the_acceptance_policy_is_one_of_whole_and_per_table():
    document = tomllib.loads((CHURN_DIR / "usecase.toml").read_text())
    assert parse_spec(document, CHURN_DIR).validation.acceptance == "whole"
    document["validation"]["acceptance"] = "some"
    with pytest.raises(SpecError, match=r"validation\.acceptance: 'some' is not one of whole, per_table"):
        parse_spec(document, CHURN_DIR)


@pytest.mark.parametrize("variable", ["DRIFTLOOP_VALIDATION_TEXTUAL_NAN", "DRIFTLOOP_VALIDATION_NAIVE_TIMESTAMPS"])
def test_a_policy_setting_names_a_bad_value(monkeypatch, data_root, variable):
    monkeypatch.setenv(variable, "guess")
    with pytest.raises(ValueError, match=f"setting {variable}='guess' must be one of"):
        load_settings()


def _use_case(tmp_path, monkeypatch, toml_edit) -> object:
    """Settings of a copy of churn whose usecase.toml went through ``toml_edit`` (3-day label horizon)."""
    folder = tmp_path / "usecase"
    shutil.copytree(CHURN_DIR, folder, ignore=shutil.ignore_patterns("tests", "__pycache__"))
    (folder / "usecase.toml").write_text(toml_edit((folder / "usecase.toml").read_text()))
    monkeypatch.setenv("DRIFTLOOP_USECASE", str(folder))
    monkeypatch.setenv("DRIFTLOOP_LABEL_HORIZON_DAYS", "3")
    get_settings.cache_clear()
    return load_settings()


def _deliver(settings, day: date, files: dict[str, str]):
    folder = settings.data_root / "landing" / f"{len(raw_zone.deliveries(day, settings))}" / lake.partition_name(day)
    folder.mkdir(parents=True)
    for name, text in files.items():
        (folder / f"{name}.csv").write_text(text)
    (folder / "_SUCCESS").write_text("")
    return copy_batch_to_raw(day, folder, settings)


def test_per_table_acceptance_keeps_the_good_tables_and_quarantines_the_bad(data_root, tmp_path, monkeypatch):
    settings = _use_case(tmp_path, monkeypatch, lambda text: text.replace('"whole"', '"per_table"'))
    raw = _deliver(settings, DAY, {"activity_events": ACTIVITY, "customer_profiles": PROFILES, "churn_labels": ""})

    with pytest.raises(BatchRejected) as rejected:
        validate_batch(DAY, settings, raw.delivery)

    assert rejected.value.accepted_tables == ["activity_events", "customer_profiles"]
    assert "accepted anyway (per_table): activity_events, customer_profiles" in str(rejected.value)
    assert [(f.table, f.check) for f in rejected.value.failures] == [("churn_labels", "file_readable")]
    assert sorted(raw_zone.read_manifest(DAY, settings)["tables"]) == ["activity_events", "customer_profiles"]
    assert (lake.partition_dir(settings.validated_dir / "customer_profiles", DAY) / "part.parquet").exists()
    assert lake.partition_dir(settings.quarantine_dir, DAY).exists()

    # A table whose references only this delivery's rejected profiles could confirm is rejected with them.
    bad_profiles = PROFILES.replace("basic", "gold")
    raw = _deliver(
        settings, DAY, {"activity_events": ACTIVITY, "customer_profiles": bad_profiles, "churn_labels": LABELS}
    )
    with pytest.raises(BatchRejected) as rejected:
        validate_batch(DAY, settings, raw.delivery)
    assert [(f.table, f.check) for f in rejected.value.failures] == [
        ("activity_events", "reference_exists"),
        ("customer_profiles", "value_in_categories"),
    ]
    assert rejected.value.accepted_tables == ["churn_labels"]
    manifest = raw_zone.read_manifest(DAY, settings)["tables"]
    assert manifest["churn_labels"]["delivery"] == raw.delivery
    assert manifest["customer_profiles"]["delivery"] != raw.delivery, "the profiles accepted before stay"


def test_reference_history_days_accept_a_key_seen_in_the_days_before(data_root, tmp_path, monkeypatch):
    def with_history(text: str) -> str:
        return text.replace('day_column = "event_time"\n', 'day_column = "event_time"\nreference_history_days = 2\n')

    settings = _use_case(tmp_path, monkeypatch, with_history)
    earlier = date(2026, 5, 2)
    profiles = PROFILES.replace("2026-05-04", "2026-05-02") + "2026-05-02,9,basic,8.99,east,2025-01-01\n"
    empty_labels = "customer_id,as_of_date,churned,future_watch_hours\n"
    validate_batch(
        earlier,
        settings,
        _deliver(
            settings,
            earlier,
            {
                "activity_events": ACTIVITY.replace("2026-05-04", "2026-05-02"),
                "customer_profiles": profiles,
                "churn_labels": empty_labels,
            },
        ).delivery,
    )
    late_event = ACTIVITY + "e3,9,2026-05-04T10:00:00Z,support_contact,,,\n"  # customer 9 left on the 3rd
    raw = _deliver(
        settings, DAY, {"activity_events": late_event, "customer_profiles": PROFILES, "churn_labels": LABELS}
    )
    assert validate_batch(DAY, settings, raw.delivery).row_counts["activity_events"] == 3

    unknown = ACTIVITY + "e3,8,2026-05-04T10:00:00Z,support_contact,,,\n"
    raw = _deliver(settings, DAY, {"activity_events": unknown, "customer_profiles": PROFILES, "churn_labels": LABELS})
    with pytest.raises(BatchRejected) as rejected:
        validate_batch(DAY, settings, raw.delivery)
    [failure] = rejected.value.failures
    assert (failure.check, failure.column, failure.failing_count) == ("reference_exists", "customer_id", 1)
    assert (
        failure.detail
        == "values not among customer_profiles.customer_id of the row's day or the 2 days before (2026-05-04)"
    )
