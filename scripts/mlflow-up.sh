#!/usr/bin/env bash
# Start the MLflow tracking UI (port 5000) on driftloop's tracking store in the background; `make down` stops it.
set -euo pipefail
. "$(dirname "$0")/airflow-env.sh"
run_dir="$AIRFLOW_HOME/run"
mkdir -p "$run_dir"
eval "$(python -c 'from driftloop.settings import get_settings as g; s = g()
print(f"tracking={s.mlflow_tracking_uri!s}"); print(f"artifacts={s.mlflow_artifact_root!s}")')"
mkdir -p "$artifacts"
if [ -f "$run_dir/mlflow.pid" ] && kill -0 "$(cat "$run_dir/mlflow.pid")" 2>/dev/null; then
  echo "mlflow already running (pid $(cat "$run_dir/mlflow.pid"))"; exit 0
fi
setsid nohup mlflow server --backend-store-uri "$tracking" --default-artifact-root "$artifacts" \
  --host 127.0.0.1 --port "${DRIFTLOOP_MLFLOW_UI_PORT:-5000}" > "$run_dir/mlflow.log" 2>&1 < /dev/null &
echo $! > "$run_dir/mlflow.pid"
for _ in $(seq 1 60); do
  if curl -fsS "http://127.0.0.1:${DRIFTLOOP_MLFLOW_UI_PORT:-5000}/health" >/dev/null 2>&1; then
    echo "MLflow UI is up: http://localhost:${DRIFTLOOP_MLFLOW_UI_PORT:-5000}"; exit 0
  fi
  sleep 2
done
echo "MLflow UI did not start; see $run_dir/mlflow.log" >&2
exit 1
