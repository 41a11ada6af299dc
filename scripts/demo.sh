#!/usr/bin/env bash
# `make demo`: start Airflow in the background on embedded defaults and drive the demo scenario through its API.
# With DRIFTLOOP_DEMO_RESET=true (the default) it first stops a running demo and clears its state (data root and
# AIRFLOW_HOME), so every demo starts from scratch. The UI stays up until `make down`.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/airflow-env.sh"
# The active use case's [demo] env (usecase.toml) gives the demo's settings that are not set already: for churn,
# labels mature after 7 days (30 by default) and rolling features span 14 days (30), so a model can train within the
# demo's days; the drift sensor polls every 10 s and a run with nothing to do gives up after 2 min.
eval "$(python -m driftloop.ops.demo --env)"
if [ "${DRIFTLOOP_DEMO_RESET:-true}" = "true" ]; then
  "$here/airflow-down.sh" >/dev/null
  data_root=$(python -c 'from driftloop.settings import get_settings; print(get_settings().data_root)')
  rm -rf "$data_root" "$AIRFLOW_HOME"
fi
mkdir -p "$AIRFLOW_HOME"
# Predictions also go to a PostgreSQL table when the machine's PostgreSQL answers (database driftloop_demo).
if [ -z "${DRIFTLOOP_PREDICTIONS_DB_URL:-}" ] && python - <<'PY'
import psycopg2
try:
    admin = psycopg2.connect(host="127.0.0.1", port=5432, user="postgres", dbname="postgres", connect_timeout=3)
except psycopg2.OperationalError:
    raise SystemExit(1)
admin.autocommit = True
import os
with admin.cursor() as cursor:
    if os.environ.get("DRIFTLOOP_DEMO_RESET", "true") == "true":
        cursor.execute("DROP DATABASE IF EXISTS driftloop_demo WITH (FORCE)")
    cursor.execute("SELECT 1 FROM pg_database WHERE datname = 'driftloop_demo'")
    if cursor.fetchone() is None:
        cursor.execute("CREATE DATABASE driftloop_demo")
PY
then
  export DRIFTLOOP_PREDICTIONS_DB_URL="postgresql://postgres@127.0.0.1:5432/driftloop_demo"
  echo "predictions also go to $DRIFTLOOP_PREDICTIONS_DB_URL (table predictions)"
fi
"$here/airflow-up.sh"
"$here/mlflow-up.sh"
"$here/dashboard-up.sh"
python -u -m driftloop.ops.demo
