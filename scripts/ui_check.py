"""`make ui-check`: look at driftloop's UIs in headless Chromium the way a user does, on state made here.

scripts/ui-check.sh starts Airflow, the MLflow UI and the monitoring dashboard (Evidently's UI) on free ports over a
scratch data root and AIRFLOW_HOME, then runs this script, which

1. writes a small churn world (clean days, then covariate drift) and ingests it and builds its features in-process;
2. triggers `train` through the REST API (the scheduler runs it, so the `gate` task has a real task log);
3. scores and monitors a clean day and a drift day in-process (the drift day must get the verdict `drift`);
4. opens, in Chromium (Debian's /usr/bin/chromium, driven by Playwright):
   - the `train` trigger form: the Params a user sets are visible by their titles, the internal ones are not;
   - the `gate` task log: the decision and every one of its reasons are in the visible log body;
   - the monitoring dashboard: the drift day is on the "Share of drifted columns" panel;
   and saves a screenshot of each page into DRIFTLOOP_UI_CHECK_DIR (default <repo>/data/ui-check).

Every page is checked; it exits non-zero naming each expectation that failed and the screenshot of its page.
"""

from __future__ import annotations

import os
import sys
import time
from datetime import date, timedelta
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("DRIFTLOOP_UI_CHECK_CHROMIUM", "/usr/bin/chromium")
START = date(2026, 3, 1)
N_DAYS = 22
DRIFT_FROM = START + timedelta(days=18)
CLEAN_DAY, DRIFT_DAY = START + timedelta(days=16), START + timedelta(days=N_DAYS - 1)
# The trigger form shows what a user sets and hides what the loop sets for itself.
VISIBLE_PARAMS = ["Reason", "Window start", "Window end", "Hyperparameter overrides", "Force promotion"]
HIDDEN_PARAMS = ["Drift records"]


class CheckFailed(AssertionError):
    """An expectation about a page did not hold; the message names the page and its screenshot."""


def prepare(settings) -> list[date]:
    """Write, ingest and build features for the check's days in-process; returns the days with features."""
    from driftloop.features.feature_store import apply_feature_repo
    from driftloop.features.partitions import build_features_for_day
    from driftloop.ingest.landing import copy_batch_to_raw
    from driftloop.ingest.validation import validate_batch
    from driftloop.usecase.active import active_spec, use_case_function

    spec = active_spec(settings)
    write = use_case_function(spec, spec.source.module, spec.source.function)
    params = {
        "customers": int(os.environ.get("DRIFTLOOP_UI_CHECK_CUSTOMERS", "6000")),
        "seed": 7,
        "epoch": (START - timedelta(days=40)).isoformat(),
        "scenario": "covariate_drift",
        "scenario_start": DRIFT_FROM.isoformat(),
    }
    days = []
    for batch in write(Path(settings.landing_uri), START, N_DAYS, params, settings):
        day = date.fromisoformat(Path(batch).name.removeprefix("dt="))
        copy_batch_to_raw(day, Path(batch), settings)
        validate_batch(day, settings)
        build_features_for_day(day, settings)
        days.append(day)
    apply_feature_repo(settings)
    print(f"prepared {len(days)} days {days[0]}..{days[-1]} (covariate drift from {DRIFT_FROM})", flush=True)
    return days


def train(client, settings) -> str:
    """One `train` run through the scheduler on the clean days' matured labels; returns its run id."""
    client.wait_for_dags(["train"])
    client.set_paused("train", False)
    window_start = START + timedelta(days=settings.feature_window_days - 1)
    window_end = DRIFT_FROM - timedelta(days=settings.label_horizon_days + 1)
    conf = {
        "window_start": window_start.isoformat(),
        "window_end": window_end.isoformat(),
        "force_promote": True,
        "reason": "make ui-check",
    }
    run_id = client.trigger("train", conf=conf)
    state = client.wait_for_runs("train", [run_id], timeout_s=900)[run_id]
    if state != "success":
        raise CheckFailed(f"train run {run_id} ended {state}: {client.task_instances('train', run_id)}")
    print(f"train run {run_id}: success", flush=True)
    return run_id


def monitor(settings) -> dict[str, str]:
    """Score and monitor a clean day and a drift day in-process; returns day -> verdict."""
    from driftloop.monitoring.monitor import dashboard_day, monitor_day
    from driftloop.serving.scoring import score_day

    verdicts = {}
    for day in (CLEAN_DAY, DRIFT_DAY):
        score_day(day, settings)
        result = monitor_day(day, settings)
        dashboard_day(day, settings)
        verdicts[day.isoformat()] = result.verdict
        print(result.summary(), flush=True)
    if verdicts[DRIFT_DAY.isoformat()] != "drift":
        raise CheckFailed(f"the drift day {DRIFT_DAY} was not judged drift: {verdicts}")
    return verdicts


