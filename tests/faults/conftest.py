"""Fixtures of the fault suite: one real ``mlflow server`` behind a fault proxy per module, two trained runs (a good
model and a weak one) to register again and again, a fresh model name per test, and a private PostgreSQL cluster the
tests may stop and start."""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlflow_faults import FaultProxy, StepResult, mlflow_server, run_step
from private_postgres import private_postgres

CREDENTIALS = "driftloop:s3cret"
_names = itertools.count(1)


def _frame(n: int = 3000, seed: int = 3) -> pd.DataFrame:
    """Label events with a non-linear churn signal (a usage threshold, failed payments that matter on one plan)."""
    rng = np.random.default_rng(seed)
    stamps = pd.Timestamp("2026-03-01", tz="UTC") + pd.to_timedelta(rng.integers(0, 40, n), unit="D")
    frame = pd.DataFrame(
        {
            "customer_id": np.arange(n, dtype="int64"),
            "event_timestamp": stamps,
            "as_of_date": stamps.date,
            "sessions_30d": rng.poisson(20, n),
            "payment_failures_30d": rng.poisson(0.4, n),
            # One region and one tenure band: fewer slices, so fewer metrics for MLflow to link to each model.
            "tenure_days": rng.integers(400, 700, n),
            "plan": rng.choice(["basic", "standard", "premium"], n),
            "region": "north",
        }
    )
    basic_with_failures = (frame["payment_failures_30d"] > 0) & (frame["plan"] == "basic")
    logit = -2.0 + 3.0 * (frame["sessions_30d"] < 16) + 2.5 * basic_with_failures
    frame["churned"] = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    frame["future_watch_hours"] = rng.gamma(2.0, 5.0, n)
    return frame


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> dict[str, Path]:
    """Run folders that went through training_set -> split -> train -> evaluate: ``good`` (30 rounds) and ``weak``
    (one stump, clearly worse)."""
    from driftloop.model.training_run import step_evaluate, step_split, step_train
    from driftloop.settings import get_settings

    monkeypatch = pytest.MonkeyPatch()
    base = tmp_path_factory.mktemp("trained")
    monkeypatch.setenv("DRIFTLOOP_DATA_ROOT", str(base / "data"))
    monkeypatch.setenv("DRIFTLOOP_TRAIN_DEVICE", "cpu")
    get_settings.cache_clear()
    settings = get_settings()
    snapshot = base / "training_set.parquet"
    _frame().to_parquet(snapshot, index=False)
    summary = {
        "path": str(snapshot),
        "sha256": hashlib.sha256(snapshot.read_bytes()).hexdigest(),
        "rows": 3000,
        "start": "2026-03-01",
        "end": "2026-04-09",
        "feature_service": "customer_churn_v1",
    }
    folders = {}
    for kind, params in (("good", {"num_boost_round": 30, "max_depth": 3}), ("weak", {"num_boost_round": 1})):
        folder = base / kind
        folder.mkdir()
        (folder / "training_set.json").write_text(json.dumps(summary))
        step_split(folder)
        step_train(folder, {"max_depth": 1, **params} if kind == "weak" else params, settings)
        step_evaluate(folder, settings)
        folders[kind] = folder
    monkeypatch.undo()
    get_settings.cache_clear()
    return folders


@pytest.fixture(scope="module")
def proxy(tmp_path_factory):
    """A fault proxy in front of a real ``mlflow server`` (SQLite, served artifacts), both stopped afterwards."""
    with mlflow_server(tmp_path_factory.mktemp("mlflow")) as port:
        fronted = FaultProxy(port)
        yield fronted
        fronted.close()


@dataclass
class Lifecycle:
    """One test's model behind the proxy: its settings' environment, run folders and MLflow client."""

    proxy: FaultProxy
    trained: dict[str, Path]
    data_root: Path
    env: dict[str, str]

    @property
    def settings(self):
        """The settings the test's environment resolves to."""
        from driftloop.settings import get_settings

        return get_settings()

    @property
    def client(self):
        """An MLflow client through the proxy."""
        from driftloop.model.model_registry import client

        return client(self.settings.mlflow_tracking_uri)

    def folder(self, kind: str, name: str) -> Path:
        """A run folder named ``name`` (the run key) holding a copy of the ``kind`` training run."""
        target = self.data_root / "train_runs" / name
        shutil.copytree(self.trained[kind], target)
        return target

    def register(self, folder: Path) -> str:
        """``step_register`` in this process; the version."""
        from driftloop.model.training_run import step_register

        return step_register(folder, {"dag_id": "train", "run_id": folder.name}, self.settings)["version"]

    def gate(self, folder: Path, force: bool = False) -> dict:
        """``step_gate`` in this process."""
        from driftloop.model.training_run import step_gate

        return step_gate(folder, force, self.settings)

    def step(self, *args: str, victim: bool = False) -> StepResult:
        """A step in a subprocess (see run_step.py); with ``victim`` the proxy's kill rules kill it."""
        return run_step(self.proxy, self.env, *args, victim=victim)

    def versions(self) -> list:
        """Every version of the model, read whole, by version number."""
        name = self.settings.model.name
        found = self.client.search_model_versions(f"name = '{name}'")
        return sorted((self.client.get_model_version(name, v.version) for v in found), key=lambda v: int(v.version))

    def champion(self) -> str | None:
        """The version holding ``champion`` now."""
        from driftloop.model.model_registry import version_by_alias

        holder = version_by_alias(self.settings.mlflow_tracking_uri, self.settings.model.name, "champion")
        return str(holder.version) if holder else None


@pytest.fixture
def lifecycle(proxy, trained, tmp_path, monkeypatch) -> Lifecycle:
    """A fresh model name on the shared server, reached through the proxy with credentials in the URI; MLflow's HTTP
    client bounded to one quick retry. The proxy forwards everything again afterwards."""
    from driftloop.settings import get_settings

    values = {
        "DRIFTLOOP_DATA_ROOT": str(tmp_path / "data"),
        "DRIFTLOOP_MLFLOW_TRACKING_URI": proxy.url(CREDENTIALS),
        "DRIFTLOOP_MODEL_NAME": f"faults_{next(_names)}",
        "DRIFTLOOP_TRAIN_DEVICE": "cpu",
        "DRIFTLOOP_MLFLOW_HTTP_MAX_RETRIES": "1",
        "DRIFTLOOP_MLFLOW_HTTP_BACKOFF_FACTOR": "0",
        "DRIFTLOOP_MLFLOW_HTTP_TIMEOUT_S": "30",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    yield Lifecycle(proxy, trained, tmp_path / "data", {**os.environ, **values})
    proxy.reset()
    get_settings.cache_clear()


@pytest.fixture(scope="module")
def cluster():
    """A private PostgreSQL cluster for one test module, stopped and removed afterwards."""
    with private_postgres() as running:
        yield running


@pytest.fixture
def running_cluster(cluster):
    """The module's cluster, started again after a test that stopped it."""
    yield cluster
    if cluster.stopped():
        cluster.start()
