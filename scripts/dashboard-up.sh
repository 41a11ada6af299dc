#!/usr/bin/env bash
# Start Evidently's UI (port DRIFTLOOP_DASHBOARD_PORT, default 8000) on the workspace the monitor DAG feeds: the
# monitoring dashboard over time. In the background; `make down` (scripts/airflow-down.sh) stops it.
set -euo pipefail
. "$(dirname "$0")/airflow-env.sh"
run_dir="$AIRFLOW_HOME/run"
mkdir -p "$run_dir"
workspace=$(python -c 'from driftloop.settings import get_settings; print(get_settings().links.dashboard_workspace)')
port="${DRIFTLOOP_DASHBOARD_PORT:-8000}"
mkdir -p "$workspace"
if [ -f "$run_dir/dashboard.pid" ] && kill -0 "$(cat "$run_dir/dashboard.pid")" 2>/dev/null; then
  echo "dashboard already running (pid $(cat "$run_dir/dashboard.pid"))"; exit 0
fi
setsid nohup evidently ui --workspace "$workspace" --host 127.0.0.1 --port "$port" \
  > "$run_dir/dashboard.log" 2>&1 < /dev/null &
echo $! > "$run_dir/dashboard.pid"
for _ in $(seq 1 60); do
  if curl -fsS "http://127.0.0.1:$port/api/version" >/dev/null 2>&1; then
    echo "Monitoring dashboard (Evidently UI) is up: http://localhost:$port (workspace $workspace)"; exit 0
  fi
  sleep 2
done
echo "the dashboard did not start; see $run_dir/dashboard.log" >&2
exit 1
