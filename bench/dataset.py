"""A benchmark dataset at a given scale, made with driftloop's own simulator and data path.

``scale`` is the number of feature rows (one per active customer and day): about ``scale / FEATURE_DAYS /
ACTIVE_SHARE`` customers over ``FEATURE_DAYS`` days of accepted batches and features, so ``scale / FEATURE_DAYS``
entities are scored a day (1.6M rows: 100k a day; 16M rows: 1M a day); the results report the exact row count.
Features use ``FEATURE_WINDOW`` days of history, so from the ``FEATURE_WINDOW``-th day on every window is complete
(monitoring compares only such rows). Labels mature after ``HORIZON`` days, so the last days' batches carry label
events for the first days. The dataset lives in its own data root and is reused when it already exists for the
same scale and layout.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

FEATURE_DAYS = 16
FEATURE_WINDOW = 7
HORIZON = 7
ACTIVE_SHARE = 0.77
"""Share of the simulated customers active on a day over the benchmark's days (measured); sizes the population so
that the feature rows come close to the requested scale."""
START = date(2026, 3, 1)


@dataclass(frozen=True)
class Dataset:
    """Where a prepared dataset lives and what it holds."""

    scale: int
    customers: int
    root: Path
    days: list[date]

    def feature_rows(self) -> int:
        """Rows in the offline store (one per active customer and day)."""
        import pyarrow.parquet as pq

        return sum(pq.read_metadata(path).num_rows for path in (self.root / "offline").rglob("*.parquet"))

    @property
    def label_days(self) -> tuple[date, date]:
        """The as_of range of the label events that have features."""
        return self.days[0], self.days[-1] - timedelta(days=HORIZON)


def configure(root: Path) -> None:
    """Point driftloop's settings at a benchmark data root (the environment is this process's)."""
    from driftloop.settings import get_settings

    # Feast's helpers export the paths of the data root they last used; they would outlive a change of root.
    for exported in ("DRIFTLOOP_FEAST_REGISTRY", "DRIFTLOOP_FEAST_ONLINE_PATH", "DRIFTLOOP_OFFLINE_STORE_DIR"):
        os.environ.pop(exported, None)
    os.environ.update(
        {
            "DRIFTLOOP_DATA_ROOT": str(root),
            "DRIFTLOOP_LABEL_HORIZON_DAYS": str(HORIZON),
            "DRIFTLOOP_FEATURE_WINDOW_DAYS": str(FEATURE_WINDOW),
            "DRIFTLOOP_TRAIN_DEVICE": os.environ.get("DRIFTLOOP_TRAIN_DEVICE", "cpu"),
            "DRIFTLOOP_PREDICTIONS_DB_URL": "",
        }
    )
    get_settings.cache_clear()


def churn_module(relative: str):
    """A file of the churn use case (the benchmark's data set) as a module."""
    from driftloop.settings import usecases_dir
    from driftloop.usecase.active import use_case_module
    from driftloop.usecase.spec import load_spec

    return use_case_module(load_spec(usecases_dir() / "churn"), relative)


def prepare(scale: int, base: Path) -> Dataset:
    """Simulate, accept and featurize the dataset of ``scale`` feature rows (or reuse it)."""
    from driftloop.features.feature_store import apply_feature_repo
    from driftloop.features.partitions import build_features_for_day
    from driftloop.ingest.landing import copy_batch_to_raw
    from driftloop.ingest.validation import validate_batch
    from driftloop.settings import get_settings

    simulate = churn_module("simulate.py")
    SimulationConfig, simulate_to_landing = simulate.SimulationConfig, simulate.simulate_to_landing  # noqa: N806
    customers = max(100, round(scale / FEATURE_DAYS / ACTIVE_SHARE))
    root = base / f"scale-{scale}"
    days = [START + timedelta(days=i) for i in range(FEATURE_DAYS)]
    configure(root)
    manifest = root / "dataset.json"
    layout = {"customers": customers, "days": [d.isoformat() for d in days], "feature_window": FEATURE_WINDOW}
    if manifest.exists() and json.loads(manifest.read_text()) == layout:
        return Dataset(scale=scale, customers=customers, root=root, days=days)
    settings = get_settings()
    config = SimulationConfig(
        n_customers=customers, seed=11, epoch=START - timedelta(days=35), label_horizon_days=HORIZON
    )
    for batch in simulate_to_landing(config, START, FEATURE_DAYS, root / "landing"):
        day = date.fromisoformat(batch.name.removeprefix("dt="))
        copy_batch_to_raw(day, batch, settings)
        validate_batch(day, settings)
        build_features_for_day(day, settings)
    apply_feature_repo(settings)
    manifest.write_text(json.dumps(layout))
    return Dataset(scale=scale, customers=customers, root=root, days=days)
