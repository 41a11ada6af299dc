"""Feast's configuration from driftloop's settings: embedded defaults equal feature_store.yaml, the production values
select the SQL registry and the Redis online store, and a bad online store value is refused by name."""

from __future__ import annotations

import os
from unittest import mock

import pytest
import yaml

from driftloop.features.feature_store import redis_connection_string, repo_config_values
from driftloop.settings import load_settings


def test_the_embedded_defaults_are_what_feature_store_yaml_says(data_root):
    settings = load_settings()
    text = (settings.feature_repo / "feature_store.yaml").read_text()
    with mock.patch.dict(os.environ, settings.feast_env()):
        from_yaml = yaml.safe_load(os.path.expandvars(text))
    assert repo_config_values(settings) == from_yaml
    assert from_yaml["registry"]["registry_store_type"].endswith("AtomicFileRegistryStore")


def test_a_reader_never_sees_a_half_written_file_registry(data_root):
    """Feast's own file store truncates the registry before writing it; ours replaces it whole, so a reader running
    while ``features`` applies the repo reads the old registry or the new one."""
    import threading

    from feast.protos.feast.core.Registry_pb2 import Registry as RegistryProto
    from feast.repo_config import RegistryConfig

    from driftloop.features.registry_store import AtomicFileRegistryStore

    path = data_root / "feast" / "registry.db"
    store = AtomicFileRegistryStore(RegistryConfig(registry_type="file", path=str(path)), data_root)
    proto = RegistryProto()
    proto.project_metadata.add(project="p" * 200_000)
    store.update_registry_proto(proto)
    failures, stop = [], threading.Event()

    def read_until_stopped():
        while not stop.is_set():
            try:
                assert store.get_registry_proto().project_metadata[0].project == "p" * 200_000
            except Exception as exc:  # noqa: BLE001 - any failed read is the finding
                failures.append(repr(exc))

    reader = threading.Thread(target=read_until_stopped)
    reader.start()
    for _ in range(200):
        store.update_registry_proto(proto)
    stop.set()
    reader.join()
    assert failures == []
    assert [p.name for p in path.parent.iterdir()] == ["registry.db"], "no scratch file left"


def test_production_values_select_the_sql_registry_and_the_redis_online_store(data_root, monkeypatch):
    monkeypatch.setenv("DRIFTLOOP_FEAST_REGISTRY", "postgresql+psycopg2://feast:secret@postgres:5432/feast")
    monkeypatch.setenv("DRIFTLOOP_FEAST_ONLINE_STORE", "redis://redis:6379/1")
    values = repo_config_values(load_settings())
    assert values["registry"]["registry_type"] == "sql"
    assert values["registry"]["path"] == "postgresql+psycopg2://feast:secret@postgres:5432/feast"
    assert values["online_store"] == {"type": "redis", "connection_string": "redis:6379,db=1"}


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("redis://localhost", "localhost:6379,db=0"),
        ("redis://:p%40ss@cache:6380/2", "cache:6380,db=2,password=p@ss"),
        ("rediss://user:pw@cache.example.com/3", "cache.example.com:6379,db=3,password=pw,username=user,ssl=true"),
    ],
)
def test_redis_urls_become_feast_connection_strings(url, expected):
    assert redis_connection_string(url) == expected


def test_an_unknown_online_store_is_refused_naming_the_setting(data_root, monkeypatch):
    monkeypatch.setenv("DRIFTLOOP_FEAST_ONLINE_STORE", "dynamodb")
    with pytest.raises(ValueError, match="DRIFTLOOP_FEAST_ONLINE_STORE='dynamodb'"):
        repo_config_values(load_settings())


def test_a_tracking_server_keeps_artifacts_behind_its_proxy(data_root, monkeypatch):
    assert load_settings().mlflow_artifact_root == str(data_root / "mlartifacts")
    monkeypatch.setenv("DRIFTLOOP_MLFLOW_TRACKING_URI", "http://mlflow:5000")
    assert load_settings().mlflow_artifact_root == "mlflow-artifacts:/driftloop"
    monkeypatch.setenv("DRIFTLOOP_MLFLOW_ARTIFACT_ROOT", "s3://artifacts/driftloop")
    assert load_settings().mlflow_artifact_root == "s3://artifacts/driftloop"


def test_a_feature_store_leaves_no_feast_paths_behind_for_the_next_settings(tmp_path, monkeypatch):
    """The variables ``feature_repo/`` expands are set only while Feast reads them: a process that opened one data
    root's store and then loads settings for another (tests, the replay, a CLI) gets the other root's Feast paths."""
    from driftloop.features.feature_store import feature_store
    from driftloop.settings import Settings

    for name in Settings.feast_env(load_settings()):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DRIFTLOOP_DATA_ROOT", str(tmp_path / "first"))
    first = load_settings()
    feature_store(first)
    assert not set(first.feast_env()) & set(os.environ)
    monkeypatch.setenv("DRIFTLOOP_DATA_ROOT", str(tmp_path / "second"))
    second = load_settings()
    assert second.feast_online_path.is_relative_to(tmp_path / "second"), second.feast_online_path
    assert second.feast_registry.startswith(str(tmp_path / "second")), second.feast_registry
