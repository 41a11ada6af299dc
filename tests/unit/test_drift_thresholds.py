"""Sample-size-aware drift thresholds: distances equal to Evidently's, the bootstrap, the cache, the verdict rule
with its severe column and reasons, the reference's complete windows and the settings that guard them."""

from __future__ import annotations

import dataclasses
import hashlib
from datetime import date, timedelta
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.spatial import distance

from driftloop.dates import as_of_timestamp
from driftloop.monitoring.drift_thresholds import wasserstein_1d
from driftloop.monitoring.monitor import (
    MonitoringError,
    day_thresholds,
    day_verdict,
    drift_report,
    drift_thresholds,
    judge_drift,
    reference_frame,
)
from driftloop.settings import get_settings

COLUMNS = ["minutes_7d", "sessions_7d", "tenure_days", "monthly_charge", "plan", "region"]
CATEGORICAL = {"plan", "region"}


def _frame(n: int, seed: int, charge: float = 1.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    minutes = rng.gamma(2.0, 60.0, n)
    minutes[rng.random(n) < 0.05] = np.nan
    return pd.DataFrame(
        {
            "minutes_7d": minutes,
            "sessions_7d": rng.poisson(6, n).astype("int64"),
            "tenure_days": rng.integers(1, 1000, n).astype(float),
            "monthly_charge": rng.choice([8.99, 13.99, 19.99], n) * charge,
            "plan": rng.choice(["basic", "standard", "premium"], n, p=[0.35, 0.45, 0.2]),
            "region": rng.choice(["north", "south", "east", "west", None], n),
            "prediction": rng.beta(2, 20, n),
        }
    )


@pytest.fixture
def settings(data_root):
    return get_settings()


def test_distances_equal_evidently_s_value_drift_numbers(settings):
    reference, current = _frame(3000, 1), _frame(400, 2, charge=1.2)
    current.loc[current["plan"] == "premium", "plan"] = "basic"  # a category the current lacks
    current.loc[:5, "region"] = "mars"  # and one only the current has
    snapshot, _ = drift_report(reference, current, COLUMNS, settings)
    evidently = {
        m["config"]["column"]: m["value"]
        for m in snapshot.dict()["metrics"]
        if m["config"]["type"].endswith(":ValueDrift")
    }
    ours = drift_thresholds.distances(reference, current, [*COLUMNS, "prediction"], CATEGORICAL)
    assert ours.keys() == evidently.keys()
    for column, value in evidently.items():
        assert ours[column] == pytest.approx(value, rel=1e-12, abs=1e-14), column


@pytest.mark.parametrize(
    "make",
    [
        lambda rng, n: rng.normal(size=n),
        lambda rng, n: rng.poisson(3, size=n).astype(float),
        lambda rng, n: np.round(rng.exponential(2, size=n), 1),
        # Few distinct values in the rows that are probed first, a continuous tail after them.
        lambda rng, n: np.concatenate([np.zeros(5000), rng.normal(size=n)]),
        lambda rng, n: np.full(n, 7.0),
    ],
)
def test_the_wasserstein_distance_equals_scipy_s_on_continuous_and_discrete_columns(make):
    rng = np.random.default_rng(3)
    for n, m in [(1, 1), (17, 2000), (6000, 900), (20000, 20000)]:
        u, v = make(rng, n), make(rng, m)
        v = v + rng.choice([0.0, 0.5], size=len(v))
        assert wasserstein_1d(u, v) == pytest.approx(stats.wasserstein_distance(u, v), rel=1e-12, abs=1e-12)


def test_the_bootstrap_counts_give_the_distances_computed_draw_by_draw():
    reference = _frame(2000, 3)
    rows = np.random.default_rng(0).integers(0, len(reference), size=(7, 150))
    for column in COLUMNS:
        fast = drift_thresholds._Null.of(reference[column], column in CATEGORICAL).distances(rows)
        for draw, value in zip(rows, fast, strict=True):
            sample = reference[column].iloc[draw]
            if column in CATEGORICAL:
                ref, cur = reference[column].dropna(), sample.dropna()
                keys = sorted(set(ref))
                p = ref.value_counts().reindex(keys, fill_value=0) / len(ref)
                q = cur.value_counts().reindex(keys, fill_value=0) / len(cur)
                expected = distance.jensenshannon(p, q)
            else:
                ref, cur = reference[column].dropna(), sample.dropna()
                expected = stats.wasserstein_distance(ref, cur) / max(np.std(ref), 0.001)
            assert value == pytest.approx(expected, rel=1e-9, abs=1e-12), column


def test_noise_shrinks_with_the_sample_and_thresholds_never_fall_below_their_floors(settings):
    reference = _frame(5000, 4)
    small, large = (day_thresholds(reference, n, COLUMNS, settings) for n in (24, 20_000))
    config = settings.monitoring
    assert all(small.noise[c] > large.noise[c] for c in COLUMNS) and small.noise["prediction"] > 0.3
    assert all(small.columns[c] == small.noise[c] > config.num_threshold for c in COLUMNS if c not in CATEGORICAL)
    assert all(large.columns[c] == config.num_threshold for c in COLUMNS if c not in CATEGORICAL)
    assert large.prediction == config.prediction_threshold and small.prediction == small.noise["prediction"]
    for c in COLUMNS:
        assert small.severe[c] == pytest.approx(config.severe_threshold * small.columns[c] / 0.1)
        assert large.severe[c] == pytest.approx(config.severe_threshold)


def test_sizes_are_bucketed_down_and_draws_spread_like_two_samples():
    assert [drift_thresholds.size_bucket(n) for n in (1, 24, 99, 487, 19_843, 123_456)] == [
        1,
        24,
        99,
        480,
        19_000,
        120_000,
    ]
    assert drift_thresholds.draw_size(100, 100) == 50 and drift_thresholds.draw_size(24, 10**6) == 24


def test_thresholds_are_cached_per_snapshot_and_size(settings, monkeypatch, tmp_path):
    reference, path = _frame(2000, 5), tmp_path / "thresholds" / "abc.json"
    key = {"snapshot_sha256": "abc", "model_version": "1"}
    config, seed = settings.monitoring, settings.model.seed
    first = drift_thresholds.calibrate(reference, COLUMNS, CATEGORICAL, 487, config, seed, (path, key))
    assert path.exists() and first.sample_size == 480

    def boom(*args, **kwargs):
        raise AssertionError("recomputed a cached calibration")

    real = drift_thresholds.null_quantiles
    monkeypatch.setattr(drift_thresholds, "null_quantiles", boom)
    assert drift_thresholds.calibrate(reference, COLUMNS, CATEGORICAL, 481, config, seed, (path, key)) == first
    monkeypatch.setattr(drift_thresholds, "null_quantiles", real)
    other = drift_thresholds.calibrate(reference, COLUMNS, CATEGORICAL, 5000, config, seed, (path, key))
    again = drift_thresholds.calibrate(reference, COLUMNS, CATEGORICAL, 487, config, seed, (path, {**key, "v": 2}))
    assert other.sample_size == 5000 and again == first
    assert len(drift_thresholds._read_cache(path)) == 3


def _thresholds(columns, value=0.1, severe=0.3, prediction=0.1):
    return drift_thresholds.Thresholds(
        columns=dict.fromkeys(columns, value),
        severe=dict.fromkeys(columns, severe),
        prediction=prediction,
        noise={},
        sample_size=1000,
    )


def test_one_severe_column_makes_the_day_drift_whatever_the_share_and_says_so(settings):
    columns = [f"c{i}" for i in range(15)]
    scores = {c: 0.01 for c in columns} | {"c3": 0.89}
    drift = judge_drift(scores, 0.02, _thresholds(columns), 5000, 1000, settings.monitoring)
    assert drift.drifted and not drift.dataset_drift and drift.severe_columns == ["c3"]
    assert day_verdict(drift, {}) == ("drift", ["severe column c3 0.890 >= 0.300"])
    mild = judge_drift(scores | {"c3": 0.2}, 0.02, _thresholds(columns), 5000, 1000, settings.monitoring)
    assert mild.drifted_columns == ["c3"] and not mild.drifted and day_verdict(mild, {}) == ("no_drift", [])


def test_share_and_prediction_clauses_are_named_in_the_reasons(settings):
    columns = [f"c{i}" for i in range(10)]
    scores = {c: 0.15 if i < 3 else 0.0 for i, c in enumerate(columns)}
    drift = judge_drift(scores, 0.5, _thresholds(columns), 5000, 1000, settings.monitoring)
    verdict, reasons = day_verdict(drift, {})
    assert verdict == "drift" and reasons == ["drift share 0.30 >= 0.3 (3 of 10)", "prediction drift 0.500 >= 0.100"]


def test_too_few_rows_never_drift_but_a_quality_drop_still_counts(settings):
    columns = ["a", "b"]
    drift = judge_drift({"a": 0.9, "b": 0.9}, 0.9, _thresholds(columns), 5000, 24, settings.monitoring)
    assert not drift.drifted and not drift.enough_rows
    verdict, reasons = day_verdict(drift, {})
    assert verdict == "insufficient_data" and "24 current rows, fewer than DRIFTLOOP_DRIFT_MIN_ROWS=500" in reasons[0]
    quality = {"dropped": True, "metric": "roc_auc", "value": 0.61, "reference": 0.8}
    assert day_verdict(drift, quality)[0] == "quality_drop"


def test_the_report_carries_each_column_s_threshold_and_its_count_agrees(settings):
    reference, current = _frame(3000, 6), _frame(60, 7, charge=1.25)
    thresholds = day_thresholds(reference, len(current), COLUMNS, settings)
    snapshot, result = drift_report(reference, current, COLUMNS, settings, thresholds)
    metrics = {
        m["config"]["type"].rsplit(":", 1)[-1] + ":" + m["config"].get("column", ""): m
        for m in snapshot.dict()["metrics"]
    }
    for column in COLUMNS:
        assert metrics[f"ValueDrift:{column}"]["config"]["threshold"] == thresholds.columns[column] > 0.1
    assert metrics["ValueDrift:prediction"]["config"]["threshold"] == thresholds.prediction
    assert metrics["DriftedColumnsCount:"]["value"]["count"] == len(result.drifted_columns)
    assert result.thresholds == thresholds


def test_sample_rows_below_the_minimum_rows_is_a_settings_error(data_root, monkeypatch):
    from driftloop.settings import load_settings

    monkeypatch.setenv("DRIFTLOOP_DRIFT_MIN_ROWS", "500")
    monkeypatch.setenv("DRIFTLOOP_DRIFT_SAMPLE_ROWS", "499")
    with pytest.raises(ValueError, match="DRIFTLOOP_DRIFT_SAMPLE_ROWS=499 is below DRIFTLOOP_DRIFT_MIN_ROWS=500"):
        load_settings()
    monkeypatch.setenv("DRIFTLOOP_DRIFT_SAMPLE_ROWS", "500")
    assert load_settings().monitoring.sample_rows == 500
    monkeypatch.setenv("DRIFTLOOP_DRIFT_CALIBRATION_QUANTILE", "1.5")
    with pytest.raises(ValueError, match="DRIFTLOOP_DRIFT_CALIBRATION_QUANTILE"):
        load_settings()


def test_the_reference_leaves_out_rows_whose_feature_windows_were_incomplete(settings):
    first = date(2026, 3, 1)
    for i in range(40):
        (settings.offline_store_dir / f"dt={first + timedelta(days=i)}").mkdir(parents=True)
    days = [first + timedelta(days=i) for i in range(40)]
    frame = pd.DataFrame(
        {
            "customer_id": range(40),
            "event_timestamp": pd.to_datetime([as_of_timestamp(d) for d in days], utc=True),
            "active_days_30d": range(40),
        }
    )
    path = settings.data_root / "snapshot.parquet"
    frame.to_parquet(path)
    version = SimpleNamespace(
        version="1", tags={"snapshot_path": str(path), "snapshot_sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
    )
    complete = first + timedelta(days=settings.feature_window_days - 1)
    kept = reference_frame(version, settings)
    assert pd.to_datetime(kept["event_timestamp"]).dt.date.min() == complete
    assert len(kept) == 40 - (settings.feature_window_days - 1)
    short = dataclasses.replace(settings, feature_window_days=60)
    with pytest.raises(MonitoringError, match="no rows with complete 60-day feature windows"):
        reference_frame(version, short)
    # A quarantined day (no features) leaves the windows across it a day short: those rows go too.
    quarantined = first + timedelta(days=35)
    (settings.offline_store_dir / f"dt={quarantined}").rmdir()
    kept = reference_frame(version, settings)
    dates = set(pd.to_datetime(kept["event_timestamp"]).dt.date)
    across = {quarantined + timedelta(days=i) for i in range(settings.feature_window_days)}
    assert not dates & across and dates == {d for d in days if d >= complete} - across


def test_the_reference_predictions_are_cached_per_version_and_rows(monkeypatch, tmp_path):
    from driftloop.monitoring import monitor

    calls = []

    def predict(uri, name, version, frame, inputs):
        calls.append(version)
        return frame["x"].to_numpy() * (2.0 if version == "1" else 3.0)

    monkeypatch.setattr(monitor.model_registry, "predict_with_version", predict)
    settings = SimpleNamespace(data_root=tmp_path, mlflow_tracking_uri="-", model=SimpleNamespace(name="churn"))
    rows = pd.DataFrame({"x": [1.0, 2.0, 3.0]})
    first = monitor._reference_predictions(rows, ["x"], "1", "abc", settings)
    again = monitor._reference_predictions(rows, ["x"], "1", "abc", settings)
    assert list(first) == list(again) == [2.0, 4.0, 6.0] and calls == ["1"]
    # Another version, or other rows (another sample, other complete days), is scored anew.
    assert list(monitor._reference_predictions(rows, ["x"], "2", "abc", settings)) == [3.0, 6.0, 9.0]
    assert list(monitor._reference_predictions(rows.iloc[:2], ["x"], "1", "abc", settings)) == [2.0, 4.0]
    assert calls == ["1", "2", "1"]
