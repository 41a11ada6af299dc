"""The model lifecycle under faults (issue #12): a real ``mlflow server`` behind a proxy that answers 503, drops
connections, or SIGKILLs the step at a chosen request; the step is then run again, as Airflow's retry would.

The killed try runs in a subprocess; its retry runs in the test's process (the same code path, minus a start-up).
Asserted every time: a registry that does not answer fails the step and never counts as "no champion"; the champion
is the version the gate chose; every version has a decision; a training run has exactly one version; the champion
history is complete, never names a version as its own predecessor, and rollback restores the real previous champion.
"""

from __future__ import annotations

import dataclasses
import json

import pytest

from driftloop.model import model_registry
from driftloop.model.model_registry import RUN_KEY_TAG, RegistryUnavailable
from driftloop.settings import ModelSettings
from mlflow_faults import Rule

pytestmark = pytest.mark.faults


def _rows(lifecycle) -> list[tuple]:
    history = model_registry.read_history(lifecycle.settings.mlflow_tracking_uri, lifecycle.settings.model.name)
    return [(t.version, t.kind, t.state, t.previous) for t in history.tenures()]


def _assert_every_version_decided_once_per_run(lifecycle) -> None:
    versions = lifecycle.versions()
    assert all("promotion_decision" in v.tags for v in versions), [(v.version, v.tags) for v in versions]
    keys = [v.tags[RUN_KEY_TAG] for v in versions]
    assert len(keys) == len(set(keys)), f"a training run registered more than one version: {keys}"
    assert all(v.tags.get("previous_champion") != str(v.version) for v in versions)


def _assert_names_the_server_without_credentials(error: Exception, lifecycle) -> None:
    message = str(error)
    assert f"http://***@127.0.0.1:{lifecycle.proxy.port}" in message and "s3cret" not in message, message


def test_an_unanswered_registry_fails_gate_scoring_and_rollback_and_never_means_no_champion(lifecycle):
    from driftloop.serving import scoring

    proxy = lifecycle.proxy
    first = lifecycle.folder("good", "train-1")
    lifecycle.register(first)
    assert lifecycle.gate(first)["promote"]
    weak = lifecycle.folder("weak", "train-2")
    weak_version = lifecycle.register(weak)

    # 503s on the champion read alone: the old gate took them for "there is no champion yet" and promoted.
    proxy.add(Rule("GET", "alias=champion", answer="503"))
    with pytest.raises(RegistryUnavailable) as unanswered:
        lifecycle.gate(weak)
    _assert_names_the_server_without_credentials(unanswered.value, lifecycle)
    proxy.reset()
    proxy.add(Rule(answer="503"))
    with pytest.raises(RegistryUnavailable):
        lifecycle.gate(weak)
    proxy.reset()
    proxy.add(Rule(answer="drop"))
    with pytest.raises(RegistryUnavailable):
        lifecycle.gate(weak)
    with pytest.raises(RegistryUnavailable) as unanswered:
        scoring.champion(lifecycle.settings)
    _assert_names_the_server_without_credentials(unanswered.value, lifecycle)
    with pytest.raises(RegistryUnavailable):
        model_registry.rollback(lifecycle.settings.mlflow_tracking_uri, lifecycle.settings.model.name, "a", "b")
    proxy.reset()

    assert lifecycle.champion() == "1"
    weak_tags = lifecycle.client.get_model_version(lifecycle.settings.model.name, weak_version).tags
    assert "promotion_decision" not in weak_tags, "nothing was decided on an unanswered read"
    rejected = lifecycle.gate(weak)
    assert not rejected["promote"] and rejected["champion_before"] == "1"
    assert lifecycle.gate(weak)["reasons"] == rejected["reasons"], "a retry reuses the recorded decision"
    assert lifecycle.champion() == "1"
    assert scoring.champion(lifecycle.settings)[0] == "1"
    assert _rows(lifecycle) == [("1", "gate", "current", None)]
    _assert_every_version_decided_once_per_run(lifecycle)
    with pytest.raises(ValueError, match="is its first champion"):
        model_registry.rollback(lifecycle.settings.mlflow_tracking_uri, lifecycle.settings.model.name, "a", "b")

    # Only MLflow's own "does not exist" means no champion.
    no_model = dataclasses.replace(lifecycle.settings, model=ModelSettings(name="faults_no_such_model"))
    with pytest.raises(scoring.ScoringError, match="does not exist: train and promote a model first"):
        scoring.champion(no_model)


