"""The monitoring dashboard over time: each monitored day lands in the model's Evidently project once per day,
version and kind, stamped with its day, and the dashboard has a tab over all days and one per model version; a
report opens with the header naming its day, version, reference and verdict."""

from __future__ import annotations

from datetime import date, datetime

import numpy as np
import pandas as pd
import pytest

from driftloop.monitoring import dashboard
from driftloop.monitoring.monitor import drift_report, report_header, save_report
from driftloop.settings import get_settings

COLUMNS = ["minutes_7d", "sessions_7d", "plan"]


def _frame(n: int, seed: int, usage: float = 1.0) -> pd.DataFrame:
    """Feature rows of a day; ``usage`` below 1 cuts viewing (the demo's price rise)."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "minutes_7d": rng.gamma(2.0, 60.0, n) * usage,
            "sessions_7d": rng.poisson(6 * usage, n).astype(float),
            "plan": rng.choice(["basic", "standard", "premium"], size=n, p=[0.35, 0.45, 0.2]),
            "prediction": rng.beta(2, 20, n) / usage,
        }
    )


@pytest.fixture
def settings(data_root):
    return get_settings()


def _day(settings, day: date, version: str, usage: float):
    labels = dashboard.run_labels(day, version, "drift")
    return drift_report(_frame(800, 1), _frame(800, day.day, usage=usage), COLUMNS, settings, run_labels=labels)


def _drifted_share(run) -> float:
    """The share of drifted columns a snapshot holds: the value the dashboard's "Share of drifted columns" plots."""
    (count,) = [r for r in run.metric_results.values() if type(r).__name__ == "CountValue"]
    return count.share.value


def test_each_day_and_version_is_one_snapshot_and_every_version_gets_a_tab(settings, tmp_path):
    folder = tmp_path / "evidently"
    days = [(date(2026, 3, 1), "1", 1.0), (date(2026, 3, 2), "1", 0.5), (date(2026, 3, 3), "2", 1.0)]
    results = {}
    for day, version, usage in days:
        snapshot, results[day] = _day(settings, day, version, usage)
        dashboard.add_day(folder, "churn", snapshot, "drift", "RocAuc")
    rerun, _ = _day(settings, date(2026, 3, 2), "1", 0.5)
    dashboard.add_day(folder, "churn", rerun, "drift", "RocAuc")

    ws = dashboard.workspace(folder)
    project = dashboard.project(ws, "churn")
    runs = [ws.get_run(project.id, rid) for rid in ws.list_runs(project.id)]
    stamped = sorted((r.timestamp, r.metadata["model_version"], tuple(r.tags)) for r in runs)
    assert stamped == [
        (datetime(2026, 3, 1), "1", ("drift",)),
        (datetime(2026, 3, 2), "1", ("drift",)),
        (datetime(2026, 3, 3), "2", ("drift",)),
    ], "a rerun of 03-02 replaced its snapshot instead of adding one"
    plotted = {r.metadata["day"]: _drifted_share(r) for r in runs}
    assert plotted == {d.isoformat(): pytest.approx(results[d].drift_share) for d in results}
    assert plotted["2026-03-02"] > 0 and plotted["2026-03-01"] == 0, "the usage drop of 03-02 drifted, 03-01 not"
    board = ws.get_dashboard(project.id)
    assert [t.title for t in board.tabs] == [dashboard.ALL_VERSIONS, "Model v1", "Model v2"]
    filters = {
        tab.title: {m.metadata.get("model_version") for p in board.panels if p.id in tab.panels for m in p.values}
        for tab in board.tabs
    }
    assert filters == {dashboard.ALL_VERSIONS: {None}, "Model v1": {"1"}, "Model v2": {"2"}}
    titles = {p.title for p in board.panels}
    assert {
        "Share of drifted columns",
        "Drifted columns",
        "Prediction drift",
        "Quality on matured labels (RocAuc)",
    } <= titles
    assert (
        dashboard.project_url("http://localhost:8000", folder, "churn")
        == f"http://localhost:8000/projects/{project.id}"
    )


def test_a_report_opens_with_its_day_version_reference_and_verdict(settings, tmp_path):
    snapshot, _ = _day(settings, date(2026, 3, 2), "1", 0.5)
    facts = {"Day": "2026-03-02", "Model": "churn version 1", "Reference": "2026-02-01..2026-02-28", "Verdict": "drift"}
    location = save_report(snapshot, str(tmp_path), "dt=2026-03-02/churn_v1", report_header("Drift report", facts))
    html = open(location).read()
    body = html[html.index("<body") :]
    header = body[body.index(">") + 1 :]
    assert header.startswith("<header id='driftloop-header'"), header[:200]
    for label, value in facts.items():
        assert f"<th style='text-align:left;padding:2px 12px 2px 0'>{label}</th><td>{value}</td>" in header
