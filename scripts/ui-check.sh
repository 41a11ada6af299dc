#!/usr/bin/env bash
# `make ui-check`: Airflow (api-server, scheduler, dag-processor, triggerer), the MLflow UI and the monitoring
# dashboard on free ports over a scratch AIRFLOW_HOME and data root, then scripts/ui_check.py drives headless
# Chromium through the train trigger form, the gate task log and the dashboard; everything is stopped and removed
# at the end, pass or fail. Screenshots go to DRIFTLOOP_UI_CHECK_DIR (default <repo>/data/ui-check).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/.." && pwd)"
scratch="$(mktemp -d "${TMPDIR:-/tmp}/driftloop-ui-check.XXXXXX")"
# Three free ports: Airflow's API server, the MLflow UI, the dashboard.
read -r api_port mlflow_port dashboard_port < <("$repo/.venv/bin/python" - <<'PY'
import socket
sockets = [socket.socket() for _ in range(3)]
for s in sockets:
    s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in sockets))
for s in sockets:
    s.close()
PY
)
export AIRFLOW_HOME="$scratch/airflow_home" DRIFTLOOP_DATA_ROOT="$scratch/data"
export AIRFLOW__API__PORT="$api_port" AIRFLOW__API__BASE_URL="http://localhost:$api_port"
export AIRFLOW__CORE__EXECUTION_API_SERVER_URL="http://localhost:$api_port/execution/"
export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN="sqlite:///$scratch/airflow_home/airflow.db"
export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE="$scratch/airflow_home/passwords.json"
export DRIFTLOOP_MLFLOW_UI_PORT="$mlflow_port" DRIFTLOOP_MLFLOW_UI_URL="http://localhost:$mlflow_port"
export DRIFTLOOP_DASHBOARD_PORT="$dashboard_port" DRIFTLOOP_DASHBOARD_URL="http://localhost:$dashboard_port"
export DRIFTLOOP_DASHBOARD_WORKSPACE="$scratch/data/evidently"
# A small world whose labels mature and feature windows fill within its days; train only when triggered; no
# PostgreSQL copy of the predictions and no alerts.
export DRIFTLOOP_LABEL_HORIZON_DAYS=7 DRIFTLOOP_FEATURE_WINDOW_DAYS=7 DRIFTLOOP_TRAIN_SCHEDULE=none
export DRIFTLOOP_PREDICTIONS_DB_URL="" DRIFTLOOP_ALERTS_ENABLED=false DRIFTLOOP_DEMO_RESET=false
for name in DRIFTLOOP_MLFLOW_TRACKING_URI DRIFTLOOP_DRIFT_DB_URL DRIFTLOOP_REPORTS_URI DRIFTLOOP_LANDING_URI \
  DRIFTLOOP_RAW_URI DRIFTLOOP_FEAST_REGISTRY DRIFTLOOP_FEAST_ONLINE_STORE DRIFTLOOP_MLFLOW_ARTIFACT_ROOT; do
  unset "$name"
done
. "$here/airflow-env.sh"
mkdir -p "$AIRFLOW_HOME"
teardown() {
  "$here/airflow-down.sh" >/dev/null || true
  rm -rf "$scratch"
}
trap teardown EXIT
"$here/airflow-up.sh"
"$here/mlflow-up.sh"
"$here/dashboard-up.sh"
python "$here/ui_check.py"
