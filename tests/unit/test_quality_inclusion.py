"""Parity of the primary metric across sensitive slices, and the gate's optional bound on it."""

from __future__ import annotations

import pytest

from driftloop.quality.inclusion import gap_reasons, inclusion_section, parity_gaps

EVALUATION = {
    "overall": {"roc_auc": 0.75, "rmse": 4.0},
    "slices": {
        "region=north": {"roc_auc": 0.80, "rmse": 3.0},
        "region=south": {"roc_auc": 0.70, "rmse": 5.0},
        "plan=basic": {"roc_auc": 0.50, "rmse": 9.0},
    },
}


def test_the_parity_gap_is_the_spread_of_the_metric_across_a_sensitive_slice():
    gaps = parity_gaps(EVALUATION, ("region",), "roc_auc")
    assert gaps == {"region": {"values": {"north": 0.80, "south": 0.70}, "gap": pytest.approx(0.10), "relative": False}}
    assert parity_gaps(EVALUATION, ("region",), "rmse")["region"]["gap"] == pytest.approx(0.5), "relative to 4.0"
    assert parity_gaps({"overall": {"roc_auc": 0.7}, "slices": {}}, ("region",), "roc_auc")["region"]["gap"] is None
    assert "| region | north: 0.8000, south: 0.7000 | 0.1000 |" in inclusion_section(gaps, "roc_auc")


def test_the_gate_refuses_a_gap_beyond_the_bound():
    gaps = parity_gaps(EVALUATION, ("region",), "roc_auc")
    passed, reasons = gap_reasons(gaps, bound=0.05)
    assert not passed and reasons == ["parity gap on sensitive slice region is 0.1000, beyond 0.05"]
    assert gap_reasons(gaps, bound=0.2)[0]
    passed, reasons = gap_reasons(gaps, bound=0.0)
    assert passed and "not bounded" in reasons[0]
