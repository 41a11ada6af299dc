"""Test-wide environment (tests/ and usecases/*/tests): a private AIRFLOW_HOME and data root, set before anything
imports Airflow."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

from postgres_databases import postgres_database

REPO_ROOT = Path(__file__).resolve().parent
_AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="driftloop-airflow-"))

os.environ.update(
    {
        "AIRFLOW_HOME": str(_AIRFLOW_HOME),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{_AIRFLOW_HOME / 'airflow.db'}",
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO_ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO_ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "DRIFTLOOP_DATA_ROOT": str(_AIRFLOW_HOME / "default-data"),
    }
)
for folder in ("plugins", "dags"):
    if str(REPO_ROOT / folder) not in sys.path:
        sys.path.append(str(REPO_ROOT / folder))


def pytest_sessionfinish(session, exitstatus):
    shutil.rmtree(_AIRFLOW_HOME, ignore_errors=True)


@pytest.fixture
def data_root(tmp_path, monkeypatch):
    """A fresh, empty driftloop data root for one test; settings are re-read around it."""
    from driftloop.settings import get_settings

    root = tmp_path / "data"
    monkeypatch.setenv("DRIFTLOOP_DATA_ROOT", str(root))
    get_settings.cache_clear()
    yield root
    get_settings.cache_clear()


@pytest.fixture(params=["sqlite", "postgresql"])
def drift_store_url(request, tmp_path):
    """An empty drift record store: a SQLite file, or a database created on 127.0.0.1 and dropped afterwards."""
    from driftloop.monitoring import drift_records

    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'drift.db'}"
        return
    with postgres_database("driftloop_drift") as name:
        url = f"postgresql://postgres@127.0.0.1:5432/{name}"
        yield url
        drift_records.engine(url).dispose()


@pytest.fixture(scope="module")
def postgres_url():
    """The URL of a fresh PostgreSQL database for one test module, dropped afterwards."""
    with postgres_database() as name:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
