#!/usr/bin/env bash
# Start Airflow's api-server, scheduler, dag-processor and triggerer in the background and wait until the API reports
# them healthy; with AIRFLOW__CORE__EXECUTOR=CeleryExecutor also a Celery worker serving DRIFTLOOP_CELERY_QUEUES
# (the topology of docker-compose.yaml, as processes). PIDs and logs go to $AIRFLOW_HOME/run; `make down`
# (scripts/airflow-down.sh) stops them.
set -euo pipefail
. "$(dirname "$0")/airflow-env.sh"
run_dir="$AIRFLOW_HOME/run"
mkdir -p "$run_dir"
# As JSON from the environment: any character in the password is safe.
python -c 'import json, os; print(json.dumps({os.environ["DRIFTLOOP_AIRFLOW_USER"]: os.environ["DRIFTLOOP_AIRFLOW_PASSWORD"]}))' \
  > "$AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"
airflow db migrate > "$run_dir/db-migrate.log" 2>&1 || { cat "$run_dir/db-migrate.log"; exit 1; }
components=(api-server scheduler dag-processor triggerer)
if [ "$AIRFLOW__CORE__EXECUTOR" = CeleryExecutor ]; then components+=(celery-worker); fi
# An API server of another checkout on the same port would answer the health check and take this one's runs.
api_pid_file="$run_dir/api-server.pid"
if ! { [ -f "$api_pid_file" ] && kill -0 "$(cat "$api_pid_file")" 2>/dev/null; } \
  && curl -fsS -o /dev/null "$AIRFLOW__API__BASE_URL/api/v2/monitor/health" 2>/dev/null; then
  echo "error: $AIRFLOW__API__BASE_URL already answers, but not from this checkout's AIRFLOW_HOME ($AIRFLOW_HOME):" \
    "stop the other Airflow (make down in its checkout) or set AIRFLOW__API__PORT" >&2
  exit 1
fi
for component in "${components[@]}"; do
  pid_file="$run_dir/$component.pid"
  if [ -f "$pid_file" ] && kill -0 "$(cat "$pid_file")" 2>/dev/null; then
    echo "airflow $component already running (pid $(cat "$pid_file"))"
    continue
  fi
  if [ "$component" = celery-worker ]; then
    command=(airflow celery worker --queues "$DRIFTLOOP_CELERY_QUEUES")
  else
    command=(airflow "$component")
  fi
  setsid nohup "${command[@]}" > "$run_dir/$component.log" 2>&1 < /dev/null &
  echo $! > "$pid_file"
  echo "started ${command[*]} (pid $!, log $run_dir/$component.log)"
done
url="$AIRFLOW__API__BASE_URL/api/v2/monitor/health"
for _ in $(seq 1 120); do
  if health=$(curl -fsS "$url" 2>/dev/null) && python3 - "$health" <<'PY'
import json, sys
health = json.loads(sys.argv[1])
parts = ("metadatabase", "scheduler", "triggerer", "dag_processor")
sys.exit(0 if all((health.get(p) or {}).get("status") == "healthy" for p in parts) else 1)
PY
  then
    for component in "${components[@]}"; do
      if ! kill -0 "$(cat "$run_dir/$component.pid")" 2>/dev/null; then
        echo "airflow $component exited; the end of its log ($run_dir/$component.log):" >&2
        tail -n 20 "$run_dir/$component.log" >&2
        exit 1
      fi
    done
    echo "Airflow is up: UI $AIRFLOW__API__BASE_URL (user $DRIFTLOOP_AIRFLOW_USER, password $DRIFTLOOP_AIRFLOW_PASSWORD)"
    exit 0
  fi
  sleep 2
done
echo "Airflow did not become healthy within 240 s; logs are in $run_dir" >&2
tail -n 20 "$run_dir"/*.log >&2
exit 1