@pytest.mark.parametrize(
    ("rule", "left_behind"),
    [
        (Rule("PUT", "/model.ubj", answer="kill_before"), "a run killed while logging the model"),
        (Rule("POST", "/model-versions/create", answer="kill_after"), "a version whose creation was not answered"),
        (Rule("POST", "/registered-models/alias", b"challenger", "kill_before"), "a version without challenger"),
    ],
    ids=["while-logging", "version-created", "before-challenger"],
)
def test_a_register_killed_midway_is_completed_by_its_retry_without_a_second_version(lifecycle, rule, left_behind):
    proxy = lifecycle.proxy
    folder = lifecycle.folder("good", "train-1")
    proxy.add(rule)
    killed = lifecycle.step("register", str(folder), victim=True)
    assert killed.killed, killed.stderr[-3000:]
    proxy.reset()

    retried = lifecycle.register(folder)
    (version,) = lifecycle.versions()
    assert str(version.version) == retried and version.aliases == ["challenger"], left_behind
    assert version.tags[RUN_KEY_TAG] == "train-1"
    experiment = lifecycle.client.get_experiment_by_name(lifecycle.settings.model.name)
    runs = lifecycle.client.search_runs([experiment.experiment_id])
    finished = [r.info.run_id for r in runs if r.info.status == "FINISHED"]
    assert finished == [version.run_id], "one finished MLflow run, the version's"
    assert all(r.info.status == "FAILED" for r in runs if r.info.run_id != version.run_id), "no run left RUNNING"

    assert lifecycle.gate(folder)["promote"]
    assert lifecycle.champion() == str(version.version)
    _assert_every_version_decided_once_per_run(lifecycle)


@pytest.mark.parametrize(
    "rule",
    [
        Rule("POST", "/model-versions/set-tag", b"driftloop.champion_event", "kill_before"),
        Rule("POST", "/registered-models/alias", b'"champion"', "kill_before"),
        Rule("POST", "/registered-models/alias", b'"champion"', "kill_after"),
    ],
    ids=["decided-not-recorded", "recorded-alias-not-moved", "alias-moved-tags-not-written"],
)
def test_a_gate_killed_midway_is_completed_by_its_retry_and_rollback_restores_the_real_previous_champion(
    lifecycle, rule
):
    proxy = lifecycle.proxy
    name = lifecycle.settings.model.name
    weak = lifecycle.folder("weak", "train-1")
    lifecycle.register(weak)
    assert lifecycle.gate(weak, force=True)["promote"]
    good = lifecycle.folder("good", "train-2")
    lifecycle.register(good)

    proxy.add(rule)
    killed = lifecycle.step("gate", str(good), victim=True)
    assert killed.killed, killed.stderr[-3000:]
    proxy.reset()
    retried = lifecycle.gate(good)
    assert retried["promote"] and retried["previous_champion"] == "1"
    assert any("beats the champion" in reason for reason in retried["reasons"]), "compared with version 1"

    assert lifecycle.champion() == "2"
    promoted = lifecycle.client.get_model_version(name, "2")
    assert promoted.tags["previous_champion"] == "1" and promoted.tags["champion_since"]
    assert _rows(lifecycle) == [("1", "force_promote", "ended", None), ("2", "gate", "current", "1")]
    _assert_every_version_decided_once_per_run(lifecycle)

    again = lifecycle.gate(good)
    assert again["promote"] and again["previous_champion"] == "1", "a late retry changes nothing"
    assert len(_rows(lifecycle)) == 2
    assert model_registry.rollback(lifecycle.settings.mlflow_tracking_uri, name, "ops", "bad", "r1") == ("2", "1")
    assert lifecycle.champion() == "1"


def test_a_rollback_killed_midway_completes_one_step_and_rollbacks_walk_back_to_the_first_champion(lifecycle, capsys):
    from driftloop.cli import main

    proxy = lifecycle.proxy
    uri, name = lifecycle.settings.mlflow_tracking_uri, lifecycle.settings.model.name
    for index, (kind, force) in enumerate((("weak", True), ("good", False), ("good", True)), start=1):
        folder = lifecycle.folder(kind, f"train-{index}")
        lifecycle.register(folder)
        assert lifecycle.gate(folder, force=force)["promote"]
    assert lifecycle.champion() == "3"

    proxy.add(Rule("POST", "/registered-models/alias", b'"champion"', "kill_before"))
    killed = lifecycle.step("rollback", "alice", "bad scores in region east", "rollback/run-1", victim=True)
    assert killed.killed, killed.stderr[-3000:]
    proxy.reset()
    assert lifecycle.champion() == "3" and _rows(lifecycle)[-1] == ("2", "rollback", "pending", "3")
    assert model_registry.rollback(uri, name, "alice", "bad scores in region east", "rollback/run-1") == ("3", "2")

    assert model_registry.rollback(uri, name, "bob", "still bad", "rollback/run-2") == ("2", "1")
    with pytest.raises(ValueError, match="version 1 .* is its first champion"):
        model_registry.rollback(uri, name, "bob", "once more", "rollback/run-3")
    assert lifecycle.champion() == "1"
    assert _rows(lifecycle) == [
        ("1", "force_promote", "ended", None),
        ("2", "gate", "ended", "1"),
        ("3", "force_promote", "ended", "2"),
        ("2", "rollback", "ended", "3"),
        ("1", "rollback", "current", "2"),
    ]
    _assert_every_version_decided_once_per_run(lifecycle)

    capsys.readouterr()
    assert main(["champion-history", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["champion"] == "1" and [row["actor"] for row in printed["history"]][-2:] == ["alice", "bob"]
    assert printed["history"][0]["until"] == printed["history"][1]["since"]
