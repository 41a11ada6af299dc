"""Optional tuning: a seeded random search on the validation split whose best parameters the run trains with."""

from __future__ import annotations

import json

from test_quality_features import (
    label_events,
    run_folder,
    settings,  # noqa: F401  (the fixture)
)

from driftloop.model.training import Split
from driftloop.quality.tuning import SEARCH_SPACE, tune


def test_tuning_records_every_trial_and_returns_the_best_on_validation():
    frame = label_events()
    days = frame["event_timestamp"].dt.day_of_year
    split = Split(frame[days < 90], frame[(days >= 90) & (days < 100)], frame[days >= 100])
    columns = ["sessions_30d", "payment_failures_30d", "tenure_days"]
    record = tune(split, "classification", columns, {"num_boost_round": 30}, trials=4, seed=5, device="cpu")
    assert record["metric"] == "roc_auc" and record["search_space"] == SEARCH_SPACE
    assert [t["trial"] for t in record["trials"]] == [0, 1, 2, 3]
    assert record["trials"][0]["params"] == {"num_boost_round": 30}, "trial 0 is the untuned parameters"
    assert all(set(SEARCH_SPACE) <= set(t["params"]) for t in record["trials"][1:])
    assert record["best"] == max(record["trials"], key=lambda t: t["validation"])
    again = tune(split, "classification", columns, {"num_boost_round": 30}, trials=4, seed=5, device="cpu")
    assert again == record, "seeded"


def test_the_train_step_with_tune_trains_with_the_best_parameters(settings, tmp_path):  # noqa: F811
    from driftloop.model.training_run import step_split, step_train

    folder = run_folder(tmp_path, label_events())
    step_split(folder)
    step_train(folder, {"num_boost_round": 30}, settings, tune=True)
    searched = json.loads((folder / "tuning.json").read_text())
    trained = json.loads((folder / "model.json").read_text())
    assert len(searched["trials"]) == 3, "DRIFTLOOP_TUNE_TRIALS"
    assert {k: trained["params"][k] for k in searched["best"]["params"]} == searched["best"]["params"]
    step_train(folder, {"num_boost_round": 30}, settings)
    assert not (folder / "tuning.json").exists(), "a rerun without tune leaves no stale search behind"
