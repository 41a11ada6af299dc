"""docker-compose.yaml's topology as processes on this machine, configured from the compose file itself.

No Docker engine runs here, so the stack test starts the same services natively: the machine's PostgreSQL (with the
roles and databases made by ``docker/postgres/init-databases.sh``) and Redis, moto's S3 server in place of MinIO
(with the buckets of the ``minio-init`` job), and ``mlflow server`` with the compose service's own command line.
The Airflow environment is the compose file's ``airflow-apiserver`` environment (the common Airflow environment plus
the UI login) with ``${VAR:-default}`` interpolated from test values (as ``.env`` would; the variables compose
requires, ``${VAR:?message}``, every password, the Fernet key and the signing secrets, get generated values, in
``NativeStack.secrets``) and the service host names mapped to this machine's ports; the few values that only make
sense inside a container (paths, ports) or isolate the test are ``NativeStack.overrides``.
Everything started is stopped, and the databases, roles, buckets and Redis keys made are removed.
"""

from __future__ import annotations

import os
import re
import secrets
import shlex
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
COMPOSE_FILE = REPO_ROOT / "docker-compose.yaml"


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class MissingVariableError(ValueError):
    """A variable that the compose file requires (``${VAR:?message}``) has no value."""


def interpolate(text: str, values: dict[str, str]) -> str:
    """``${VAR:-default}``, ``${VAR:?message}``, ``${VAR}`` and ``$$`` as docker compose interpolates them from
    ``values``; a required variable that is unset or empty raises :class:`MissingVariableError` with its message."""

    def one(match: re.Match) -> str:
        name, operator, argument = match.group(1), match.group(3), match.group(4)
        if values.get(name):
            return values[name]
        if operator == ":?":
            raise MissingVariableError(f"required variable {name} is missing a value: {argument}")
        return argument if operator == ":-" else ""

    return re.sub(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)((:-|:\?)([^}]*))?\}", one, text).replace("$$", "$")


