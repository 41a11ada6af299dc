"""The demo scenario, driven through a running Airflow's REST API: simulate, ingest, features, train, score.

``make demo`` starts Airflow and the MLflow UI and runs ``python -m driftloop.demo``. It writes N days of simulated
batches (one of them corrupt) through the ``simulate_source`` DAG, triggers ``ingest`` for each day but the last,
unpauses the DAGs so the scheduler also creates the regular run for the last day, waits for ``ingest`` and the
asset-triggered ``features`` runs, trains and gates a model with ``train``, scores the last days with ``score``,
and prints what happened: per day, the registry, and the predictions. Demo settings come from ``DRIFTLOOP_DEMO_*``
variables (see ``.env.example``).
"""

from __future__ import annotations

import json
import os
import sys
from datetime import UTC, date, datetime, timedelta

from driftloop import lake
from driftloop.airflow_api import AirflowClient
from driftloop.settings import Settings, get_settings

DAG_IDS = ["simulate_source", "ingest", "features", "train", "score"]


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
        + f" ({f['failing_count']} rows)"
        for f in report["failures"]
    ]


def summarize(settings: Settings, days: list[date], ingest_states: dict[date, str]) -> list[dict]:
    """Per day: ingest state, accepted row counts, quarantine reasons and feature rows written."""
    import pyarrow.parquet as pq

    rows = []
    for day in days:
        feature_file = settings.offline_store_dir / f"{lake.partition_name(day)}.parquet"
        accepted = {}
        for table in ("activity_events", "customer_profiles", "churn_labels"):
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


def online_matches_offline(settings: Settings, day: date, sample: int = 5) -> tuple[list[int], bool]:
    """Compare online feature values of a few customers with the offline row of ``day``; returns (ids, all equal)."""
    import pandas as pd

    from driftloop.feature_store import online_features

    offline = pd.read_parquet(settings.offline_store_dir / f"{lake.partition_name(day)}.parquet")
    ids = offline["customer_id"].sample(n=min(sample, len(offline)), random_state=0).sort_values().tolist()
    online = online_features(ids, settings).set_index("customer_id").sort_index()
    expected = offline.set_index("customer_id").loc[ids, [c for c in online.columns if c in offline.columns]]
    equal = all(
        (pd.isna(a) and pd.isna(b)) or (a == b if not isinstance(a, float) else abs(a - b) < 1e-9)
        for column in expected.columns
        for a, b in zip(expected[column], online[column], strict=True)
    )
    return ids, equal


def main() -> int:
    """Run the demo scenario against the Airflow API named by the environment; print and save a summary."""
    settings = get_settings()
    n_days = _env_int("DRIFTLOOP_DEMO_DAYS", 24)
    customers = _env_int("DRIFTLOOP_DEMO_CUSTOMERS", 20_000)
    corrupt_index = _env_int("DRIFTLOOP_DEMO_CORRUPT_DAY", 5)
    corruption = os.environ.get("DRIFTLOOP_DEMO_CORRUPTION") or "bad_type"
    base_url = os.environ.get("AIRFLOW__API__BASE_URL", "http://localhost:8080")
    client = AirflowClient(
        base_url,
        os.environ.get("DRIFTLOOP_AIRFLOW_USER", "admin"),
        os.environ.get("DRIFTLOOP_AIRFLOW_PASSWORD", "admin"),
    )
    days = demo_days(n_days)
    corrupt_day = days[corrupt_index]
    print(f"demo: {n_days} days {days[0]} .. {days[-1]}, {customers} customers, {corruption} batch on {corrupt_day}")

    client.wait_for_dags(DAG_IDS)
    client.set_paused("simulate_source", False)
    simulate_run = client.trigger(
        "simulate_source",
        conf={
            "start": days[0].isoformat(),
            "days": n_days,
            "customers": customers,
            "seed": 7,
            "epoch": (days[0] - timedelta(days=settings.label_horizon_days + 30)).isoformat(),
            "scenario": "corrupt",
            "scenario_start": corrupt_day.isoformat(),
            "scenario_days": 1,
            "corruption": corruption,
        },
    )
    print(f"simulate_source: run {simulate_run} writing batches to {settings.landing_uri}")
    if client.wait_for_runs("simulate_source", [simulate_run])[simulate_run] != "success":
        print("simulate_source failed; see its task log in the UI", file=sys.stderr)
        return 1

    run_ids = {day: client.trigger("ingest", day=day) for day in days[:-1]}
    print(f"ingest: triggered {len(run_ids)} runs; unpausing so the scheduler adds the regular run for {days[-1]}")
    client.set_paused("features", False)
    client.set_paused("ingest", False)
    ingest_runs = client.wait_until_idle("ingest", timeout_s=3600)
    states = {datetime.fromisoformat(r["data_interval_start"]).date(): r["state"] for r in ingest_runs}
    client.wait_until_idle("features", timeout_s=3600, settle_s=20)

    summary = summarize(settings, days, states)
    print(f"\n{'day':<12}{'ingest':<9}{'events':>9}{'profiles':>10}{'labels':>8}{'features':>10}  quarantine reason")
    for row in summary:
        acc = row["accepted_rows"]
        print(
            f"{row['day']:<12}{row['ingest']:<9}{acc.get('activity_events', 0):>9}{acc.get('customer_profiles', 0):>10}"
            f"{acc.get('churn_labels', 0):>8}{row['feature_rows']:>10}  {'; '.join(row['quarantined'])}"
        )
    last_with_features = max((date.fromisoformat(r["day"]) for r in summary if r["feature_rows"]), default=None)
    if last_with_features:
        ids, equal = online_matches_offline(settings, last_with_features)
        print(
            f"\nonline store vs offline features on {last_with_features} for customers {ids}: "
            f"{'identical' if equal else 'DIFFERENT'}"
        )
    model = train_and_score(
        client, settings, [d for d in days if d != corrupt_day][-_env_int("DRIFTLOOP_DEMO_SCORED_DAYS", 3) :]
    )
    mlflow_ui = f"http://localhost:{os.environ.get('DRIFTLOOP_MLFLOW_UI_PORT') or 5000}"
    out = settings.data_root / "demo" / "summary.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"days": summary, **model, "airflow_ui": base_url, "mlflow_ui": mlflow_ui}, indent=2))
    print(f"\nAirflow UI: {base_url} (user {client.username}, password {client.password}); MLflow UI: {mlflow_ui}")
    print(f"Summary: {out}. Stop everything with `make down`.")
    quarantined = [r for r in summary if r["quarantined"]]
    data_ok = len(quarantined) == 1 and all(r["feature_rows"] for r in summary if not r["quarantined"])
    return 0 if data_ok and all(model["predictions"].values()) else 1


