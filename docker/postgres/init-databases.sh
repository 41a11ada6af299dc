#!/usr/bin/env bash
# Runs once, when the PostgreSQL volume is created: one database and owner each for Airflow's metadata, the MLflow
# backend store, the Feast SQL registry and driftloop's own tables (drift records, predictions). Names and passwords
# go in as psql variables, quoted by psql (:"name" as an identifier, :'password' as a literal), so any character in
# them is safe.
set -euo pipefail
create() {
  psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
    -v user="$1" -v password="$2" -v database="$3" <<'SQL'
CREATE USER :"user" WITH PASSWORD :'password';
CREATE DATABASE :"database" OWNER :"user";
SQL
}
create "$AIRFLOW_DB_USER" "$AIRFLOW_DB_PASSWORD" "$AIRFLOW_DB_NAME"
create "$MLFLOW_DB_USER" "$MLFLOW_DB_PASSWORD" "$MLFLOW_DB_NAME"
create "$FEAST_DB_USER" "$FEAST_DB_PASSWORD" "$FEAST_DB_NAME"
create "$DRIFTLOOP_DB_USER" "$DRIFTLOOP_DB_PASSWORD" "$DRIFTLOOP_DB_NAME"
