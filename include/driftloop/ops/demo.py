"""The demo scenario, driven through a running Airflow's REST API: the whole loop, from raw batches to a
drift-triggered retraining.

``make demo`` starts Airflow and the MLflow UI and runs ``python -m driftloop.ops.demo`` for the active use case
(``DRIFTLOOP_USECASE``; its ``[demo]`` section says how many days, where the drift starts and which batch is corrupt).
It writes N days of batches through the ``simulate_source`` DAG (the use case's source), triggers
``ingest`` for each day but the last, unpauses it so the scheduler also creates the regular run for the last day,
and then runs ``features`` once for every accepted day (paused while the history is ingested, so one Feast apply and
materialization serve all days). Then ``train`` makes the first champion,
``score`` scores a few clean days and then each drift day, ``monitor`` follows on the predictions asset and writes
drift records, and ``retrain_on_drift``'s deferred sensor turns the first drift records into one ``train`` run. It
prints what happened and saves it to ``<data root>/demo/summary.json``. Demo settings come from
``DRIFTLOOP_DEMO_*`` variables (see ``.env.example``) over the spec's ``[demo]``; ``python -m driftloop.ops.demo --env``
prints the settings the spec's ``[demo] env`` gives, as shell exports, for ``scripts/demo.sh``.
"""

from __future__ import annotations

import json
import os
import sys
import time
from datetime import UTC, date, datetime, timedelta

from driftloop.monitoring.dashboard import project_url
from driftloop.ops.airflow_api import AirflowClient
from driftloop.settings import Settings, get_settings
from driftloop.storage import lake
from driftloop.usecase.active import active_spec, use_case_function

DAG_IDS = ["simulate_source", "ingest", "features", "train", "score", "monitor", "retrain_on_drift"]


def demo_days(n_days: int, today: date | None = None) -> list[date]:
    """The ``n_days`` most recent complete days, oldest first (the last one is yesterday)."""
    today = today or datetime.now(UTC).date()
    return [today - timedelta(days=n_days - i) for i in range(n_days)]


def _env_int(name: str, default: int) -> int:
    return int(os.environ.get(name) or default)


def quarantine_reasons(settings: Settings, day: date) -> list[str]:
    """One line per failed check of ``day``'s quarantined batch (empty when the day was not quarantined)."""
    report_path = lake.partition_dir(settings.quarantine_dir, day) / "report.json"
    if not report_path.exists():
        return []
    report = json.loads(report_path.read_text())
    return [
        f"{f['file']}: {f['check']}"
        + (f" on {f['column']}" if f.get("column") else "")
        + (f" ({f['failing_count']} rows)" if f["failing_count"] is not None else "")
        for f in report["failures"]
    ]


def _regular_run(client: AirflowClient, day: date, timeout_s: float = 120.0) -> str:
    """The id of the scheduled ``ingest`` run whose data interval starts on ``day`` (the scheduler creates it on
    unpause); if the clock passed midnight UTC since the demo began, no such run comes, and a manual run replaces it."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for run in client.runs("ingest"):
            if run["run_type"] == "scheduled" and datetime.fromisoformat(run["data_interval_start"]).date() == day:
                return run["dag_run_id"]
        time.sleep(2)
    print(f"ingest: no scheduled run for {day} (the date changed since the demo began); triggering it")
    return client.trigger("ingest", day=day)


def summarize(settings: Settings, days: list[date], ingest_states: dict[date, str]) -> list[dict]:
    """Per day: ingest state, accepted row counts, quarantine reasons and feature rows written."""
    import pyarrow.parquet as pq

    rows = []
    for day in days:
        feature_file = settings.offline_store_dir / f"{lake.partition_name(day)}.parquet"
        accepted = {}
        for table in active_spec(settings).tables:
            part = lake.partition_dir(settings.validated_dir / table, day) / "part.parquet"
            if part.exists():
                accepted[table] = pq.read_metadata(part).num_rows
        rows.append(
            {
                "day": day.isoformat(),
                "ingest": ingest_states.get(day, "missing"),
                "accepted_rows": accepted,
                "quarantined": quarantine_reasons(settings, day),
                "feature_rows": pq.read_metadata(feature_file).num_rows if feature_file.exists() else 0,
            }
        )
    return rows


def online_matches_offline(settings: Settings, day: date, sample: int = 5) -> tuple[list, bool]:
    """Compare online feature values of a few entities with the offline row of ``day``; returns (ids, all equal)."""
    import pandas as pd

    from driftloop.features.feature_store import online_features

    key = active_spec(settings).entity.join_key
    offline = pd.read_parquet(settings.offline_store_dir / f"{lake.partition_name(day)}.parquet")
    ids = offline[key].sample(n=min(sample, len(offline)), random_state=0).sort_values().tolist()
    online = online_features(ids, settings).set_index(key).sort_index()
    expected = offline.set_index(key).loc[ids, [c for c in online.columns if c in offline.columns]]
    equal = all(
        (pd.isna(a) and pd.isna(b)) or (a == b if not isinstance(a, float) else abs(a - b) < 1e-9)
        for column in expected.columns
        for a, b in zip(expected[column], online[column], strict=True)
    )
    return ids, equal


def demo_env(settings: Settings | None = None) -> dict[str, str]:
    """The settings the use case's ``[demo] env`` gives that the environment does not set already."""
    return {k: v for k, v in active_spec(settings).demo.env.items() if not os.environ.get(k)}


