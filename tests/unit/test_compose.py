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
