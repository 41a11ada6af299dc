"""The raw zone on S3 (moto's in-process S3): ingest adds a delivery to a day's partition and keeps the earlier ones,
validation reads the newest from S3 and marks it accepted, and a rejected delivery is copied to quarantine and stays
in the raw zone; a missing partition is named by its URI."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest

from churn_usecase import SimulationConfig, simulate_to_landing
from driftloop.ingest.landing import copy_batch_to_raw
from driftloop.ingest.validation import BatchRejected, validate_batch
from driftloop.settings import load_settings
from driftloop.storage import lake, raw_zone

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


def test_ingest_adds_a_delivery_to_s3_and_keeps_the_earlier_ones(s3_raw, tmp_path):
    settings, client = s3_raw
    batch = _landed_batch(tmp_path)
    raw = copy_batch_to_raw(DAY, batch, settings)
    assert raw.uri == f"s3://{BUCKET}/zone/dt={DAY}/{raw.delivery}/"
    names = sorted(p.name for p in batch.iterdir())  # the tables and _SUCCESS
    first = [f"zone/dt={DAY}/{raw.delivery}/{name}" for name in names]
    assert _keys(client) == first
    body = client.get_object(Bucket=BUCKET, Key=f"zone/dt={DAY}/{raw.delivery}/activity_events.csv")["Body"].read()
    assert body == (batch / "activity_events.csv").read_bytes()
    assert not copy_batch_to_raw(DAY, batch, settings).new, "a rerun with the same bytes stores nothing"

    (batch / "churn_labels.csv").unlink()
    second = copy_batch_to_raw(DAY, batch, settings)
    assert second.new
    assert _keys(client) == sorted(
        first + [f"zone/dt={DAY}/{second.delivery}/{name}" for name in names if name != "churn_labels.csv"]
    )
    assert raw_zone.find_delivery(DAY, settings).name == second.delivery


def test_validation_reads_an_s3_partition_and_accepts_it(s3_raw, tmp_path):
    settings, client = s3_raw
    batch = _landed_batch(tmp_path)
    copy_batch_to_raw(DAY, batch, settings)
    accepted = validate_batch(DAY, settings)
    profiles = len((batch / "customer_profiles.csv").read_text().splitlines()) - 1
    assert accepted.row_counts["customer_profiles"] == profiles > 0
    assert (lake.partition_dir(settings.validated_dir / "customer_profiles", DAY) / "part.parquet").exists()
    assert len(_keys(client)) == 5, "the delivery (3 tables, _SUCCESS) stays in the raw zone beside _ACCEPTED"
    manifest = raw_zone.read_manifest(DAY, settings)
    assert {entry["delivery"] for entry in manifest["tables"].values()} == {accepted.delivery}


def test_a_rejected_s3_batch_is_copied_to_quarantine_and_stays_in_the_raw_zone(s3_raw, tmp_path):
    settings, client = s3_raw
    batch = _landed_batch(tmp_path)
    lines = (batch / "activity_events.csv").read_text().splitlines()
    header = lines[0].split(",")
    row = lines[1].split(",")
    row[header.index("minutes_watched")] = "lots"
    (batch / "activity_events.csv").write_text("\n".join([lines[0], ",".join(row), *lines[2:]]) + "\n")
    raw = copy_batch_to_raw(DAY, batch, settings)
    delivered = _keys(client)

    with pytest.raises(BatchRejected) as rejected:
        validate_batch(DAY, settings)

    assert _keys(client) == delivered, "the rejected delivery stays in raw, not marked accepted"
    quarantined = lake.partition_dir(settings.quarantine_dir, DAY)
    assert (quarantined / "activity_events.csv").read_bytes() == (batch / "activity_events.csv").read_bytes()
    report = json.loads(rejected.value.report_path.read_text())
    assert report["raw_uri"] == f"s3://{BUCKET}/zone/dt={DAY}/{raw.delivery}/"
    assert report["delivery"] == raw.delivery
    assert ("activity_events", "minutes_watched") in {(f["table"], f["column"]) for f in report["failures"]}
    assert not lake.partition_dir(settings.validated_dir / "activity_events", DAY).exists()


def test_a_missing_s3_partition_is_named_by_its_uri(s3_raw):
    settings, _ = s3_raw
    with pytest.raises(FileNotFoundError, match=f"s3://{BUCKET}/zone/dt={DAY}/ holds no complete delivery"):
        validate_batch(DAY, settings)
    with pytest.raises(ValueError, match="DRIFTLOOP_RAW_URI"):
        settings.raw_dir  # noqa: B018
    assert raw_zone.partition_uri(DAY, settings) == f"s3://{BUCKET}/zone/dt={DAY}/"