def main() -> int:
    """Run the demo scenario against the Airflow API named by the environment; print and save a summary."""
    if sys.argv[1:] == ["--env"]:
        print("\n".join(f"export {key}={value}" for key, value in demo_env().items()))
        return 0
    settings = get_settings()
    spec = active_spec(settings)
    n_days = _env_int("DRIFTLOOP_DEMO_DAYS", spec.demo.days)
    corrupt_index = os.environ.get("DRIFTLOOP_DEMO_CORRUPT_DAY") or spec.demo.corrupt_day
    drift_index = _env_int("DRIFTLOOP_DEMO_DRIFT_DAY", spec.demo.drift_day) % n_days
    clean_scored = _env_int("DRIFTLOOP_DEMO_CLEAN_SCORED_DAYS", spec.demo.clean_scored_days)
    base_url = os.environ.get("AIRFLOW__API__BASE_URL", "http://localhost:8080")
    client = AirflowClient(
        base_url,
        os.environ.get("DRIFTLOOP_AIRFLOW_USER", "admin"),
        os.environ.get("DRIFTLOOP_AIRFLOW_PASSWORD", "admin"),
    )
    days = demo_days(n_days)
    corrupt_day = days[int(corrupt_index)] if corrupt_index is not None else None
    drift_day = days[drift_index]
    if spec.source is None:
        print(f"use case {spec.name} declares no [source] to write the demo's batches", file=sys.stderr)
        return 1
    make_params = use_case_function(spec, spec.source.module, spec.demo.params_function)
    source_params = make_params(days, drift_day, corrupt_day, settings)
    print(
        f"demo of {spec.title}: {n_days} days {days[0]} .. {days[-1]}, corrupt batch on {corrupt_day or '-'}, "
        f"drift expected from {drift_day}; source params {source_params}"
    )

    timer = PhaseTimer()
    client.wait_for_dags(DAG_IDS)
    timer.lap("DAGs parsed")
    client.set_paused("simulate_source", False)
    simulate_run = client.trigger(
        "simulate_source",
        conf={"start": days[0].isoformat(), "days": n_days, **source_params},
    )
    print(f"simulate_source: run {simulate_run} writing batches to {settings.landing_uri}")
    if client.wait_for_runs("simulate_source", [simulate_run])[simulate_run] != "success":
        print("simulate_source failed; see its task log in the UI", file=sys.stderr)
        return 1
    timer.lap("simulate_source")

    run_ids = {day: client.trigger("ingest", day=day) for day in days[:-1]}
    print(f"ingest: triggered {len(run_ids)} runs; unpausing so the scheduler adds the regular run for {days[-1]}")
    client.set_paused("ingest", False)
    run_ids[days[-1]] = _regular_run(client, days[-1])
    # Only the demo's runs: a demo that crosses midnight UTC also gets the next day's scheduled run, whose sensor
    # rightly waits for a batch nobody will deliver.
    finished = client.wait_for_runs("ingest", list(run_ids.values()), timeout_s=3600)
    states = {day: finished[run_id] for day, run_id in run_ids.items()}
    timer.lap(f"ingest of {n_days} days")
    # `features` stays paused while the history is ingested (a paused DAG queues no asset events), then one run
    # catches up every accepted day: one Feast apply and one materialization instead of one per day.
    client.set_paused("features", False)
    features_run = client.trigger("features")
    print(f"features: run {features_run} builds every accepted day at once")
    client.wait_for_runs("features", [features_run], timeout_s=3600)
    timer.lap("features of every accepted day")

    summary = summarize(settings, days, states)
    tables = list(spec.tables)
    widths = [max(9, len(t) + 2) for t in tables]
    header = "".join(f"{t:>{w}}" for t, w in zip(tables, widths, strict=True))
    print(f"\n{'day':<12}{'ingest':<9}{header}{'features':>10}  quarantine reason")
    for row in summary:
        acc = row["accepted_rows"]
        counts = "".join(f"{acc.get(t, 0):>{w}}" for t, w in zip(tables, widths, strict=True))
        print(f"{row['day']:<12}{row['ingest']:<9}{counts}{row['feature_rows']:>10}  {'; '.join(row['quarantined'])}")
    last_with_features = max((date.fromisoformat(r["day"]) for r in summary if r["feature_rows"]), default=None)
    if last_with_features:
        ids, equal = online_matches_offline(settings, last_with_features)
        print(
            f"\nonline store vs offline features on {last_with_features} for {spec.entity.name} {ids}: "
            f"{'identical' if equal else 'DIFFERENT'}"
        )

    champion = initial_champion(client, settings, drift_day)
    timer.lap("initial champion")
    clean_days = [d for d in days[max(0, drift_index - clean_scored) : drift_index] if d != corrupt_day]
    drift_days = days[drift_index:]
    loop = score_monitor_and_retrain(client, settings, clean_days, drift_days, timer)
    versions = registry_summary(settings)
    labelled = scored_labels(settings, versions, clean_days[0] if clean_days else drift_day)
    print(f"\nregistry of {settings.model.name}:")
    for v in versions:
        print(
            f"  version {v['version']}: aliases {v['aliases'] or '-'}, gate {v['decision']}, reason {v['reason']!r}, "
            f"window {v['training_window']}, trained on {v['device']}"
        )
        print(f"    gate reasons: {v['reasons']}")

    mlflow_ui = f"http://localhost:{os.environ.get('DRIFTLOOP_MLFLOW_UI_PORT') or 5000}"
    result = {
        "days": [
            {**row, "verdict": loop["verdicts"].get(row["day"]), "predictions": loop["predictions"].get(row["day"])}
            for row in summary
        ],
        "quarantined_batches": [
            {"day": row["day"], "reasons": row["quarantined"]} for row in summary if row["quarantined"]
        ],
        "model_versions": versions,
        "champion_history": champion_history(settings, versions),
        "initial_champion": champion,
        "quality_by_day": quality_by_day(settings, versions, labelled),
        "drift_days": sorted(day for day, verdict in loop["verdicts"].items() if verdict == "drift"),
        "retrain_runs": loop["retrain_runs"],
        "airflow_ui": base_url,
        "mlflow_ui": mlflow_ui,
        "drift_reports": f"{settings.monitoring.reports_uri}/drift",
        "dashboard": project_url(settings.links.dashboard_url, settings.links.dashboard_workspace, settings.model.name),
    }
    result["merit"] = promotion_on_merit(settings, versions, labelled, drift_day)
    result["policy_comparison"] = policy_comparison(settings, source_params, days, drift_day)
    timer.lap("summary (quality by day, policy comparison)")
    result["timings_s"] = timer.laps
    print_loop_table(result)
    out = settings.data_root / "demo" / "summary.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, default=str))
    print(f"\nAirflow UI: {base_url} (user {client.username}, password {client.password}); MLflow UI: {mlflow_ui}")
    print(f"Drift reports: {result['drift_reports']}; monitoring dashboard (Evidently UI): {result['dashboard']}")
    print(f"Summary: {out}. Stop everything with `make down`.")
    data_ok = len(result["quarantined_batches"]) == (1 if corrupt_day else 0) and all(
        r["feature_rows"] for r in summary if not r["quarantined"]
    )
    not_clean = [d.isoformat() for d in clean_days if loop["verdicts"].get(d.isoformat()) != "no_drift"]
    false_alarms = not_clean if spec.demo.clean_days_known else []
    if not_clean:
        known = "known to be clean" if spec.demo.clean_days_known else "expected calm (recorded data: not a failure)"
        print(f"days {known} without a no_drift verdict: {', '.join(not_clean)}", file=sys.stderr)
    loop_ok = bool(result["drift_days"]) and bool(result["retrain_runs"]) and len(versions) >= 2
    merit_ok = result["merit"]["promoted_on_merit"] or not spec.demo.clean_days_known
    if not result["merit"]["promoted_on_merit"]:
        print(f"no drift-triggered version became champion on merit: {result['merit']['why']}", file=sys.stderr)
    return 0 if data_ok and loop_ok and merit_ok and not false_alarms else 1


