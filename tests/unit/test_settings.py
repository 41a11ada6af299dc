"""Settings come from the environment, with defaults that need no servers, and every variable is documented."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from driftloop.settings import load_settings

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_defaults_keep_all_state_under_the_data_root_and_need_no_servers(monkeypatch, tmp_path):
    for name in list(__import__("os").environ):
        if name.startswith("DRIFTLOOP_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("DRIFTLOOP_DATA_ROOT", str(tmp_path))
    settings = load_settings()
    assert settings.landing_uri == str(tmp_path / "landing") and not settings.landing_is_s3
    assert settings.raw_dir == tmp_path / "raw"
    assert settings.offline_store_dir.is_relative_to(tmp_path)
    assert settings.feast_online_path == tmp_path / "feast" / "online.db"
    assert settings.mlflow_tracking_uri == f"sqlite:///{tmp_path / 'mlflow.db'}"
    assert settings.task_type == "classification" and settings.label_horizon_days == 30


def test_s3_landing_and_overrides_are_read_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("DRIFTLOOP_LANDING_URI", "s3://bucket/drops/")
    monkeypatch.setenv("DRIFTLOOP_TASK_TYPE", "regression")
    monkeypatch.setenv("DRIFTLOOP_VALIDATION_ROW_COUNT_MIN_RATIO", "0.25")
    settings = load_settings()
    assert settings.landing_uri == "s3://bucket/drops" and settings.landing_is_s3
    assert settings.task_type == "regression"
    assert settings.validation.row_count_min_ratio == 0.25


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("DRIFTLOOP_TASK_TYPE", "ranking", "DRIFTLOOP_TASK_TYPE='ranking' must be one of"),
        ("DRIFTLOOP_LABEL_HORIZON_DAYS", "thirty", "DRIFTLOOP_LABEL_HORIZON_DAYS='thirty' is not an integer"),
        ("DRIFTLOOP_CATCHUP", "maybe", "DRIFTLOOP_CATCHUP='maybe' is not a boolean"),
        ("DRIFTLOOP_MATERIALIZE_BATCH_ROWS", "0", "DRIFTLOOP_MATERIALIZE_BATCH_ROWS=0 must be at least 1"),
    ],
)
def test_a_bad_value_is_rejected_naming_the_variable(monkeypatch, name, value, message):
    monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match=re.escape(message)):
        load_settings()


def test_every_variable_the_code_reads_is_documented_in_env_example():
    documented = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", (REPO_ROOT / ".env.example").read_text(), re.M))
    sources = [
        *(REPO_ROOT / "include" / "driftloop").rglob("*.py"),
        *(REPO_ROOT / "plugins").rglob("*.py"),
        *(REPO_ROOT / "dags").glob("*.py"),
        *(REPO_ROOT / "scripts").iterdir(),
    ]
    read = set()
    for source in sources:
        read |= set(re.findall(r"\b(DRIFTLOOP_[A-Z0-9_]*[A-Z0-9]|AIRFLOW__[A-Z0-9_]*[A-Z0-9])\b", source.read_text()))
    assert sorted(read - documented) == []


def test_requirements_are_pinned_exactly_and_locked():
    pins = [
        line.split("#")[0].strip()
        for line in (REPO_ROOT / "requirements.txt").read_text().splitlines()
        if line.split("#")[0].strip()
    ]
    assert pins and all("==" in pin for pin in pins), [p for p in pins if "==" not in p]
    lock = (REPO_ROOT / "requirements.lock").read_text().lower()
    for pin in pins:
        name, version = pin.lower().split("==")
        bare_name = re.sub(r"\[.*\]", "", name)
        assert f"{bare_name}=={version}" in lock, pin


def test_ci_runs_the_readme_test_command():
    ci = [line.strip() for line in (REPO_ROOT / ".ci" / "run").read_text().splitlines() if line.startswith("make ")]
    assert ci == ["make test", "make ui-check"], ci
    assert "make test && make ui-check" in (REPO_ROOT / "README.md").read_text()
