"""The use-case spec: churn's loads, mistakes are named by file and field, settings take their defaults from it, a
new folder from the template checks out, and the core names no use case's columns."""

from __future__ import annotations

import re
import tomllib

import pytest

from driftloop.settings import REPO_ROOT, get_settings, load_settings
from driftloop.usecase.spec import SpecError, load_spec, parse_spec

CHURN_DIR = REPO_ROOT / "usecases" / "churn"


def _document() -> dict:
    return tomllib.loads((CHURN_DIR / "usecase.toml").read_text())


def test_the_churn_spec_declares_entity_tables_label_inputs_and_slices():
    spec = load_spec(CHURN_DIR)
    assert (spec.entity.join_key, spec.entity.dtype) == ("customer_id", "int64")
    assert {name: table.role for name, table in spec.tables.items()} == {
        "activity_events": "events",
        "customer_profiles": "entities",
        "churn_labels": "labels",
    }
    assert spec.target_column("regression") == "future_watch_hours"
    assert spec.model.categorical["plan"] == ("basic", "standard", "premium"), "categories taken from the table column"
    assert [s.name for s in spec.slices] == ["plan", "region", "tenure_band"]
    assert spec.slices[2].bands["2y+"] == (730.0, float("inf"))
    assert spec.label_table.expected_day.__self__.lagged_by_label_horizon


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda d: d["tables"]["churn_labels"]["columns"]["churned"].update(dtype="int"),
            r"tables\.churn_labels\.columns\.churned\.dtype: 'int' is not one of int64",
        ),
        (lambda d: d["label"].update(table="labels"), r"label\.table: 'labels' is not among the tables"),
        (lambda d: d["entity"].update(join_key="Customer Id"), r"entity\.join_key: 'Customer Id' must be lower case"),
        (lambda d: d.update(colour="blue"), r"colour: unknown field"),
        (
            lambda d: d["model"]["categorical"].update(plan="customer_profiles.monthly_charge"),
            r"model\.categorical\.plan: .*names no column with categories",
        ),
        (
            lambda d: d["tables"]["customer_profiles"]["columns"].pop("customer_id"),
            r"tables\.customer_profiles: .*names column 'customer_id'",
        ),
        (
            lambda d: d["label"]["targets"].update(regression="hours"),
            r"label\.targets\.regression: 'hours' is not a column of churn_labels",
        ),
        (lambda d: d["slices"][2]["bands"].update(bad=[5, 1]), r"slices\[2\]\.bands\.bad: must be \[low, high\)"),
        (lambda d: d["features"].update(module="missing.py"), r"files: .*missing\.py does not exist"),
    ],
)
def test_a_mistake_is_named_by_file_and_field(edit, message):
    document = _document()
    edit(document)
    with pytest.raises(SpecError, match=message) as error:
        parse_spec(document, CHURN_DIR)
    assert str(error.value).startswith(f"{CHURN_DIR / 'usecase.toml'}: invalid use-case spec")


def test_settings_take_the_spec_defaults_and_the_environment_overrides_them(monkeypatch, tmp_path):
    monkeypatch.delenv("DRIFTLOOP_LABEL_HORIZON_DAYS", raising=False)
    monkeypatch.setenv("DRIFTLOOP_DATA_ROOT", str(tmp_path))
    settings = load_settings()
    assert (settings.label_horizon_days, settings.task_type, settings.model.name) == (30, "classification", "churn")
    assert settings.offline_store_dir == tmp_path / "offline" / "customer_daily_features"
    monkeypatch.setenv("DRIFTLOOP_LABEL_HORIZON_DAYS", "7")
    assert load_settings().label_horizon_days == 7
    monkeypatch.setenv("DRIFTLOOP_USECASE", "nosuchcase")
    with pytest.raises(
        ValueError, match=r"DRIFTLOOP_USECASE='nosuchcase': .*usecase\.toml does not exist \(use cases here: .*churn"
    ):
        load_settings()


def test_a_new_use_case_from_the_template_loads_checks_and_builds_features(monkeypatch, tmp_path):
    import pandas as pd

    from driftloop.features.partitions import build_features_for_day
    from driftloop.usecase.active import _spec_of
    from driftloop.usecase.check import check_usecase
    from driftloop.usecase.template import create_usecase

    folder = create_usecase("sensors", tmp_path / "cases", entity="sensor", key="sensor_id")
    with pytest.raises(ValueError, match="exists already"):
        create_usecase("sensors", tmp_path / "cases")
    monkeypatch.setenv("DRIFTLOOP_USECASE", str(folder))
    monkeypatch.setenv("DRIFTLOOP_DATA_ROOT", str(tmp_path / "data"))
    get_settings.cache_clear()
    _spec_of.cache_clear()
    try:
        settings = get_settings()
        lines = check_usecase(settings)
        assert "FeatureView sensors_daily_features with 3 features" in " ".join(lines)
        day = pd.Timestamp("2026-05-02").date()
        part = settings.validated_dir / "observations" / "dt=2026-05-02"
        part.mkdir(parents=True)
        pd.DataFrame(
            {
                "observation_id": ["a", "b", "c"],
                "sensor_id": [1, 1, 2],
                "observed_at": pd.to_datetime(["2026-05-02T01:00Z", "2026-05-02T02:00Z", "2026-05-02T03:00Z"]),
                "value": [1.0, 3.0, 5.0],
            }
        ).to_parquet(part / "part.parquet")
        built = build_features_for_day(day, settings)
        written = pd.read_parquet(built.path)
        assert written["sensor_id"].tolist() == [1, 2]
        assert written["value_mean_1d"].tolist() == [2.0, 5.0]
        assert str(written["event_timestamp"].iloc[0]) == "2026-05-02 23:59:59+00:00"
    finally:
        get_settings.cache_clear()
        _spec_of.cache_clear()


def test_the_core_names_no_use_case_column():
    """What issue #11 asks of the core: the churn names live in the churn folder only."""
    names = re.compile(r"\b(customer_id|churned|future_watch_hours|as_of_date|plan|region|tenure)\b")
    found = [
        f"{path.relative_to(REPO_ROOT)}:{number}: {line.strip()}"
        for path in sorted((REPO_ROOT / "include" / "driftloop").rglob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if names.search(line)
    ]
    assert found == []