def initial_champion(client: AirflowClient, settings: Settings, drift_day: date) -> dict:
    """Train the champion that served when the drift began: on the labels that had matured by then (as-of days up to
    ``label_horizon_days`` before the day before ``drift_day``, so no outcome it learns from happened after the
    drift). It is promoted with ``force_promote``, saying so: on the few clean days of the demo the gate's first-model
    rule (beat a linear baseline on one test day) is noise, and the merit that matters is the drift-triggered
    version's, gated against it."""
    client.set_paused("train", False)
    before = (drift_day - timedelta(days=1 + settings.label_horizon_days)).isoformat()
    reason = f"demo: the champion before the drift, on the labels matured by then (as of {before} at the latest)"
    print(f"\ntrain: {reason}; promoted with force_promote")
    run_id = client.trigger("train", conf={"window_end": before, "force_promote": True, "reason": reason})
    state = client.wait_for_runs("train", [run_id], timeout_s=1800)[run_id]
    champion = next((v for v in registry_summary(settings) if "champion" in v["aliases"]), None)
    print(f"train: run {run_id} {state}; champion: version {champion['version'] if champion else '-'}")
    return {"version": champion["version"] if champion else None, "forced": True, "window_end": before}


def score_monitor_and_retrain(
    client: AirflowClient, settings: Settings, clean_days: list[date], drift_days: list[date], timer: PhaseTimer
) -> dict:
    """Score the clean days in one run and the first ``DRIFTLOOP_DEMO_DRIFT_SCORED_DAYS`` (3) drift days in one
    more; ``monitor`` and ``retrain_on_drift`` follow on their assets, and the retraining waits for its post-drift
    labels. Once the loop settled, as many following days are scored by whichever version is champion then. Returns
    verdicts, prediction counts and the drift-triggered retraining runs."""
    import pyarrow.parquet as pq

    from driftloop.monitoring import drift_records

    first = drift_days[: _env_int("DRIFTLOOP_DEMO_DRIFT_SCORED_DAYS", 3)]
    later = drift_days[len(first) : 2 * len(first)]
    for dag_id in ("score", "monitor", "retrain_on_drift"):
        client.set_paused(dag_id, False)
    for label, batch in (("clean", clean_days), ("drift", first)):
        print(f"\nscore: {label} days {', '.join(map(str, batch))}; monitor and retrain_on_drift follow")
        client.wait_for_runs("score", [client.trigger("score", conf={"days": [d.isoformat() for d in batch]})])
        client.wait_until_idle("monitor", timeout_s=1800, settle_s=5)
        timer.lap(f"score and monitor the {label} days")
    for dag_id in ("retrain_on_drift", "train"):
        client.wait_until_idle(dag_id, timeout_s=3600, settle_s=10)
    timer.lap("drift-triggered retraining")
    if later:
        print(f"\nscore: the days after, {', '.join(map(str, later))}, with the champion of now")
        client.wait_for_runs("score", [client.trigger("score", conf={"days": [d.isoformat() for d in later]})])
        client.wait_until_idle("monitor", timeout_s=1800, settle_s=5)
        for dag_id in ("retrain_on_drift", "train"):
            client.wait_until_idle(dag_id, timeout_s=3600, settle_s=5)
        timer.lap("score and monitor the days after")
    url = settings.monitoring.drift_db_url
    verdicts = {r.interval_start.isoformat(): r.verdict for r in drift_records.records(url, settings.model.name)}
    reports = {r.interval_start.isoformat(): r.report_uri for r in drift_records.records(url, settings.model.name)}
    predictions = {}
    for day in [*clean_days, *drift_days]:
        path = settings.predictions_dir / f"{lake.partition_name(day)}.parquet"
        predictions[day.isoformat()] = pq.read_metadata(path).num_rows if path.exists() else 0
    in_database = database_counts(settings.model.predictions_db_url, [*clean_days, *drift_days])
    train_states = {run["dag_run_id"]: run["state"] for run in client.runs("train")}
    retrain_runs = [
        {**run, "train_state": train_states.get(run["train_run_id"])}
        for run in drift_records.retrainings(url, settings.model.name)
    ]
    print("\nday         verdict     predictions" + ("  in PostgreSQL" if in_database else "") + "  report")
    for day in [*clean_days, *drift_days]:
        key = day.isoformat()
        print(
            f"{key:<12}{verdicts.get(key, '-'):<12}{predictions[key]:>11}"
            + (f"{in_database.get(key, 0):>15}" if in_database else "")
            + f"  {reports.get(key, '-')}"
        )
    return {"verdicts": verdicts, "predictions": predictions, "retrain_runs": retrain_runs}


