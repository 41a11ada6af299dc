#!/usr/bin/env bash
# Runs once, when the PostgreSQL volume is created: one database and owner each for Airflow's metadata, the MLflow
# backend store, the Feast SQL registry and driftloop's own tables (drift records, predictions).
set -euo pipefail
create() {
  local user="$1" password="$2" database="$3"
  psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres <<SQL
CREATE USER "$user" WITH PASSWORD '$password';
CREATE DATABASE "$database" OWNER "$user";
SQL
}
create "$AIRFLOW_DB_USER" "$AIRFLOW_DB_PASSWORD" "$AIRFLOW_DB_NAME"
create "$MLFLOW_DB_USER" "$MLFLOW_DB_PASSWORD" "$MLFLOW_DB_NAME"
create "$FEAST_DB_USER" "$FEAST_DB_PASSWORD" "$FEAST_DB_NAME"
create "$DRIFTLOOP_DB_USER" "$DRIFTLOOP_DB_PASSWORD" "$DRIFTLOOP_DB_NAME"