def _shot(page, out: Path, name: str) -> Path:
    path = out / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def _wait_for_text(page, text: str, timeout_s: float = 60.0) -> bool:
    """Whether ``text`` becomes part of the page's visible text within ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if text in page.inner_text("body"):
            return True
        page.wait_for_timeout(1000)
    return False


def check_trigger_form(page, base_url: str, out: Path) -> Path:
    """The `train` trigger form shows the user's Params by title, and not the internal ones."""
    page.goto(f"{base_url}/dags/train")
    page.get_by_role("button", name="Trigger").first.click()
    _wait_for_text(page, VISIBLE_PARAMS[0], 30)
    page.wait_for_timeout(1500)
    shot = _shot(page, out, "train-trigger-form")
    dialog = page.get_by_role("dialog")
    visible = dialog.inner_text() if dialog.count() else page.inner_text("body")
    missing = [p for p in VISIBLE_PARAMS if p not in visible]
    shown = [p for p in HIDDEN_PARAMS if p in visible]
    if missing or shown:
        raise CheckFailed(f"train trigger form: missing {missing}, internal params shown {shown} (see {shot})")
    return shot


def check_gate_log(page, base_url: str, run_id: str, version: str, reasons: list[str], out: Path) -> Path:
    """The `gate` task log shows the decision and each of its reasons in its visible body."""
    from urllib.parse import quote

    page.goto(f"{base_url}/dags/train/runs/{quote(run_id, safe='')}/tasks/gate")
    _wait_for_text(page, "champion", 60)
    page.wait_for_timeout(1500)
    shot = _shot(page, out, "gate-task-log")
    # Each on a log line of its own: the task's "Returned value was: {...}" line holds them too, cut off on screen.
    lines = [line.lower() for line in page.inner_text("body").splitlines() if "Returned value" not in line]
    expected = [f"version {version} promoted to champion", *reasons]
    missing = [r for r in expected if not any(r.lower() in line for line in lines)]
    if missing:
        raise CheckFailed(f"gate task log: not in the visible body: {missing} (see {shot})")
    return shot


def check_dashboard(page, url: str, drift_day: date, out: Path) -> Path:
    """The monitoring dashboard plots the drift day on its "Share of drifted columns" panel."""
    page.goto(url)
    stamp = f"{drift_day.isoformat()} 00:00:00"
    _wait_for_text(page, stamp, 60)
    page.wait_for_timeout(2000)
    shot = _shot(page, out, "monitoring-dashboard")
    panel = page.locator("div", has_text="Share of drifted columns").filter(has_text=stamp).last
    if "Share of drifted columns" not in page.inner_text("body") or not panel.count():
        raise CheckFailed(f"dashboard {url}: no 'Share of drifted columns' panel with {stamp} (see {shot})")
    return shot


def main() -> int:
    """Prepare the state, then look at the three pages; prints the screenshots' paths."""
    from playwright.sync_api import sync_playwright

    from driftloop.model.model_registry import client as registry_client
    from driftloop.monitoring.dashboard import project_url
    from driftloop.ops.airflow_api import AirflowClient
    from driftloop.settings import get_settings

    settings = get_settings()
    out = Path(os.environ.get("DRIFTLOOP_UI_CHECK_DIR") or REPO_ROOT / "data" / "ui-check")
    out.mkdir(parents=True, exist_ok=True)
    base_url = os.environ["AIRFLOW__API__BASE_URL"]
    client = AirflowClient(base_url, os.environ["DRIFTLOOP_AIRFLOW_USER"], os.environ["DRIFTLOOP_AIRFLOW_PASSWORD"])
    try:
        prepare(settings)
        run_id = train(client, settings)
        monitor(settings)
        version = registry_client(settings.mlflow_tracking_uri).get_model_version_by_alias(
            settings.model.name, "champion"
        )
        reasons = version.tags["promotion_reasons"].split(" | ")
        dashboard_url = project_url(
            settings.links.dashboard_url, settings.links.dashboard_workspace, settings.model.name
        )
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            context = browser.new_context(viewport={"width": 1400, "height": 1800})
            context.add_cookies([{"name": "_token", "value": client.token(), "url": base_url}])
            page = context.new_page()
            checks = [
                lambda: check_trigger_form(page, base_url, out),
                lambda: check_gate_log(page, base_url, run_id, str(version.version), reasons, out),
                lambda: check_dashboard(page, dashboard_url, DRIFT_DAY, out),
            ]
            failures = []
            for check in checks:
                try:
                    print(f"ok: {check()}", flush=True)
                except CheckFailed as failed:
                    failures.append(str(failed))
            browser.close()
    except CheckFailed as failed:
        failures = [str(failed)]
    for failure in failures:
        print(f"ui-check FAILED: {failure}", file=sys.stderr)
    if not failures:
        print(f"ui-check passed; screenshots in {out}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
