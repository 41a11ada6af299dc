"""Invariants of docker-compose.yaml and the Dockerfile, checked without a Docker engine."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
ONE_SHOT = {"minio-init", "airflow-init"}


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((REPO_ROOT / "docker-compose.yaml").read_text())


def _documented() -> set[str]:
    return set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", (REPO_ROOT / ".env.example").read_text(), re.M))


def _defaults(text: str) -> dict[str, str]:
    """``${VAR:-default}`` -> {VAR: default}, as docker compose would interpolate with an empty .env."""
    return dict(re.findall(r"(?<!\$)\$\{([A-Z][A-Z0-9_]*):-([^}]*)\}", text))


def test_every_interpolated_variable_is_documented_in_env_example():
    text = (REPO_ROOT / "docker-compose.yaml").read_text()
    used = set(re.findall(r"(?<!\$)\$\{([A-Z][A-Z0-9_]*)", text))
    assert used, "docker-compose.yaml interpolates nothing from .env"
    assert sorted(used - _documented()) == []


def test_images_are_pinned_and_long_running_services_have_healthchecks(compose):
    services = compose["services"]
    for name, service in services.items():
        image = service.get("image", "")
        if "build" in service:
            continue
        assert ":" in image and not image.endswith(":latest"), f"{name}: image {image!r} is not pinned"
    for name, service in services.items():
        if name in ONE_SHOT:
            assert "restart" not in service, f"{name} runs once and must not restart"
            continue
        assert "healthcheck" in service and service["healthcheck"]["test"], f"{name} has no healthcheck"
        assert service.get("restart") == "unless-stopped", f"{name} does not restart"


def test_dependencies_exist_and_wait_for_health_or_completion(compose):
    services = compose["services"]
    for name, service in services.items():
        for dependency, condition in (service.get("depends_on") or {}).items():
            assert dependency in services, f"{name} depends on unknown {dependency}"
            expected = "service_completed_successfully" if dependency in ONE_SHOT else "service_healthy"
            assert condition == {"condition": expected}, f"{name} -> {dependency}: {condition}"


def test_volumes_are_declared_and_host_ports_are_unique(compose):
    declared = set(compose["volumes"])
    used, ports = set(), []
    for service in compose["services"].values():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if not source.startswith((".", "/")):
                used.add(source)
            else:
                assert (REPO_ROOT / source).exists(), f"bind mount {source} does not exist"
        ports += [
            _defaults(p).get(re.findall(r"\$\{([A-Z_]+)", p)[0], p) if "${" in p else p.split(":")[0]
            for p in service.get("ports", [])
        ]
    assert used == declared, f"declared but unused: {declared - used}; used but undeclared: {used - declared}"
    assert len(ports) == len(set(ports)), ports


def test_every_queue_a_task_uses_is_served_by_a_worker(compose):
    from airflow.dag_processing.dagbag import DagBag

    environment = compose["x-airflow-env"]
    defaults = _defaults(yaml.safe_dump(environment))
    train_queue = defaults["DRIFTLOOP_TRAIN_QUEUE"]
    served = {}
    for name, service in compose["services"].items():
        command = service.get("command", "")
        words = shlex.split(command) if isinstance(command, str) else command
        if words[:2] == ["celery", "worker"]:
            served[name] = set(words[words.index("--queues") + 1].split(","))
    default_profile = {q for name, qs in served.items() if "profiles" not in compose["services"][name] for q in qs}
    assert "default" in default_profile and train_queue in default_profile
    assert "gpu" in set().union(*served.values()), "no worker serves the gpu queue"

    dagbag = DagBag(dag_folder=str(REPO_ROOT / "dags"))
    queues = {task.queue for dag in dagbag.dags.values() for task in dag.tasks}
    assert queues <= default_profile | {"gpu"}, queues


def test_the_dockerfile_builds_from_the_locked_airflow_and_fetches_nothing_at_start():
    dockerfile = (REPO_ROOT / "Dockerfile").read_text()
    pins = dict(line.split("==") for line in (REPO_ROOT / "requirements.txt").read_text().splitlines() if "==" in line)
    assert f"ARG AIRFLOW_VERSION={pins['apache-airflow']}" in dockerfile
    assert f"ARG XGBOOST_VERSION={pins['xgboost']}" in dockerfile
    assert re.search(r"^FROM apache/airflow:\$\{AIRFLOW_VERSION\}-python\$\{PYTHON_VERSION\}$", dockerfile, re.M)
    python = re.search(r"^ARG PYTHON_VERSION=(\d+\.\d+)$", dockerfile, re.M).group(1)
    assert python in (REPO_ROOT / ".ci" / "run").read_text() + (REPO_ROOT / "Makefile").read_text()
    assert "-r /opt/driftloop/requirements.lock" in dockerfile
    assert "_PIP_ADDITIONAL_REQUIREMENTS" not in (REPO_ROOT / "docker-compose.yaml").read_text()
    for copied in re.findall(r"^COPY (?:--\S+ )*(.+) \S+$", dockerfile, re.M):
        for source in copied.split():
            assert (REPO_ROOT / source).exists(), f"Dockerfile copies missing {source}"


SECRET_NAME = re.compile(r"PASSWORD|SECRET|FERNET")


def test_every_secret_is_required_without_a_default_and_left_empty_in_env_example():
    from native_stack import required_variables

    text = (REPO_ROOT / "docker-compose.yaml").read_text()
    uses = re.findall(r"(?<!\$)\$\{([A-Z][A-Z0-9_]*)(:[-?])?", text)
    secrets = {name for name, _ in uses if SECRET_NAME.search(name)}
    assert {"AIRFLOW_FERNET_KEY", "AIRFLOW_JWT_SECRET", "AIRFLOW_API_SECRET_KEY", "POSTGRES_PASSWORD"} <= secrets
    assert {f"{part}_DB_PASSWORD" for part in ("AIRFLOW", "MLFLOW", "FEAST", "DRIFTLOOP")} <= secrets
    assert {"MINIO_ROOT_PASSWORD", "DRIFTLOOP_AIRFLOW_PASSWORD"} <= secrets
    assert sorted({name for name, operator in uses if name in secrets and operator != ":?"}) == []
    assert required_variables(text) == sorted(secrets)
    example = dict(re.findall(r"^([A-Z][A-Z0-9_]+)=(.*)$", (REPO_ROOT / ".env.example").read_text(), re.M))
    assert {name: example[name] for name in secrets} == dict.fromkeys(secrets, "")


def test_compose_refuses_to_start_without_a_secret_and_encrypts_and_signs_with_them():
    from native_stack import MissingVariableError, compose_services, generated_secrets

    values = generated_secrets()
    for name in ("DRIFTLOOP_DB_PASSWORD", "AIRFLOW_FERNET_KEY"):
        with pytest.raises(MissingVariableError, match=name):
            compose_services({k: v for k, v in values.items() if k != name})
    services = compose_services(values)
    airflow_services = [name for name in services if name.startswith("airflow-")]
    for name in airflow_services:
        environment = services[name]["environment"]
        assert environment["AIRFLOW__CORE__FERNET_KEY"] == values["AIRFLOW_FERNET_KEY"], name
        assert environment["AIRFLOW__API_AUTH__JWT_SECRET"] == values["AIRFLOW_JWT_SECRET"], name
        assert environment["AIRFLOW__API__SECRET_KEY"] == values["AIRFLOW_API_SECRET_KEY"], name


def test_no_secret_is_on_a_command_line_or_in_a_connection_json():
    import json

    from native_stack import compose_services, generated_secrets

    values = generated_secrets()
    services = compose_services(values)
    for name, service in services.items():
        command = service.get("command", "")
        command = command if isinstance(command, str) else " ".join(command)
        assert not [secret for secret in values.values() if secret in command], name
    connection = json.loads(services["airflow-scheduler"]["environment"]["AIRFLOW_CONN_AWS_DEFAULT"])
    assert "password" not in connection and "login" not in connection


def test_the_passwords_file_is_valid_json_whatever_the_password(tmp_path):
    import json
    import subprocess
    import sys

    from native_stack import compose_services, generated_secrets

    password = """a "quoted" pass\\word with 'both' quotes, $HOME and {braces}"""
    services = compose_services(generated_secrets() | {"DRIFTLOOP_AIRFLOW_PASSWORD": password})
    apiserver = services["airflow-apiserver"]
    shell, flag, script = apiserver["command"]
    assert (shell, flag) == ("bash", "-c") and script.endswith("&& exec airflow api-server")
    passwords_file = tmp_path / "passwords.json"
    environment = {key: str(value) for key, value in apiserver["environment"].items()}
    environment["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"] = str(passwords_file)
    write = script.removesuffix("&& exec airflow api-server")
    path = f"{Path(sys.executable).parent}:/usr/bin:/bin"
    subprocess.run([shell, flag, write], env=environment | {"PATH": path}, check=True)
    assert json.loads(passwords_file.read_text()) == {environment["DRIFTLOOP_AIRFLOW_USER"]: password}
    assert "printf" not in (REPO_ROOT / "docker-compose.yaml").read_text()


def test_the_database_init_script_quotes_names_and_passwords():
    import os
    import subprocess
    import uuid

    import psycopg2

    suffix = uuid.uuid4().hex[:6]
    parts = ("AIRFLOW", "MLFLOW", "FEAST", "DRIFTLOOP")
    values = {}
    for part in parts:
        values |= {
            f"{part}_DB_USER": f"""u'{part.lower()}"{suffix}""",
            f"{part}_DB_PASSWORD": """p'w"; DROP ROLE postgres; --""",
            f"{part}_DB_NAME": f"""d'{part.lower()}"{suffix}""",
        }
    env = {**os.environ, **values, "POSTGRES_USER": "postgres", "PGHOST": "127.0.0.1", "PGPORT": "5432"}
    script = REPO_ROOT / "docker" / "postgres" / "init-databases.sh"
    done = subprocess.run(["bash", str(script)], env=env, capture_output=True, text=True)
    admin = psycopg2.connect(host="127.0.0.1", port=5432, user="postgres", dbname="postgres")
    admin.autocommit = True
    try:
        assert done.returncode == 0, done.stderr
        with admin.cursor() as cursor:
            cursor.execute(
                "SELECT d.datname, r.rolname FROM pg_database d JOIN pg_roles r ON r.oid = d.datdba "
                "WHERE d.datname LIKE %s",
                (f"%{suffix}",),
            )
            owners = dict(cursor.fetchall())
        assert owners == {values[f"{p}_DB_NAME"]: values[f"{p}_DB_USER"] for p in parts}
    finally:
        with admin.cursor() as cursor:
            for part in parts:
                cursor.execute(f"DROP DATABASE IF EXISTS {_quote_ident(values[f'{part}_DB_NAME'])} WITH (FORCE)")
                cursor.execute(f"DROP ROLE IF EXISTS {_quote_ident(values[f'{part}_DB_USER'])}")
        admin.close()


def _quote_ident(name: str) -> str:
    """``name`` as a PostgreSQL identifier."""
    return '"' + name.replace('"', '""') + '"'