class PhaseTimer:
    """Wall-clock seconds of each phase of the demo, printed as they end and kept for ``summary.json``."""

    def __init__(self) -> None:
        self.started = self.last = time.monotonic()
        self.laps: dict[str, float] = {}

    def lap(self, phase: str) -> None:
        """Close ``phase``: record and print its seconds and the total so far."""
        now = time.monotonic()
        self.laps[phase] = round(now - self.last, 1)
        self.laps["total"] = round(now - self.started, 1)
        self.last = now
        print(f"[demo timing] {phase}: {self.laps[phase]:.0f} s (total {self.laps['total']:.0f} s)")


def champion_history(settings: Settings, versions: list[dict]) -> list[dict]:
    """The champion history the registry records: which version held ``champion`` from when to when, the version it
    replaced, how it got there (gate, force_promote, rollback), who and why, with the gate's decision and reasons
    of that version."""
    from dataclasses import asdict

    from driftloop.model.model_registry import read_history

    gate = {v["version"]: v for v in versions}
    history = read_history(settings.mlflow_tracking_uri, settings.model.name)
    return [
        {
            **asdict(row),
            "replaced": row.previous,
            "promotion_decision": gate.get(row.version, {}).get("decision"),
            "gate_reasons": gate.get(row.version, {}).get("reasons"),
        }
        for row in history.tenures()
        if row.state in ("current", "ended")
    ]