def required_variables(text: str) -> list[str]:
    """The variables that ``text`` (a compose file) requires, ``${VAR:?message}``, sorted."""
    return sorted(set(re.findall(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*):\?", text)))


def generated_secrets() -> dict[str, str]:
    """A fresh value for every variable that docker-compose.yaml requires: a Fernet key for ``AIRFLOW_FERNET_KEY``,
    random URL-safe strings (as .env.example says to make them) for the passwords and signing secrets."""
    from cryptography.fernet import Fernet

    values = {
        name: f"{name.lower()}-{secrets.token_urlsafe(12)}" for name in required_variables(COMPOSE_FILE.read_text())
    }
    values["AIRFLOW_FERNET_KEY"] = Fernet.generate_key().decode()
    return values


def compose_services(values: dict[str, str]) -> dict:
    """The compose file's services, interpolated with ``values``."""
    return yaml.safe_load(interpolate(COMPOSE_FILE.read_text(), values))["services"]


def map_hosts(value: str, hosts: dict[str, str]) -> str:
    """Replace each compose ``service:port`` in ``value`` with its address on this machine."""
    for service, address in hosts.items():
        value = re.sub(rf"(?<=[/@]){re.escape(service)}(?=[/:]|$)", address, value)
    return value


def _wait_http(url: str, process: subprocess.Popen, log: Path, timeout_s: float = 120.0) -> None:
    import urllib.request

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args[0]} exited with {process.returncode}: {log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(1)
    raise TimeoutError(f"{url} not healthy after {timeout_s}s: {log.read_text()[-3000:]}")


@contextmanager
def _process(command: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen]:
    with log.open("w") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        yield process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


@contextmanager
def _databases(values: dict[str, str]) -> Iterator[None]:
    """Run the compose PostgreSQL init script against the machine's server; drop what it made afterwards."""
    import psycopg2

    script = REPO_ROOT / "docker" / "postgres" / "init-databases.sh"
    env = {**os.environ, **values, "POSTGRES_USER": "postgres", "PGHOST": "127.0.0.1", "PGPORT": "5432"}
    done = subprocess.run(["bash", str(script)], env=env, capture_output=True, text=True)
    owners = [(values[f"{p}_DB_USER"], values[f"{p}_DB_NAME"]) for p in ("AIRFLOW", "MLFLOW", "FEAST", "DRIFTLOOP")]
    try:
        assert done.returncode == 0, done.stdout + done.stderr
        yield
    finally:
        admin = psycopg2.connect(host="127.0.0.1", port=5432, user="postgres", dbname="postgres")
        admin.autocommit = True
        with admin.cursor() as cursor:
            for user, database in owners:
                cursor.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
                cursor.execute(f'DROP ROLE IF EXISTS "{user}"')
        admin.close()


def _delete_redis_keys(url: str, pattern: bytes) -> int:
    import redis

    client = redis.Redis.from_url(url)
    deleted = sum(client.delete(key) for key in client.scan_iter(match=pattern, count=1000))
    client.close()
    return deleted


@dataclass(frozen=True)
class NativeStack:
    """A running native stack: the Airflow environment and what the test needs to look into S3."""

    env: dict[str, str]
    overrides: dict[str, str]
    secrets: dict[str, str]
    s3_endpoint: str
    buckets: dict[str, str]
    mlflow_url: str

    def s3(self):
        """A boto3 S3 client on the stack's endpoint and credentials."""
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.s3_endpoint,
            aws_access_key_id=self.env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=self.env["AWS_SECRET_ACCESS_KEY"],
            region_name=self.env["AWS_DEFAULT_REGION"],
        )

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        """Every object key in ``bucket`` below ``prefix``."""
        pages = self.s3().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        return [item["Key"] for page in pages for item in page.get("Contents", [])]


@contextmanager
def native_stack(
    base: Path, data_root: Path, airflow_home: Path, dotenv: dict[str, str] | None = None
) -> Iterator[NativeStack]:
    """Start PostgreSQL databases, S3 and MLflow, and build the environment of compose's Airflow services with the
    ``.env`` values ``dotenv`` (plus generated names and credentials); clean everything up after."""
    suffix = uuid.uuid4().hex[:8]
    generated = generated_secrets()
    values = {"MINIO_ROOT_USER": "driftloop-test", **generated, **(dotenv or {})}
    for part in ("AIRFLOW", "MLFLOW", "FEAST", "DRIFTLOOP"):
        values |= {f"{part}_DB_USER": f"{part.lower()}_{suffix}", f"{part}_DB_NAME": f"{part.lower()}_{suffix}"}
    for bucket in (
        "DRIFTLOOP_LANDING_BUCKET",
        "DRIFTLOOP_RAW_BUCKET",
        "MLFLOW_ARTIFACTS_BUCKET",
        "DRIFTLOOP_REPORTS_BUCKET",
    ):
        values[bucket] = f"{bucket.split('_')[-2].lower()}-{suffix}"
    s3_port, mlflow_port, api_port = free_port(), free_port(), free_port()
    hosts = {
        "postgres:5432": "127.0.0.1:5432",
        "redis:6379": "127.0.0.1:6379",
        "minio:9000": f"127.0.0.1:{s3_port}",
        "mlflow:5000": f"127.0.0.1:{mlflow_port}",
        "airflow-apiserver:8080": f"localhost:{api_port}",
    }
    services = compose_services(values)
    project = f"driftloop_{suffix}"
    celery_prefix = f"driftloop-test-{suffix}:"
    with ExitStack() as stack:
        stack.enter_context(_databases(values))

        s3_endpoint = f"http://127.0.0.1:{s3_port}"
        moto = [str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(s3_port)]
        s3_log = base / "moto.log"
        _wait_http(f"{s3_endpoint}/moto-api/", stack.enter_context(_process(moto, dict(os.environ), s3_log)), s3_log)
        init_env = services["minio-init"]["environment"]
        buckets = init_env["BUCKETS"].split()

        mlflow = services["mlflow"]
        mlflow_env = {**os.environ, **{k: map_hosts(str(v), hosts) for k, v in mlflow["environment"].items()}}
        command = [map_hosts(word, hosts) for word in mlflow["command"]]
        command = [w for w in command if not w.startswith(("--host=", "--port="))]
        command += ["--host=127.0.0.1", f"--port={mlflow_port}", "--workers=1"]
        command[0] = str(Path(sys.executable).parent / command[0])
        mlflow_log = base / "mlflow.log"
        server = stack.enter_context(_process(command, mlflow_env, mlflow_log))

        airflow_env = {
            key: map_hosts(str(value), hosts) for key, value in services["airflow-apiserver"]["environment"].items()
        }
        worker_queues = set()
        for service in services.values():
            words = shlex.split(service["command"]) if isinstance(service.get("command"), str) else []
            if words[:2] == ["celery", "worker"]:
                worker_queues |= set(words[words.index("--queues") + 1].split(","))
        # Container paths and ports, and what isolates this run from others on the same PostgreSQL and Redis.
        overrides = {
            "AIRFLOW_HOME": str(airflow_home),
            "AIRFLOW__API__PORT": str(api_port),
            "AIRFLOW__API__BASE_URL": f"http://localhost:{api_port}",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(airflow_home / "passwords.json"),
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT": str(free_port()),
            "AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__GLOBAL_KEYPREFIX": celery_prefix,
            "DRIFTLOOP_DATA_ROOT": str(data_root),
            "DRIFTLOOP_FEATURE_REPO": str(REPO_ROOT / "feature_repo"),
            "DRIFTLOOP_FEAST_PROJECT": project,
            "DRIFTLOOP_CELERY_QUEUES": ",".join(sorted(worker_queues)),
        }
        airflow_env |= overrides
        native = NativeStack(
            env=airflow_env,
            overrides=overrides,
            secrets={name: values[name] for name in generated},
            s3_endpoint=s3_endpoint,
            buckets={name: values[name] for name in values if name.endswith("_BUCKET")},
            mlflow_url=f"http://127.0.0.1:{mlflow_port}",
        )
        for bucket in buckets:
            native.s3().create_bucket(Bucket=bucket)
        _wait_http(f"http://127.0.0.1:{mlflow_port}/health", server, mlflow_log)

        broker = airflow_env["AIRFLOW__CELERY__BROKER_URL"]
        online = airflow_env["DRIFTLOOP_FEAST_ONLINE_STORE"]
        stack.callback(_delete_redis_keys, broker, celery_prefix.encode() + b"*")
        stack.callback(_delete_redis_keys, online, b"*" + project.encode())
        yield native
