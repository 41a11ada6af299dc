"""Compute cost per training stage and its regressions.

:func:`measured` records a stage's wall time and the process's peak resident memory into the run folder's
``compute.json``; the register step puts them on the MLflow run (tag ``compute``) and :func:`compute_regressions`
names every stage slower than ``DRIFTLOOP_COMPUTE_REGRESSION_FACTOR`` times its median over the last
``DRIFTLOOP_COMPUTE_HISTORY_RUNS`` training runs (tag ``compute_regressions``).
"""

from __future__ import annotations

import json
import resource
import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from driftloop.quality.registry import covers

COMPUTE_FILE = "compute.json"


def _peak_rss_mb() -> float:
    # ru_maxrss is in kilobytes on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


@contextmanager
def measured(folder: Path, stage: str) -> Iterator[None]:
    """Time the block and record ``stage``'s seconds and peak RSS (MB) in ``folder/compute.json`` when it ends
    without error (a rerun replaces the stage's entry)."""
    start = time.perf_counter()
    yield
    seconds = time.perf_counter() - start
    path = folder / COMPUTE_FILE
    recorded = json.loads(path.read_text()) if path.exists() else {}
    recorded[stage] = {"seconds": round(seconds, 3), "peak_rss_mb": round(_peak_rss_mb(), 1)}
    scratch = path.with_suffix(".tmp")
    scratch.write_text(json.dumps(recorded, indent=2))
    scratch.replace(path)


def read_compute(folder: Path) -> dict:
    """The stages ``measured`` recorded in ``folder`` (empty when none)."""
    path = folder / COMPUTE_FILE
    return json.loads(path.read_text()) if path.exists() else {}


@covers(
    "monitoring.6",
    stage="driftloop.model.training_run:step_register",
    tests=(
        "tests/unit/test_quality_compute.py::test_a_stage_slower_than_its_recent_median_by_the_factor_is_flagged",
        "tests/unit/test_quality_compute.py::test_measured_records_each_stage_once_per_run",
    ),
)
def compute_regressions(current: dict, history: list[dict], factor: float) -> list[str]:
    """The stages of ``current`` (stage -> {"seconds"}) slower than ``factor`` times their median over ``history``
    (earlier runs' compute records, newest first); a stage without history is not judged."""
    flagged = []
    for stage, measures in sorted(current.items()):
        earlier = [run[stage]["seconds"] for run in history if stage in run]
        if not earlier:
            continue
        median = statistics.median(earlier)
        if median > 0 and measures["seconds"] > factor * median:
            flagged.append(
                f"{stage} took {measures['seconds']:.2f}s, more than {factor} x its median {median:.2f}s over "
                f"{len(earlier)} earlier runs"
            )
    return flagged


def recent_compute(tracking_uri: str, experiment_name: str, runs: int, exclude_run_key: str) -> list[dict]:
    """The ``compute`` tags of the newest ``runs`` training runs of the experiment, other than this run's."""
    from driftloop.model import model_registry

    with model_registry.registry_calls(tracking_uri, f"read the recent training runs of {experiment_name!r}"):
        registry = model_registry.client(tracking_uri)
        experiment = registry.get_experiment_by_name(experiment_name)
        if experiment is None:
            return []
        order = ["attributes.start_time DESC"]
        found = registry.search_runs([experiment.experiment_id], order_by=order, max_results=50)
    history = []
    for run in found:
        if run.data.tags.get(model_registry.RUN_KEY_TAG) == exclude_run_key or "compute" not in run.data.tags:
            continue
        history.append(json.loads(run.data.tags["compute"]))
        if len(history) == runs:
            break
    return history