def _split_days(settings: Settings, version: dict) -> dict[str, str]:
    """``as-of day -> split`` (train, validation, test) of the training run that registered ``version``."""
    import pyarrow.parquet as pq

    from driftloop.model.training_run import SPLITS, run_folder
    from driftloop.usecase.spec import ENTITY_TIMESTAMP

    if not version.get("airflow_run_id"):
        return {}
    # The train DAG's run folder: "<dag id>-<run id>".
    folder = run_folder(f"{version.get('airflow_dag_id') or 'train'}-{version['airflow_run_id']}", settings)
    days = {}
    for split in SPLITS:
        path = folder / f"{split}.parquet"
        if path.exists():
            stamps = pq.read_table(path, columns=[ENTITY_TIMESTAMP]).column(0).to_pandas()
            days.update({d.isoformat(): split for d in stamps.dt.date.unique()})
    return days


def scored_labels(settings: Settings, versions: list[dict], first_day: date):
    """The matured labels as of ``first_day`` up to the newest, joined point-in-time with their features, with one
    prediction column per registered version (``v<N>``) and the as-of ``day``: what the versions are compared on."""
    from driftloop.model.model_registry import predict_with_version
    from driftloop.model.training_run import model_input_columns
    from driftloop.model.training_set import build_training_set, newest_label_day
    from driftloop.usecase.spec import ENTITY_TIMESTAMP

    newest = newest_label_day(settings)
    if newest is None or newest < first_day:
        return None
    frame = build_training_set(first_day, newest, settings).frame
    inputs = model_input_columns(frame, settings)
    frame = frame.assign(day=frame[ENTITY_TIMESTAMP].dt.date)
    for v in versions:
        frame[f"v{v['version']}"] = predict_with_version(
            settings.mlflow_tracking_uri, settings.model.name, v["version"], frame, inputs
        )
    return frame


