"""The benchmark harness's arithmetic: repetitions, ratios, targets and growth exponents (no timing asserted)."""

from __future__ import annotations

import pytest

from bench.__main__ import growth
from bench.harness import Measurement, StageResult, measure, table


def test_measure_runs_setup_and_function_once_per_repetition_and_keeps_the_last_result():
    calls = []
    result = measure(lambda: calls.append("run") or len(calls), repeat=3, setup=lambda: calls.append("setup"))
    assert calls == ["setup", "run"] * 3 and result.result == 6 and len(result.seconds) == 3
    assert result.peak_mb >= 0


def _stage(ours: float, floor: float, **kwargs) -> StageResult:
    return StageResult(
        "stage", Measurement([ours, ours * 3, ours], 10.0), Measurement([floor], 1.0), rows=1000, **kwargs
    )


def test_ratio_uses_medians_and_targets_can_be_ratios_or_throughput_and_memory():
    assert _stage(2.0, 1.0, target=2.0).ratio == 2.0 and _stage(2.0, 1.0, target=2.0).meets_target
    assert not _stage(2.1, 1.0, target=2.0).meets_target
    fast = _stage(0.01, 1.0, target=None, min_rows_per_s=50_000, max_peak_mb=20)
    assert fast.meets_target and fast.to_json()["target_rows_per_s"] == 50_000
    assert not _stage(0.01, 1.0, target=None, min_rows_per_s=50_000, max_peak_mb=5).meets_target
    assert not _stage(1.0, 1.0, target=None, min_rows_per_s=50_000).meets_target
    assert "NO" in table([_stage(3.0, 1.0, target=2.0)], 1000, 900)


def test_growth_exponent_is_the_log_slope_of_ours_between_the_extreme_scales():
    per_scale = {10: [_stage(1.0, 1.0, target=1.0)], 1000: [_stage(100.0, 10.0, target=1.0)]}
    entry = growth(per_scale)["stage"]
    assert entry["exponent"] == pytest.approx(1.0) and entry["ratios"] == [1.0, 10.0]
