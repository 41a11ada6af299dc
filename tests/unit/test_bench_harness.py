"""The benchmark harness's arithmetic: repetitions, ratios, targets and growth exponents (no timing asserted)."""

from __future__ import annotations

import pandas as pd
import pytest

from bench import report, training_scale
from bench.__main__ import growth, repetitions, training_growth
from bench.harness import Measurement, StageResult, measure, table


def test_measure_runs_setup_and_function_once_per_repetition_and_keeps_the_last_result():
    calls = []
    result = measure(lambda: calls.append("run") or len(calls), repeat=3, setup=lambda: calls.append("setup"))
    assert calls == ["setup", "run"] * 3 and result.result == 6 and len(result.seconds) == 3
    assert result.peak_mb >= 0
    warmed = []
    assert measure(lambda: warmed.append("run") or len(warmed), repeat=2, warmup=True).seconds.__len__() == 2
    assert warmed == ["run"] * 3


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


def test_the_readme_table_has_a_row_per_stage_and_scale_and_the_exponent_on_the_largest_scale():
    small, large = _stage(1.0, 1.0, target=1.0), _stage(100.0, 10.0, target=1.0)
    payload = {
        "scale": 1000,
        "by_scale": {"10": {"stage": small.to_json()}, "1000": {"stage": large.to_json()}},
        "growth": growth({10: [small], 1000: [large]}),
    }
    lines = report.markdown(payload).splitlines()
    assert len(lines) == 4 and lines[2].startswith("| stage | 10 |") and lines[3].startswith("| stage | 1,000 |")
    assert lines[2].endswith("| - |") and lines[3].endswith("| 1.000 |") and "| NO |" in lines[3]


def test_large_scales_are_measured_once_unless_bench_repeat_says_otherwise(monkeypatch):
    monkeypatch.delenv("BENCH_REPEAT", raising=False)
    assert (repetitions(1_600_000), repetitions(16_000_000)) == (3, 1)
    monkeypatch.setenv("BENCH_REPEAT", "2")
    assert repetitions(16_000_000) == 2


def test_measure_records_cpu_seconds_and_the_json_carries_them():
    result = measure(lambda: sum(i * i for i in range(20_000)), repeat=2)
    assert len(result.cpu_seconds) == 2 and all(s >= 0 for s in result.cpu_seconds)
    stage = StageResult("stage", result, result, target=1.0, rows=1)
    assert stage.to_json()["ours_cpu_s"] == round(result.median_cpu_s, 4)


def test_training_growth_is_the_log_slope_over_the_training_sizes():
    small = StageResult("training_at_1M", Measurement([2.0], 1.0), Measurement([2.0], 1.0), target=1.2, rows=10**6)
    large = StageResult("training_at_10M", Measurement([20.0], 1.0), Measurement([10.0], 1.0), target=1.2, rows=10**7)
    entry = training_growth([large, small])
    assert entry["exponent"] == pytest.approx(1.0) and entry["rows"] == [10**6, 10**7] and entry["ratios"] == [1, 2]
    assert training_growth([small]) == {}


def test_the_training_stage_at_scale_trains_both_sides_alike_on_the_synthetic_label_rows(tmp_path):
    path = training_scale.generate(3_000, training_scale.data_path(3_000, tmp_path))
    assert training_scale.generate(3_000, path) == path  # reused, not rewritten
    frame = pd.read_parquet(path)
    assert len(frame) == 3_000 and len([c for c in frame if c.startswith("f")]) == training_scale.FEATURES >= 25
    assert set(frame["churned"].unique()) == {0, 1} and frame["event_timestamp"].nunique() == training_scale.DAYS
    ours = training_scale.run_side(path, "ours", "cpu", rounds=5)
    floor = training_scale.run_side(path, "floor", "cpu", rounds=5)
    for side, run in (("ours", ours), ("floor", floor)):
        assert run["side"] == side and run["device"] == "cpu" and run["rounds"] == 5
        assert run["rows"] == 3_000 and 0 < run["train_rows"] < 3_000 and run["peak_rss_mb"] > 0
    assert ours["train_rows"] == floor["train_rows"]


def test_a_child_s_peak_memory_is_its_own_not_that_of_the_big_process_it_was_forked_from():
    import subprocess
    import sys

    import numpy as np

    parent = np.ones(80_000_000)  # 640 MB resident in this process
    code = "from bench.training_scale import peak_rss_mb; print(peak_rss_mb())"
    child = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert float(child.stdout.strip()) < parent.nbytes / 2**20 - 200