def _metric(settings: Settings, frame, column: str) -> tuple[float | None, str | None]:
    """The primary metric of predictions ``column`` on ``frame``'s labels, or None and why it cannot be scored."""
    from driftloop.model.evaluation import evaluate, primary_metric
    from driftloop.model.training import target_column

    metric, _ = primary_metric(settings.task_type)
    try:
        result = evaluate(settings.task_type, frame[target_column(settings.task_type)], frame[column])
    except ValueError as exc:
        return None, str(exc)
    return round(result["overall"][metric], 4), None


def quality_by_day(settings: Settings, versions: list[dict], labelled) -> list[dict]:
    """Per matured as-of day and registered version: the primary metric on that day's labels, the matured rows, and
    where the day lay in the version's own training (``train``/``validation``/``test`` split, ``before`` or ``after``
    its window; only ``test`` and ``after`` are unseen by it)."""
    from driftloop.model.evaluation import primary_metric

    if labelled is None:
        return []
    metric, _ = primary_metric(settings.task_type)
    rows = []
    for v in versions:
        splits = _split_days(settings, v)
        window = (v.get("training_window") or "..").split("..")
        for day, part in labelled.groupby("day"):
            value, why = _metric(settings, part, f"v{v['version']}")
            key = day.isoformat()
            role = splits.get(key) or ("after" if window[1] and key > window[1] else "before")
            rows.append(
                {
                    "day": key,
                    "version": v["version"],
                    "metric": metric,
                    "value": value,
                    "matured_rows": int(len(part)),
                    "in_training": role,
                    **({"unscored": why} if why else {}),
                }
            )
    return sorted(rows, key=lambda r: (r["day"], int(r["version"])))


def promotion_on_merit(settings: Settings, versions: list[dict], labelled, drift_day: date) -> dict:
    """Whether a drift-triggered version became champion through the gate (``promotion_decision`` ``promoted``, not
    forced) and beats the champion it replaced on the matured post-drift days it never saw (its test split and
    after), pooled: both versions scored on the same rows. Says which days, how many rows and the metrics."""
    from driftloop.model.evaluation import primary_metric

    metric, direction = primary_metric(settings.task_type)
    by_version = {v["version"]: v for v in versions}
    candidates = [
        v
        for v in versions
        if (v.get("reason") or "").startswith("drift:") and v.get("decision") == "promoted" and v["previous_champion"]
    ]
    if not candidates:
        triggered = [v for v in versions if (v.get("reason") or "").startswith("drift:")]
        why = "; ".join(f"v{v['version']}: {v['decision']} ({v['reasons']})" for v in triggered)
        return {"promoted_on_merit": False, "why": why or "no drift-triggered version was registered"}
    v = candidates[-1]
    previous = by_version.get(str(v["previous_champion"]))
    splits = _split_days(settings, v)
    end = (v.get("training_window") or "..").split("..")[1]
    unseen = (
        [
            d
            for d in sorted({d.isoformat() for d in labelled["day"]})
            if d >= drift_day.isoformat() and (splits.get(d) == "test" or (end and d > end))
        ]
        if labelled is not None
        else []
    )
    part = labelled[labelled["day"].map(lambda d: d.isoformat()).isin(unseen)] if unseen else None
    ours, why_ours = _metric(settings, part, f"v{v['version']}") if part is not None else (None, "no unseen day")
    theirs, _ = _metric(settings, part, f"v{previous['version']}") if part is not None and previous else (None, None)
    better = ours is not None and theirs is not None and (ours > theirs if direction == "higher" else ours < theirs)
    return {
        "promoted_on_merit": better,
        "version": v["version"],
        "previous_champion": previous["version"] if previous else None,
        "promotion_decision": v["decision"],
        "forced": False,
        "days": unseen,
        "rows": int(len(part)) if part is not None else 0,
        "metric": metric,
        "version_value": ours,
        "previous_value": theirs,
        "why": (
            f"v{v['version']} {metric} {ours} vs v{previous['version'] if previous else '-'} {theirs} on the "
            f"post-drift days it never saw ({', '.join(unseen) or why_ours})"
        ),
    }


