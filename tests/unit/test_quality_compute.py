"""Stage durations and peak memory are recorded per run, and a stage slower than its recent median is flagged."""

from __future__ import annotations

import json

import pytest

from driftloop.quality.compute import compute_regressions, measured, read_compute


def test_a_stage_slower_than_its_recent_median_by_the_factor_is_flagged():
    history = [{"train": {"seconds": s}, "split": {"seconds": 1.0}} for s in (10.0, 12.0, 30.0)]
    current = {"train": {"seconds": 18.5}, "split": {"seconds": 1.4}, "evaluate": {"seconds": 99.0}}
    flagged = compute_regressions(current, history, factor=1.5)
    assert flagged == ["train took 18.50s, more than 1.5 x its median 12.00s over 3 earlier runs"]
    assert compute_regressions(current, history, factor=2.0) == []


def test_measured_records_each_stage_once_per_run(tmp_path):
    with measured(tmp_path, "train"):
        pass
    with measured(tmp_path, "train"):
        pass
    with pytest.raises(RuntimeError), measured(tmp_path, "evaluate"):
        raise RuntimeError("the stage failed")
    recorded = read_compute(tmp_path)
    assert list(recorded) == ["train"], "a rerun replaces its stage; a failed stage records nothing"
    assert set(recorded["train"]) == {"seconds", "peak_rss_mb"} and recorded["train"]["peak_rss_mb"] > 0
    assert json.loads((tmp_path / "compute.json").read_text()) == recorded
