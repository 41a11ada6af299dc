"""A small client of Airflow's REST API v2, for the demo and the system tests (plain HTTP, no Airflow import)."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from typing import Any

TERMINAL_RUN_STATES = ("success", "failed")


def run_note(day: date | None, conf: dict) -> str:
    """What a triggered run processes, for its note: ``day 2026-01-05``, ``days 2026-01-05, 2026-01-06``, or the
    conf's ``reason``; empty when none is known."""
    days = conf.get("days")
    if day is not None:
        return f"day {day.isoformat()}"
    if isinstance(days, list) and days:
        return "days " + ", ".join(str(d) for d in days)
    if conf.get("start") and isinstance(days, int):
        return f"{days} days from {conf['start']}"
    return str(conf.get("reason") or "")


class AirflowApiError(RuntimeError):
    """An API call answered with an error status; the message holds the method, path, status and body."""


class AirflowClient:
    """Token-authenticated calls to ``/api/v2`` of an Airflow API server (SimpleAuthManager or compatible)."""

    def __init__(self, base_url: str, username: str, password: str, timeout_s: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.username = username
        self.password = password
        self.timeout_s = timeout_s
        self._token: str | None = None

    def _send(self, method: str, path: str, body: Any = None, auth: bool = True) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"{self.base_url}{path}", data=data, method=method)
        request.add_header("Content-Type", "application/json")
        if auth:
            request.add_header("Authorization", f"Bearer {self.token()}")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                payload = response.read()
        except urllib.error.HTTPError as exc:
            raise AirflowApiError(f"{method} {path} -> {exc.code}: {exc.read().decode(errors='replace')}") from exc
        return json.loads(payload) if payload else None

    def token(self) -> str:
        """A JWT from ``POST /auth/token``, fetched once."""
        if self._token is None:
            answer = self._send(
                "POST", "/auth/token", {"username": self.username, "password": self.password}, auth=False
            )
            self._token = answer["access_token"]
        return self._token

    def health(self) -> dict:
        """The ``/api/v2/monitor/health`` document."""
        return self._send("GET", "/api/v2/monitor/health", auth=False)

    def get(self, path: str) -> Any:
        """GET an ``/api/v2`` path."""
        return self._send("GET", f"/api/v2{path}")

    def wait_for_dags(self, dag_ids: list[str], timeout_s: float = 180.0) -> None:
        """Wait until the dag-processor has parsed every DAG in ``dag_ids``; fail naming import errors."""
        deadline = time.monotonic() + timeout_s
        missing = list(dag_ids)
        while time.monotonic() < deadline:
            known = {d["dag_id"] for d in self.get("/dags?limit=100")["dags"]}
            missing = [d for d in dag_ids if d not in known]
            if not missing:
                return
            time.sleep(2)
        errors = self.get("/importErrors")["import_errors"]
        raise TimeoutError(f"DAGs {missing} not parsed after {timeout_s}s; import errors: {errors}")

    def set_paused(self, dag_id: str, paused: bool) -> None:
        """Pause or unpause a DAG."""
        self._send("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": paused})

    def trigger(
        self,
        dag_id: str,
        day: date | None = None,
        conf: dict | None = None,
        run_id: str | None = None,
        note: str | None = None,
    ) -> str:
        """Trigger a run; with ``day`` its data interval is that whole day (as scheduled runs have). The run's note
        (shown in the UI) is ``note``, else says what it processes (the day, or the ``days`` of its conf). Returns
        the run id."""
        body: dict[str, Any] = {"conf": conf or {}, "logical_date": None}
        note = note or run_note(day, conf or {})
        if note:
            body["note"] = note
        if run_id:
            body["dag_run_id"] = run_id
        if day is not None:
            start = datetime.combine(day, dtime(0), tzinfo=UTC)
            body.update(
                logical_date=start.isoformat(),
                data_interval_start=start.isoformat(),
                data_interval_end=(start + timedelta(days=1)).isoformat(),
                run_after=(start + timedelta(days=1)).isoformat(),
            )
        return self._send("POST", f"/api/v2/dags/{dag_id}/dagRuns", body)["dag_run_id"]

    def runs(self, dag_id: str) -> list[dict]:
        """Every run of a DAG, oldest first."""
        return self.get(f"/dags/{dag_id}/dagRuns?limit=500&order_by=run_after")["dag_runs"]

    def task_instances(self, dag_id: str, run_id: str) -> list[dict]:
        """The task instances of one run."""
        return self.get(f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances")["task_instances"]

    def wait_for_runs(self, dag_id: str, run_ids: list[str], timeout_s: float = 900.0) -> dict[str, str]:
        """Wait until every run in ``run_ids`` is finished; returns run id -> final state."""
        deadline = time.monotonic() + timeout_s
        states: dict[str, str] = {}
        while time.monotonic() < deadline:
            states = {r["dag_run_id"]: r["state"] for r in self.runs(dag_id) if r["dag_run_id"] in run_ids}
            if len(states) == len(run_ids) and all(s in TERMINAL_RUN_STATES for s in states.values()):
                return states
            time.sleep(3)
        raise TimeoutError(f"{dag_id} runs not finished after {timeout_s}s: {states}")

    def wait_until_idle(self, dag_id: str, timeout_s: float = 900.0, settle_s: float = 10.0) -> list[dict]:
        """Wait until ``dag_id`` has no queued or running run for ``settle_s`` seconds; returns all its runs."""
        deadline = time.monotonic() + timeout_s
        idle_since = None
        while time.monotonic() < deadline:
            runs = self.runs(dag_id)
            if any(r["state"] not in TERMINAL_RUN_STATES for r in runs):
                idle_since = None
            elif idle_since is None:
                idle_since = time.monotonic()
            elif time.monotonic() - idle_since >= settle_s:
                return runs
            time.sleep(2)
        raise TimeoutError(f"{dag_id} still busy after {timeout_s}s")
