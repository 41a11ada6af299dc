"""Replay policies: when each retrains, on which labels, and that no retraining sees a label before it matured."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import pytest

from driftloop.replay.engine import LabelLeak, Replayer
from driftloop.replay.history import MATURED_ON, History
from driftloop.replay.policies import (
    Policy,
    PolicyState,
    decide,
    parse_policies,
    parse_policy,
    retrained,
    training_window,
)

D0 = date(2026, 3, 1)
HORIZON = 7


def _days(n, start=D0):
    return [start + timedelta(days=i) for i in range(n)]


def _play(policy: Policy, verdicts: dict[date, str], days: int = 30, cooldown: int = 1) -> list[tuple[date, str]]:
    """The days ``policy`` retrains on over ``days`` days with the given verdicts (no_drift elsewhere)."""
    state = PolicyState(last_retrained=D0 - timedelta(days=1))
    fired = []
    for day in _days(days):
        decision = decide(policy, day, verdicts.get(day, "no_drift"), state, HORIZON, cooldown)
        if decision:
            fired.append((day, decision.since))
            retrained(state, day)
    return fired


def test_policies_parse_with_their_settings_and_refuse_the_rest():
    assert [p.name for p in parse_policies("never,every:7,drift,quality,drift:3")] == [
        "never",
        "every:7",
        "drift:7",
        "quality",
        "drift:3",
    ]
    for bad in ("sometimes", "every", "every:0", "every:x", "quality:2", "never:1"):
        with pytest.raises(ValueError, match="policy"):
            parse_policy(bad)
    with pytest.raises(ValueError, match="twice"):
        parse_policies("drift,drift:7")


def test_never_does_not_retrain_whatever_the_verdicts():
    assert _play(parse_policy("never"), {d: "quality_drop" for d in _days(30)}) == []


def test_every_k_retrains_every_k_days_from_the_first_model():
    fired = [day for day, _ in _play(parse_policy("every:7"), {})]
    assert fired == [D0 + timedelta(days=6), D0 + timedelta(days=13), D0 + timedelta(days=20), D0 + timedelta(days=27)]
    assert len(_play(parse_policy("every:1"), {}, days=10)) == 10


def test_drift_waits_until_n_days_of_post_drift_labels_matured_and_trains_on_them():
    drift_day = D0 + timedelta(days=2)
    fired = _play(parse_policy("drift:5"), {drift_day: "drift", drift_day + timedelta(days=1): "drift"})
    # Labels of the drift day mature HORIZON days later; the fifth post-drift label day matures 4 days after that.
    assert fired == [(drift_day + timedelta(days=HORIZON + 4), drift_day)]


def test_drift_policy_retrains_at_once_on_a_quality_drop_and_quality_policy_ignores_data_drift():
    day = D0 + timedelta(days=3)
    assert _play(parse_policy("drift"), {day: "quality_drop"}) == [(day, None)]
    assert _play(parse_policy("quality"), {day: "quality_drop"}) == [(day, None)]
    assert _play(parse_policy("quality"), {d: "drift" for d in _days(30)}) == []


def test_cooldown_holds_back_a_second_retraining():
    days = {d: "quality_drop" for d in _days(10)}
    fired = [day for day, _ in _play(parse_policy("quality"), days, days=10, cooldown=3)]
    assert fired == [D0 + timedelta(days=2), D0 + timedelta(days=5), D0 + timedelta(days=8)]


def test_training_window_ends_at_the_newest_matured_label_and_starts_at_the_drift():
    day = D0 + timedelta(days=40)
    assert training_window(day, HORIZON, 28, D0) == (day - timedelta(days=HORIZON + 27), day - timedelta(days=HORIZON))
    since = day - timedelta(days=12)
    assert training_window(day, HORIZON, 28, D0, since) == (since, day - timedelta(days=HORIZON))
    assert training_window(D0 + timedelta(days=20), HORIZON, 28, D0 + timedelta(days=5))[0] == D0 + timedelta(days=5)
    with pytest.raises(ValueError, match="no matured labels"):
        training_window(D0 + timedelta(days=3), HORIZON, 28, D0)


def _labelled_history(as_of_days: list[date]) -> History:
    labelled = pd.DataFrame({"as_of_day": as_of_days, MATURED_ON: [d + timedelta(days=HORIZON) for d in as_of_days]})
    return History(
        spec=None,
        settings=None,
        request=None,
        params={},
        features={},
        labelled=labelled,
        quarantined=[],
        model_inputs=[],
        reused=False,
    )


def test_a_training_window_with_labels_not_yet_matured_is_refused_before_training():
    history = _labelled_history(_days(30))
    day = D0 + timedelta(days=20)
    with pytest.raises(LabelLeak, match="matured later"):
        # The window's last as-of day is 6 days before the retraining: its labels mature a day later.
        Replayer(history).train(day, D0, day - timedelta(days=HORIZON - 1))
