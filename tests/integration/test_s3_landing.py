"""S3 landing and an S3 raw zone, against a real S3 HTTP endpoint (moto's server mode in a subprocess).

The batch's marker is uploaded only after the sensor has deferred, so the run proves the whole path of the production
stack: the ``S3KeyTrigger`` polls the endpoint, the sensor resumes, ``copy_to_raw`` downloads through ``S3Hook`` and
uploads the batch as a delivery into the raw zone's S3 prefix, and ``validate`` reads it from there and accepts it.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from churn_usecase import SimulationConfig, simulate_to_landing
from dagruns import run_dag
from driftloop.storage import lake

pytestmark = pytest.mark.integration

BUCKET = "driftloop-landing"
PREFIX = "drops/daily"
DAY = date(2026, 4, 2)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def s3_endpoint():
    """A moto S3 server on a free loopback port, stopped after the test."""
    port = _free_port()
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                break
        except OSError:
            time.sleep(0.2)
    else:
        server.kill()
        pytest.fail("moto_server did not start")
    yield url
    server.terminate()
    server.wait(timeout=10)


def test_ingest_waits_for_an_s3_batch_then_copies_and_validates_it(airflow_db, s3_endpoint, tmp_path, monkeypatch):
    import boto3

    credentials = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "region_name": "us-east-1"}
    client = boto3.client("s3", endpoint_url=s3_endpoint, **credentials)
    client.create_bucket(Bucket=BUCKET)
    root = tmp_path / "data"
    monkeypatch.setenv("DRIFTLOOP_DATA_ROOT", str(root))
    monkeypatch.setenv("DRIFTLOOP_LANDING_URI", f"s3://{BUCKET}/{PREFIX}")
    monkeypatch.setenv("DRIFTLOOP_RAW_URI", f"s3://{BUCKET}/raw")
    for key, value in {"AWS_ENDPOINT_URL": s3_endpoint, "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("DRIFTLOOP_LANDING_POKE_INTERVAL_S", "1")
    monkeypatch.setenv("DRIFTLOOP_LANDING_TIMEOUT_S", "120")
    monkeypatch.setenv(
        "AIRFLOW_CONN_AWS_DEFAULT",
        json.dumps(
            {
                "conn_type": "aws",
                "login": "testing",
                "password": "testing",
                "extra": {"endpoint_url": s3_endpoint, "region_name": "us-east-1"},
            }
        ),
    )
    config = SimulationConfig(n_customers=80, seed=3, epoch=DAY - timedelta(days=5))
    [local_batch] = simulate_to_landing(config, DAY, 1, tmp_path / "upstream")
    files = sorted(p for p in local_batch.iterdir() if p.name != "_SUCCESS")
    for path in files:
        client.upload_file(str(path), BUCKET, f"{PREFIX}/dt={DAY}/{path.name}")

    delivered_at = []

    def deliver_marker_late():
        time.sleep(4)
        delivered_at.append(datetime.now(UTC))
        client.put_object(Bucket=BUCKET, Key=f"{PREFIX}/dt={DAY}/_SUCCESS", Body=b"")

    threading.Thread(target=deliver_marker_late, daemon=True).start()
    result = run_dag("ingest", DAY, {"day": DAY.isoformat()})

    assert result.state == "success", result.tasks
    assert delivered_at and result.ended["wait_for_batch"] >= delivered_at[0], "the sensor must wait for the marker"
    raw = sorted(item["Key"] for item in client.list_objects_v2(Bucket=BUCKET, Prefix="raw/")["Contents"])
    [delivery] = {key.split("/")[2] for key in raw if key.count("/") == 3}
    names = sorted([*(path.name for path in files), "_SUCCESS"])
    assert raw == [f"raw/dt={DAY}/_ACCEPTED", *(f"raw/dt={DAY}/{delivery}/{name}" for name in names)]
    for path in files:
        body = client.get_object(Bucket=BUCKET, Key=f"raw/dt={DAY}/{delivery}/{path.name}")["Body"].read()
        assert body == path.read_bytes()
    assert not (root / "raw").exists()
    assert (lake.partition_dir(root / "validated" / "activity_events", DAY) / "part.parquet").exists()
