"""The raw zone on S3 (moto's in-process S3): ingest replaces a day's partition whole, validation reads it from S3,
and a rejected batch moves to quarantine and leaves the raw zone; a missing partition is named by its URI."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest

from churn_usecase import SimulationConfig, simulate_to_landing
from driftloop import lake, raw_zone
from driftloop.ingest import copy_batch_to_raw
from driftloop.settings import load_settings
from driftloop.validation import BatchRejected, validate_batch

BUCKET = "driftloop-raw"
DAY = date(2026, 4, 2)


@pytest.fixture
def s3_raw(data_root, monkeypatch):
    """Settings whose raw zone is ``s3://driftloop-raw/zone`` on moto's in-process S3; yields (settings, client)."""
    import boto3
    from moto import mock_aws

    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "DRIFTLOOP_RAW_URI": f"s3://{BUCKET}/zone/",
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        client = boto3.client("s3")
        client.create_bucket(Bucket=BUCKET)
        yield load_settings(), client


def _keys(client) -> list[str]:
    return sorted(item["Key"] for item in client.list_objects_v2(Bucket=BUCKET).get("Contents", []))


def _landed_batch(tmp_path):
    config = SimulationConfig(n_customers=60, seed=3, epoch=DAY - timedelta(days=5))
    [batch] = simulate_to_landing(config, DAY, 1, tmp_path / "landing")
    return batch


def test_ingest_writes_the_partition_to_s3_and_a_rerun_replaces_it_whole(s3_raw, tmp_path):
    settings, client = s3_raw
    batch = _landed_batch(tmp_path)
    raw = copy_batch_to_raw(DAY, batch, settings)
    assert raw.uri == f"s3://{BUCKET}/zone/dt={DAY}/"
    names = sorted(p.name for p in batch.iterdir() if p.name != "_SUCCESS")
    assert _keys(client) == [f"zone/dt={DAY}/{name}" for name in names]
    body = client.get_object(Bucket=BUCKET, Key=f"zone/dt={DAY}/activity_events.csv")["Body"].read()
    assert body == (batch / "activity_events.csv").read_bytes()

    (batch / "churn_labels.csv").unlink()
    copy_batch_to_raw(DAY, batch, settings)
    assert _keys(client) == [f"zone/dt={DAY}/{name}" for name in names if name != "churn_labels.csv"]


def test_validation_reads_an_s3_partition_and_accepts_it(s3_raw, tmp_path):
    settings, client = s3_raw
    batch = _landed_batch(tmp_path)
    copy_batch_to_raw(DAY, batch, settings)
    accepted = validate_batch(DAY, settings)
    profiles = len((batch / "customer_profiles.csv").read_text().splitlines()) - 1
    assert accepted.row_counts["customer_profiles"] == profiles > 0
    assert (lake.partition_dir(settings.validated_dir / "customer_profiles", DAY) / "part.parquet").exists()
    assert len(_keys(client)) == 3, "an accepted batch stays in the raw zone"


def test_a_rejected_s3_batch_moves_to_quarantine_and_leaves_the_raw_zone(s3_raw, tmp_path):
    settings, client = s3_raw
    batch = _landed_batch(tmp_path)
    lines = (batch / "activity_events.csv").read_text().splitlines()
    header = lines[0].split(",")
    row = lines[1].split(",")
    row[header.index("minutes_watched")] = "lots"
    (batch / "activity_events.csv").write_text("\n".join([lines[0], ",".join(row), *lines[2:]]) + "\n")
    copy_batch_to_raw(DAY, batch, settings)

    with pytest.raises(BatchRejected) as rejected:
        validate_batch(DAY, settings)

    assert _keys(client) == []
    quarantined = lake.partition_dir(settings.quarantine_dir, DAY)
    assert (quarantined / "activity_events.csv").read_bytes() == (batch / "activity_events.csv").read_bytes()
    report = json.loads(rejected.value.report_path.read_text())
    assert report["raw_uri"] == f"s3://{BUCKET}/zone/dt={DAY}/"
    assert ("activity_events", "minutes_watched") in {(f["table"], f["column"]) for f in report["failures"]}
    assert not lake.partition_dir(settings.validated_dir / "activity_events", DAY).exists()


def test_a_missing_s3_partition_is_named_by_its_uri(s3_raw):
    settings, _ = s3_raw
    with pytest.raises(FileNotFoundError, match=f"s3://{BUCKET}/zone/dt={DAY}/ holds no objects"):
        validate_batch(DAY, settings)
    with pytest.raises(ValueError, match="DRIFTLOOP_RAW_URI"):
        settings.raw_dir  # noqa: B018
    assert raw_zone.partition_uri(DAY, settings) == f"s3://{BUCKET}/zone/dt={DAY}/"
