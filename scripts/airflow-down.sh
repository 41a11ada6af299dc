#!/usr/bin/env bash
# Stop every process that scripts/airflow-up.sh, mlflow-up.sh and dashboard-up.sh started (whole process groups,
# so workers go too): each left its pid in $AIRFLOW_HOME/run.
set -uo pipefail
. "$(dirname "$0")/airflow-env.sh"
run_dir="$AIRFLOW_HOME/run"
[ -d "$run_dir" ] || { echo "nothing to stop"; exit 0; }
for pid_file in "$run_dir"/*.pid; do
  [ -f "$pid_file" ] || continue
  pid=$(cat "$pid_file")
  name=$(basename "$pid_file" .pid)
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid"
    for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
    kill -KILL -- "-$pid" 2>/dev/null || true
    echo "stopped $name (pid $pid)"
  fi
  rm -f "$pid_file"
done