def registry_summary(settings: Settings) -> list[dict]:
    """Every registered version of the model with its aliases and gate decision."""
    from driftloop.model_registry import client

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

    with psycopg2.connect(url) as connection, connection.cursor() as cursor:
        cursor.execute(
            "SELECT score_date, count(*) FROM predictions WHERE score_date = ANY(%s) GROUP BY score_date", (days,)
        )
        counts = {day.isoformat(): rows for day, rows in cursor.fetchall()}
    connection.close()
    return counts


def train_and_score(client: AirflowClient, settings: Settings, score_days: list[date]) -> dict:
    """Run ``train`` once, then ``score`` for ``score_days``; print the registry and prediction counts."""
    import pyarrow.parquet as pq

    client.set_paused("train", False)
    print("\ntrain: unpaused; the scheduler starts this week's run")
    for run in client.wait_until_idle("train", timeout_s=1800, settle_s=15):
        states = {t["task_id"]: t["state"] for t in client.task_instances("train", run["dag_run_id"])}
        print(f"train: run {run['dag_run_id']} {run['state']}; champion published: {states.get('publish_champion')}")
    versions = registry_summary(settings)
    print(f"\nregistry of {settings.model.name}:")
    for v in versions:
        print(
            f"  version {v['version']}: aliases {v['aliases'] or '-'}, gate {v['decision']} ({v['reasons']}), "
            f"window {v['training_window']}, trained on {v['device']}"
        )
    champion = next((v["version"] for v in versions if "champion" in v["aliases"]), None)
    if champion is None:
        print("no champion: the gate rejected every version (see promotion_reasons above and the gate task log);")
        print("scoring needs a champion, so it is skipped. Promote one with the train DAG's force_promote param.")
        return {"model_versions": versions, "champion": None, "predictions": {}}
    client.set_paused("score", False)
    score_run = client.trigger("score", conf={"days": [d.isoformat() for d in score_days]})
    client.wait_for_runs("score", [score_run], timeout_s=1800)
    predictions = {}
    for day in score_days:
        path = settings.predictions_dir / f"{lake.partition_name(day)}.parquet"
        predictions[day.isoformat()] = pq.read_metadata(path).num_rows if path.exists() else 0
    in_database = database_counts(settings.model.predictions_db_url, score_days)
    print("\npredictions per scored day (Parquet" + (", PostgreSQL table" if in_database else "") + "):")
    for day, rows in predictions.items():
        print(f"  {day}: {rows} customers" + (f", {in_database.get(day, 0)} rows in the table" if in_database else ""))
    return {"model_versions": versions, "champion": champion, "predictions": predictions}


if __name__ == "__main__":
    sys.exit(main())
