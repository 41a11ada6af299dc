"""What `make demo` reports about merit: quality per matured day and version, and whether the drift-triggered
version beat the champion it replaced on the post-drift days it never saw."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd

from driftloop.ops.demo import promotion_on_merit, quality_by_day
from driftloop.usecase.spec import ENTITY_TIMESTAMP

DRIFT = date(2026, 5, 10)
DAYS = [DRIFT + timedelta(days=i) for i in range(-2, 5)]


def _versions() -> list[dict]:
    return [
        {"version": "1", "reason": "scheduled", "decision": "promoted", "previous_champion": None,
         "training_window": "2026-05-01..2026-05-09", "airflow_dag_id": "train", "airflow_run_id": "manual__1"},
        {"version": "2", "reason": "drift: record 3 drift on 2026-05-10", "decision": "promoted",
         "previous_champion": "1", "training_window": "2026-05-10..2026-05-14", "airflow_dag_id": "train",
         "airflow_run_id": "drift__r1", "reasons": "beats the champion"},
    ]  # fmt: skip


def _labelled() -> pd.DataFrame:
    """40 rows a day; v2 ranks the labels right after the drift, v1 ranks them backwards there."""
    rng = np.random.default_rng(0)
    frames = []
    for day in DAYS:
        y = np.tile([0, 1], 20)
        noise = rng.random(40) * 0.2
        good = 0.4 * y + 0.3 + noise
        frames.append(
            pd.DataFrame({"churned": y, "day": day, "v2": good, "v1": (1.0 - good) if day >= DRIFT else good})
        )
    return pd.concat(frames, ignore_index=True)


def _run_folder(data_root, run: str, splits: dict[str, list[date]]) -> None:
    from driftloop.model.training_run import run_folder

    folder = run_folder(run)
    for split, days in splits.items():
        stamps = pd.to_datetime([f"{d} 23:59:59" for d in days], utc=True)
        pd.DataFrame({ENTITY_TIMESTAMP: stamps}).to_parquet(folder / f"{split}.parquet", index=False)


def test_the_drift_triggered_version_wins_on_the_post_drift_days_it_never_saw(data_root):
    from driftloop.settings import get_settings

    _run_folder(data_root, "train-drift__r1", {"train": DAYS[2:5], "validation": [DAYS[5]], "test": [DAYS[6]]})
    settings, versions, labelled = get_settings(), _versions(), _labelled()

    rows = {(r["day"], r["version"]): r for r in quality_by_day(settings, versions, labelled)}
    last = DAYS[-1].isoformat()
    assert rows[(last, "2")] == {
        "day": last, "version": "2", "metric": "roc_auc", "value": 1.0, "matured_rows": 40, "in_training": "test"
    }  # fmt: skip
    assert rows[(last, "1")]["value"] == 0.0 and rows[(last, "1")]["in_training"] == "after"
    assert rows[(DAYS[0].isoformat(), "2")]["in_training"] == "before"
    assert rows[(DAYS[3].isoformat(), "2")]["in_training"] == "train"

    merit = promotion_on_merit(settings, versions, labelled, DRIFT)
    assert merit["promoted_on_merit"] and merit["days"] == [last] and merit["rows"] == 40
    assert (merit["version_value"], merit["previous_value"]) == (1.0, 0.0)


def test_a_drift_triggered_version_the_gate_rejected_is_no_merit(data_root):
    from driftloop.settings import get_settings

    versions = _versions()
    versions[1] |= {"decision": "rejected", "reasons": "does not beat the champion"}
    merit = promotion_on_merit(get_settings(), versions, _labelled(), DRIFT)
    assert not merit["promoted_on_merit"]
    assert merit["why"] == "v2: rejected (does not beat the champion)"
