"""MLflow: a run logs its lineage, every version starts as challenger, the gate moves champion and records it in the
champion history, rollback walks that history back; a store that cannot answer is an error, never "no champion"."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from mlflow.models import infer_signature

from driftloop.model import model_registry as registry
from driftloop.model.evaluation import baseline_predictions, evaluate
from driftloop.model.promotion import PromotionDecision, decide_promotion
from driftloop.model.training import predict, time_split, train_model

FEATURES = ["sessions_30d", "payment_failures_30d", "plan"]
NAME = "churn_test"


def _frame(n=1500, seed=0):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "event_timestamp": pd.Timestamp("2026-01-01", tz="UTC") + pd.to_timedelta(rng.integers(0, 40, n), unit="D"),
            "sessions_30d": rng.poisson(20, n),
            "payment_failures_30d": rng.poisson(0.4, n),
            "plan": rng.choice(["basic", "standard", "premium"], n),
        }
    )
    # A non-linear signal (a usage threshold, failures that matter on one plan) that trees catch and a linear
    # baseline does not.
    basic_with_failures = (frame["payment_failures_30d"] > 0) & (frame["plan"] == "basic")
    logit = -2.5 + 3.0 * (frame["sessions_30d"] < 16) + 2.5 * basic_with_failures
    frame["churned"] = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return frame


@pytest.fixture
def tracking(tmp_path):
    return f"sqlite:///{tmp_path / 'mlflow.db'}"


def _train_and_log(tracking, tmp_path, frame, tag_run, run_key=None):
    split = time_split(frame, "event_timestamp")
    model = train_model(split, "classification", FEATURES, {"num_boost_round": 40, "max_depth": 3}, seed=0)
    scores = predict(model, split.test)
    slices = split.test[["plan"]]
    evaluation = evaluate("classification", split.test["churned"], scores, slices)
    numeric = ["sessions_30d", "payment_failures_30d"]
    baseline = evaluate(
        "classification",
        split.test["churned"],
        baseline_predictions("classification", split.train, split.test, numeric, "churned"),
        slices,
    )
    snapshot = tmp_path / f"{tag_run}.parquet"
    frame.to_parquet(snapshot)
    tags = {"dag_id": "train", "run_id": tag_run, "feature_service": "customer_churn_v1", "snapshot_sha256": "ab" * 32}
    logged = registry.log_and_register(
        tracking,
        str(tmp_path / "artifacts"),
        NAME,
        model,
        split.test,
        evaluation,
        baseline,
        snapshot,
        "ab" * 32,
        tags,
        run_key=run_key,
    )
    return model, split, evaluation, baseline, logged


def test_a_run_is_logged_with_lineage_and_registered_as_challenger(tracking, tmp_path):
    model, split, _, _, logged = _train_and_log(tracking, tmp_path, _frame(), "run-1")
    client = registry.client(tracking)
    version = client.get_model_version(NAME, logged.version)
    assert version.aliases == ["challenger"]
    assert version.tags["feature_service"] == "customer_churn_v1" and version.tags["run_id"] == "run-1"
    run = client.get_run(logged.run_id)
    assert run.data.tags["device"] == "cpu" and "test_roc_auc" in run.data.metrics
    assert run.inputs.dataset_inputs[0].dataset.name == "training_set"
    artifacts = {a.path for a in client.list_artifacts(logged.run_id, "evaluation")}
    assert {
        "evaluation/calibration.png",
        "evaluation/roc_pr.png",
        "evaluation/feature_importance.png",
        "evaluation/model_card.md",
    } <= artifacts
    reloaded = registry.predict_with_version(tracking, NAME, logged.version, split.test, FEATURES)
    np.testing.assert_allclose(reloaded, predict(model, split.test), rtol=1e-6)


def _gate(tracking, version, decision, kind="gate"):
    return registry.gate_version(tracking, NAME, version, lambda champion: decision, kind)


def test_the_gate_moves_champion_and_a_worse_challenger_stays_registered_but_unpromoted(tracking, tmp_path):
    frame = _frame()
    _, _, first_eval, baseline, first = _train_and_log(tracking, tmp_path, frame, "run-1")
    outcome = registry.gate_version(
        tracking,
        NAME,
        first.version,
        lambda champion: decide_promotion(first_eval, champion, baseline, "classification", 0.005, 0.05),
    )
    assert outcome.decision.promote and outcome.previous is None and outcome.compared_with is None
    assert str(registry.version_by_alias(tracking, NAME, "champion").version) == first.version

    shuffled = frame.assign(churned=np.random.default_rng(1).permutation(frame["churned"].to_numpy()))
    _, split, worse_eval, _, worse = _train_and_log(tracking, tmp_path, shuffled, "run-2")

    def against_the_champion(champion):
        scores = registry.predict_with_version(tracking, NAME, champion, split.test, FEATURES)
        champion_eval = evaluate("classification", split.test["churned"], scores, split.test[["plan"]])
        return decide_promotion(worse_eval, champion_eval, baseline, "classification", 0.005, 0.05)

    outcome = registry.gate_version(tracking, NAME, worse.version, against_the_champion)
    assert not outcome.decision.promote and outcome.compared_with == first.version
    version = registry.client(tracking).get_model_version(NAME, worse.version)
    assert version.tags["promotion_decision"] == "rejected" and "champion" in version.tags["promotion_reasons"]
    assert str(registry.version_by_alias(tracking, NAME, "champion").version) == first.version
    assert str(registry.version_by_alias(tracking, NAME, "challenger").version) == worse.version

    def must_not_be_asked(champion):
        raise AssertionError("a recorded decision against the same champion is reused")

    again = registry.gate_version(tracking, NAME, worse.version, must_not_be_asked)
    assert again.decision == outcome.decision


def test_rollback_walks_the_champion_history_back_and_never_past_the_first_champion(tracking, tmp_path):
    frame = _frame()
    _, _, evaluation, baseline, first = _train_and_log(tracking, tmp_path, frame, "run-1")
    forced = decide_promotion(evaluation, None, baseline, "classification", 0.0, 1.0, force=True)
    _gate(tracking, first.version, forced, "force_promote")
    second = _train_and_log(tracking, tmp_path, frame, "run-2")[-1]
    assert _gate(tracking, second.version, forced).previous == first.version
    third = _train_and_log(tracking, tmp_path, frame, "run-3")[-1]
    assert _gate(tracking, third.version, forced).previous == second.version

    moved = registry.rollback(tracking, NAME, actor="alice", reason="bad scores in region east", request="r1")
    assert moved == (third.version, second.version)
    assert registry.rollback(tracking, NAME, actor="alice", reason="retried", request="r1") == moved, "no 2nd step"
    assert registry.rollback(tracking, NAME, actor="bob", reason="still bad", request="r2") == (
        second.version,
        first.version,
    )
    assert str(registry.version_by_alias(tracking, NAME, "champion").version) == first.version
    audit = registry.client(tracking).get_model_version(NAME, third.version).tags["rolled_back"]
    assert "alice" in audit and "bad scores in region east" in audit
    with pytest.raises(ValueError, match="is its first champion"):
        registry.rollback(tracking, NAME, actor="alice", reason="again", request="r3")

    history = registry.read_history(tracking, NAME)
    rows = [(t.version, t.kind, t.state, t.previous) for t in history.tenures()]
    assert rows == [
        (first.version, "force_promote", "ended", None),
        (second.version, "gate", "ended", first.version),
        (third.version, "gate", "ended", second.version),
        (second.version, "rollback", "ended", third.version),
        (first.version, "rollback", "current", second.version),
    ]
    assert history.tenures()[3].actor == "alice" and history.tenures()[4].reason == "still bad"
    assert all(t.until for t in history.tenures()[:4]) and history.tenures()[-1].until is None

    # A new promotion after the rollbacks replaces the restored champion; rolling it back restores that one.
    fourth = _train_and_log(tracking, tmp_path, frame, "run-4")[-1]
    assert _gate(tracking, fourth.version, forced).previous == first.version
    assert registry.rollback(tracking, NAME, actor="carol", reason="why not", request="r4") == (
        fourth.version,
        first.version,
    )


def test_registering_again_with_the_same_run_key_returns_the_same_version(tracking, tmp_path):
    frame = _frame()
    *_, first = _train_and_log(tracking, tmp_path, frame, "run-1", run_key="train-run-1")
    mlflow_client = registry.client(tracking)
    mlflow_client.delete_registered_model_alias(NAME, "challenger")
    *_, again = _train_and_log(tracking, tmp_path, frame, "run-1", run_key="train-run-1")
    assert again == first
    versions = mlflow_client.search_model_versions(f"name = '{NAME}'")
    assert [str(v.version) for v in versions] == [first.version]
    assert mlflow_client.get_model_version(NAME, first.version).aliases == ["challenger"]
    assert mlflow_client.get_model_version(NAME, first.version).tags[registry.RUN_KEY_TAG] == "train-run-1"
    *_, other = _train_and_log(tracking, tmp_path, frame, "run-2", run_key="train-run-2")
    assert other.version != first.version and other.run_id != first.run_id


def test_a_missing_model_or_alias_is_none_but_a_store_that_cannot_answer_is_an_error(tracking, monkeypatch):
    from driftloop.settings import get_settings

    assert registry.version_by_alias(tracking, "no_such_model", "champion") is None
    registry.client(tracking).create_registered_model(NAME)
    assert registry.version_by_alias(tracking, NAME, "champion") is None

    from native_stack import free_port

    monkeypatch.setenv("DRIFTLOOP_MLFLOW_HTTP_MAX_RETRIES", "0")
    get_settings.cache_clear()
    closed = f"http://someone:s3cret@127.0.0.1:{free_port()}"
    try:
        with pytest.raises(registry.RegistryUnavailable, match=r"http://\*\*\*@127\.0\.0\.1") as raised:
            registry.version_by_alias(closed, NAME, "champion")
        assert "s3cret" not in str(raised.value) and "read the champion" in str(raised.value)
        with pytest.raises(registry.RegistryUnavailable):
            registry.gate_version(closed, NAME, "1", lambda champion: PromotionDecision(True, ["never"]))
    finally:
        get_settings.cache_clear()


def test_the_column_schema_equals_mlflow_s_inference_with_missing_values_and_categories():
    frame = pd.DataFrame(
        {
            "sessions_30d": np.array([3, 5, 8], dtype="int64"),
            "minutes_7d": [1.5, None, 2.0],
            "region": ["north", None, "south"],
            "plan": pd.Categorical(["basic", None, "premium"]),
            "event_timestamp": pd.to_datetime(["2026-01-01", None, "2026-01-03"], utc=True),
            "active": [True, False, True],
        }
    )
    schema = registry.column_schema(frame)
    assert schema == infer_signature(frame).inputs
    assert [c.required for c in schema.inputs] == [True, False, False, False, False, True]


def test_a_champion_promoted_before_the_champion_history_can_still_be_rolled_back(tracking, tmp_path):
    mlflow_client = registry.client(tracking)
    mlflow_client.create_registered_model(NAME)
    for version, tags in (
        ("1", {"champion_since": "2026-01-01T00:00:00+00:00"}),
        ("2", {"champion_since": "2026-02-01T00:00:00+00:00", "previous_champion": "1"}),
    ):
        (tmp_path / version).mkdir()
        mlflow_client.create_model_version(NAME, str(tmp_path / version), tags=tags)
    mlflow_client.set_registered_model_alias(NAME, "champion", "2")
    history = registry.read_history(tracking, NAME)
    rows = [(t.version, t.state, t.previous) for t in history.tenures()]
    assert rows == [("1", "ended", None), ("2", "current", "1")]
    assert registry.rollback(tracking, NAME, actor="alice", reason="legacy", request="r1") == ("2", "1")


def test_a_recorded_promotion_overtaken_by_another_move_is_not_completed_later(tracking, tmp_path):
    from driftloop.model.champion_history import ChampionEvent

    mlflow_client = registry.client(tracking)
    mlflow_client.create_registered_model(NAME)
    for version in ("1", "2", "3"):
        (tmp_path / version).mkdir()
        mlflow_client.create_model_version(NAME, str(tmp_path / version), tags={"run_id": f"run-{version}"})
    promote = PromotionDecision(True, ["better"])
    assert _gate(tracking, "1", promote).previous is None
    assert _gate(tracking, "2", promote).previous == "1"
    # Version 3's gate died after recording its decision and its move, before moving the alias.
    mlflow_client.set_model_version_tag(
        NAME, "3", registry.DECISION_TAG, '{"promote": true, "reasons": ["better"], "compared_with": "2"}'
    )
    event = ChampionEvent(3, "3", "2", "gate", "train run run-3", "better", "2026-03-01T00:00:00.000Z", "")
    mlflow_client.set_model_version_tag(NAME, "3", event.tag_key, event.tag_value())
    assert registry.read_history(tracking, NAME).pending == event

    # Meanwhile someone rolls back: the rollback walks the moves that happened, not version 3's.
    assert registry.rollback(tracking, NAME, actor="ops", reason="bad", request="r1") == ("2", "1")
    states = [(t.version, t.state) for t in registry.read_history(tracking, NAME).tenures()]
    assert states == [("1", "ended"), ("2", "ended"), ("3", "never took effect"), ("1", "current")]
    with pytest.raises(registry.PromotionInterrupted, match="never took effect"):
        _gate(tracking, "3", promote)
    assert str(registry.version_by_alias(tracking, NAME, "champion").version) == "1"


def test_the_model_card_shows_the_use_case_the_airflow_run_and_the_gate_with_a_warning_for_a_forced_worse_version(
    tracking, tmp_path
):
    _, _, evaluation, baseline, logged = _train_and_log(tracking, tmp_path, _frame(), "manual__2026-02-01")
    unbeaten = {**baseline, "overall": {**baseline["overall"], "roc_auc": 0.999}}
    forced = decide_promotion(evaluation, None, unbeaten, "classification", 0.005, 0.05, force=True)
    assert forced.reasons[0].startswith("does not beat the baseline")
    _gate(tracking, logged.version, forced, "force_promote")
    _gate(tracking, logged.version, forced, "force_promote")  # a retry rewrites the section, it does not add one

    client = registry.client(tracking)
    model = client.get_registered_model(NAME)
    assert model.description.startswith("# Churn of a subscription video service\n\nEvery day the service delivers")
    version = client.get_model_version(NAME, logged.version)
    baseline_reason = forced.reasons[0].split(": ", 1)[1]
    warning = f"forced to champion although it is worse than the baseline ({baseline_reason})"
    assert version.tags["promotion_warning"] == warning
    card, section = version.description.split(registry.GATE_SECTION)
    assert card.startswith("# Model card:") and version.description.count(registry.GATE_SECTION) == 1
    assert section.splitlines()[:3] == [f"> **Warning:** {warning}", "", "Decision: **promoted** to champion."]
    assert f"- {forced.reasons[0]}" in section and "- promoted anyway: force_promote was set" in section


def test_the_model_card_links_to_the_airflow_run_that_trained_it(tracking, tmp_path):
    url = registry.airflow_run_url("http://airflow.example:8080/", "train", "manual__2026-02-01T00:00:00+00:00")
    assert url == "http://airflow.example:8080/dags/train/runs/manual__2026-02-01T00%3A00%3A00%2B00%3A00"
    tags = {"dag_id": "train", "run_id": "manual__2026-02-01", "airflow_run_url": url}
    assert registry._airflow_link(tags) == f"[`train` run `manual__2026-02-01`]({url})"


def test_the_registered_input_example_validates_against_the_signature_and_serves(tracking, tmp_path, caplog):
    import logging
    import warnings

    import mlflow
    from mlflow.models import Model, convert_input_example_to_serving_input, validate_serving_input
    from mlflow.models.utils import _enforce_schema

    with caplog.at_level(logging.WARNING, logger="mlflow"), warnings.catch_warnings(record=True) as raised:
        warnings.simplefilter("always")
        model, split, _, _, logged = _train_and_log(tracking, tmp_path, _frame(), "run-example")
    said = [r.getMessage() for r in caplog.records] + [str(w.message) for w in raised]
    assert not [m for m in said if "input example" in m or "CloudPickle" in m or "type hints" in m], said
    mlflow.set_tracking_uri(tracking)
    uri = f"models:/{NAME}/{logged.version}"
    info = Model.load(uri)
    example = info.load_input_example(mlflow.artifacts.download_artifacts(uri))
    signature = info.get_input_schema()
    types = {c.name: c.type.name for c in signature.inputs}
    assert types["plan"] == "string" and types["sessions_30d"] == "double", types
    enforced = _enforce_schema(example, signature)
    assert list(enforced.columns) == FEATURES and len(enforced) == 3
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        served = validate_serving_input(uri, convert_input_example_to_serving_input(example))
    expected = predict(model, split.test.head(3))
    np.testing.assert_allclose(np.asarray(served, dtype=float), expected, rtol=1e-6)
