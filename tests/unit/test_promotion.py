"""The champion gate, table-tested: a worse challenger is never promoted."""

from __future__ import annotations

import pytest

from driftloop.model.promotion import decide_promotion


def _auc(overall, **slices):
    return {"overall": {"roc_auc": overall}, "slices": {k.replace("_", "="): {"roc_auc": v} for k, v in slices.items()}}


BASELINE = _auc(0.60)


@pytest.mark.parametrize(
    ("case", "challenger", "champion", "force", "promote", "reason"),
    [
        ("first model beats the baseline", _auc(0.70), None, False, True, "there is no champion yet"),
        ("first model worse than the baseline", _auc(0.55), None, False, False, "does not beat the baseline"),
        (
            "clearly better than the champion",
            _auc(0.80, plan_basic=0.79),
            _auc(0.70, plan_basic=0.75),
            False,
            True,
            "beats the champion on roc_auc by 0.1000",
        ),
        ("worse than the champion", _auc(0.65), _auc(0.70), False, False, "does not beat the champion"),
        ("better, but within the margin", _auc(0.705), _auc(0.70), False, False, "by the margin 0.01"),
        (
            "better overall, worse on one slice",
            _auc(0.80, plan_basic=0.60),
            _auc(0.70, plan_basic=0.75),
            False,
            False,
            "worse than the champion on slice plan=basic",
        ),
        ("worse, but forced", _auc(0.65), _auc(0.70), True, True, "promoted anyway: force_promote was set"),
    ],
)
def test_the_gate(case, challenger, champion, force, promote, reason):
    decision = decide_promotion(challenger, champion, BASELINE, "classification", 0.01, 0.02, force=force)
    assert decision.promote is promote, case
    assert any(reason in line for line in decision.reasons), decision.reasons


def test_for_regression_lower_rmse_is_better():
    challenger = {"overall": {"rmse": 4.0}, "slices": {}}
    champion = {"overall": {"rmse": 5.0}, "slices": {}}
    baseline = {"overall": {"rmse": 6.0}, "slices": {}}
    assert decide_promotion(challenger, champion, baseline, "regression", 0.1, 0.1).promote
    assert not decide_promotion(champion, challenger, baseline, "regression", 0.1, 0.1).promote


def test_for_rmse_the_margin_is_relative_to_the_champion_so_it_means_the_same_at_any_scale():
    for scale in (1.0, 100.0):
        champion = {"overall": {"rmse": 5.0 * scale}, "slices": {"origin=JFK": {"rmse": 5.0 * scale}}}
        baseline = {"overall": {"rmse": 9.0 * scale}, "slices": {}}
        better = {"overall": {"rmse": 4.6 * scale}, "slices": {"origin=JFK": {"rmse": 5.2 * scale}}}
        # 8 % better overall, 4 % worse on the slice: passes a 5 % margin and a 5 % slice tolerance at any scale.
        decision = decide_promotion(better, champion, baseline, "regression", 0.05, 0.05)
        assert decision.promote, decision.reasons
        assert "of the champion's value" in decision.reasons[1]
        assert not decide_promotion(better, champion, baseline, "regression", 0.10, 0.05).promote
        assert not decide_promotion(better, champion, baseline, "regression", 0.05, 0.03).promote


def test_the_gate_says_first_which_labels_it_compared_on():
    import pandas as pd

    from driftloop.model.training_run import test_labels_described
    from driftloop.usecase.spec import ENTITY_TIMESTAMP

    test = pd.DataFrame(
        {
            ENTITY_TIMESTAMP: pd.to_datetime(
                ["2026-05-13 23:59:59", "2026-05-14 23:59:59", "2026-05-14 23:59:59"], utc=True
            )
        }
    )
    compared_on = test_labels_described(test, {"start": "2026-05-10", "end": "2026-05-14"})
    assert compared_on == (
        "compared on the newest matured labels: the test split, as-of days 2026-05-13..2026-05-14 (2 day(s), 3 rows) "
        "of the training window 2026-05-10..2026-05-14"
    )
    decision = decide_promotion(_auc(0.80), _auc(0.60), BASELINE, "classification", 0.01, 0.05, compared_on=compared_on)
    assert decision.promote and decision.reasons[0] == compared_on
    assert decision.reasons[2].startswith("beats the champion on roc_auc by 0.2000")
