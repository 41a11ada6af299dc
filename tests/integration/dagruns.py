"""Helpers for running driftloop's DAGs in-process with ``dag.test()`` and comparing data trees."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import NamedTuple

REPO_ROOT = Path(__file__).resolve().parents[2]


def load_dag(dag_id: str):
    """Parse the dags folder now (with the current environment's settings) and return one DAG."""
    from airflow.dag_processing.dagbag import DagBag

    from driftloop.settings import get_settings

    get_settings.cache_clear()
    dagbag = DagBag(dag_folder=str(REPO_ROOT / "dags"))
    assert dagbag.import_errors == {}, dagbag.import_errors
    return dagbag.get_dag(dag_id)


class RunResult(NamedTuple):
    """What one ``dag.test()`` run ended with: the run state, and per task its state and end time."""

    state: str
    tasks: dict[str, str]
    ended: dict[str, datetime]


def run_dag(dag_id: str, run_date: date, conf: dict | None = None) -> RunResult:
    """Run one DAG run in-process with ``dag.test()`` for the interval ending after ``run_date``."""
    dag = load_dag(dag_id)
    logical = datetime.combine(run_date + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
    dag_run = dag.test(logical_date=logical, run_conf=conf or {})
    instances = dag_run.get_task_instances()
    return RunResult(
        state=str(dag_run.state),
        tasks={ti.task_id: str(ti.state) for ti in instances},
        ended={ti.task_id: ti.end_date for ti in instances},
    )


def tree_digest(*roots: Path) -> dict[str, str]:
    """Relative path -> SHA-256 of every file below ``roots`` (for byte-for-byte comparisons)."""
    digest = {}
    for root in roots:
        for path in sorted(Path(root).rglob("*")):
            if path.is_file():
                digest[str(path.relative_to(root.parent))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return digest
