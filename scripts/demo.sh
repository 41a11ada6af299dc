#!/usr/bin/env bash
# `make demo`: start Airflow in the background on embedded defaults and drive the demo scenario through its API.
# With DRIFTLOOP_DEMO_RESET=true (the default) it first stops a running demo and clears its state (data root and
# AIRFLOW_HOME), so every demo starts from scratch. The UI stays up until `make down`.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/airflow-env.sh"
if [ "${DRIFTLOOP_DEMO_RESET:-true}" = "true" ]; then
  "$here/airflow-down.sh" >/dev/null
  data_root=$(python -c 'from driftloop.settings import get_settings; print(get_settings().data_root)')
  rm -rf "$data_root" "$AIRFLOW_HOME"
fi
mkdir -p "$AIRFLOW_HOME"
"$here/airflow-up.sh"
python -m driftloop.demo