def policy_comparison(settings: Settings, source_params: dict, days: list[date], drift_day: date) -> dict:
    """The replay's comparison of retraining policies on the demo's scenario, for ``summary.json``: the hook that
    ``driftloop.replay`` (issue #14, part 2) fills through its ``demo_policy_comparison(settings, source_params,
    days, drift_day)`` (a JSON-ready dict) when this checkout has it; else ``status`` ``unavailable`` and why."""
    try:
        from driftloop import replay
    except ImportError as exc:
        return {"status": "unavailable", "reason": f"driftloop.replay is not in this checkout ({exc})"}
    compare = getattr(replay, "demo_policy_comparison", None)
    if compare is None:
        return {"status": "unavailable", "reason": "driftloop.replay has no demo_policy_comparison()"}
    return {"status": "ok", **compare(settings, source_params, days, drift_day)}


def print_loop_table(result: dict) -> None:
    """The end-of-demo summary table."""
    print("\n=== driftloop demo summary ===")
    print(f"days ingested:        {len(result['days'])}")
    quarantined = ", ".join(f"{q['day']} ({'; '.join(q['reasons'])})" for q in result["quarantined_batches"])
    print(f"quarantined batches:  {quarantined or '-'}")
    print(f"model versions:       {', '.join(v['version'] for v in result['model_versions'])}")
    history = " -> ".join(f"v{h['version']} ({h['kind']}, {h['since']})" for h in result["champion_history"])
    print(f"champion history:     {history or '-'}")
    print(f"drift days:           {', '.join(result['drift_days']) or '-'}")
    for run in result["retrain_runs"] or [{}]:
        if run:
            print(
                f"retrain run:          {run['run_id']} -> train {run['train_run_id']} ({run['train_state']}), "
                f"records {run['record_ids']}"
            )
        else:
            print("retrain runs:         -")
    merit = result["merit"]
    print(f"promotion on merit:   {'yes' if merit['promoted_on_merit'] else 'NO'}: {merit['why']}")
    versions = sorted({row["version"] for row in result["quality_by_day"]}, key=int)
    if versions:
        print("\nquality by matured as-of day (" + result["quality_by_day"][0]["metric"] + "; * = unseen by it)")
        print(f"{'day':<12}{'rows':>6}" + "".join(f"{'v' + v:>10}" for v in versions))
        by_day: dict[str, dict] = {}
        for row in result["quality_by_day"]:
            by_day.setdefault(row["day"], {})[row["version"]] = row
        for day, cells in by_day.items():
            values = "".join(
                f"{'-' if cells[v]['value'] is None else format(cells[v]['value'], '.4f'):>9}"
                + ("*" if cells[v]["in_training"] in ("test", "after") else " ")
                for v in versions
            )
            print(f"{day:<12}{next(iter(cells.values()))['matured_rows']:>6}{values}")
    comparison = result["policy_comparison"]
    print(f"\npolicy comparison:    {comparison.get('reason') or comparison.get('status')}")


def registry_summary(settings: Settings) -> list[dict]:
    """Every registered version of the model with its aliases and gate decision."""
    from driftloop.model.model_registry import client

    registry = client(settings.mlflow_tracking_uri)
    # Search results carry no aliases, so each version is read whole.
    versions = [
        registry.get_model_version(settings.model.name, found.version)
        for found in registry.search_model_versions(f"name = '{settings.model.name}'")
    ]
    return sorted(
        (
            {
                "version": str(v.version),
                "aliases": sorted(v.aliases),
                "decision": v.tags.get("promotion_decision"),
                "reasons": v.tags.get("promotion_reasons"),
                "training_window": v.tags.get("training_window"),
                "device": v.tags.get("device"),
                "reason": v.tags.get("reason"),
                "drift_records": v.tags.get("drift_records"),
                "champion_since": v.tags.get("champion_since"),
                "previous_champion": v.tags.get("previous_champion"),
                "airflow_dag_id": v.tags.get("dag_id"),
                "airflow_run_id": v.tags.get("run_id"),
            }
            for v in versions
        ),
        key=lambda v: int(v["version"]),
    )


def database_counts(url: str, days: list[date]) -> dict[str, int]:
    """Rows of the predictions table per day (empty when no database is configured)."""
    if not url:
        return {}
    import psycopg2

    table = active_spec().predictions_table
    with psycopg2.connect(url) as connection, connection.cursor() as cursor:
        cursor.execute(
            f"SELECT score_date, count(*) FROM {table} WHERE score_date = ANY(%s) GROUP BY score_date", (days,)
        )
        counts = {day.isoformat(): rows for day, rows in cursor.fetchall()}
    connection.close()
    return counts


if __name__ == "__main__":
    sys.exit(main())
