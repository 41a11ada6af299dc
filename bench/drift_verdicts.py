"""Drift verdicts measured, not assumed: how often the verdict rule says ``drift`` on clean samples and on shifted ones
at 24 to 20,000 rows, in the churn demo's world (``make demo``'s simulation, without Airflow, Feast or MLflow).

The world is the demo's: 20,000 customers, 36 days, rolling features over 14 days, labels after 7 days and a price
rise (covariate drift: price +25 %, usage -30 %, more mobile) from the fifth day before the end. The reference is
what the first training run snapshots: the label events of the default training window (from the first day with
complete feature windows to the newest matured label) with their features that day, scored by a model trained on
them. Per size and draw, a sample is taken from the reference itself (clean, no drift at all), from the demo's clean
scored days (clean, real days) and from the first price-rise day (shifted), and judged by the functions
``monitor_day`` uses (``day_thresholds``, ``judge_drift``, ``day_verdict``) on distances equal to Evidently's
(``driftloop.monitoring.drift_thresholds.distances``). The same distances are also judged by the fixed rule that came
before (0.1 everywhere, no minimum, no severe column) for comparison.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date, timedelta

import pandas as pd

SIZES = (24, 100, 500, 2000, 20000)
DRAWS = 50
START = date(2026, 3, 1)
DEMO_DAYS, FEATURE_WINDOW, HORIZON, CLEAN_DAYS = 36, 14, 7, 4


@dataclass(frozen=True)
class World:
    """The demo's reference (with ``prediction``), its clean scored days and its first price-rise day; and the rows a
    training window from the first day would have added, whose feature windows were incomplete."""

    reference: pd.DataFrame
    ramp_up: pd.DataFrame
    clean_days: dict[date, pd.DataFrame]
    shifted_day: tuple[date, pd.DataFrame]
    columns: list[str]


def _features(batches: dict, days: list[date], day: date, customers=None) -> pd.DataFrame:
    """Features of ``day`` from the batches of the feature window's days that were ingested (none before the first),
    for ``customers`` only when given."""
    from bench.dataset import churn_module

    window = [d for d in days if day - timedelta(days=FEATURE_WINDOW - 1) <= d <= day]
    profiles = batches[day]["customer_profiles"]
    if customers is not None:
        profiles = profiles[profiles["customer_id"].astype("int64").isin(customers)]
    tables = {
        "activity_events": pd.concat([batches[d]["activity_events"] for d in window], ignore_index=True),
        "customer_profiles": profiles,
    }
    return churn_module("features.py").compute_daily_features(day, tables, FEATURE_WINDOW)


def demo_world(customers: int = 20_000) -> World:
    """Simulate the demo's world and build its reference, clean days and first price-rise day (about a minute)."""
    import xgboost as xgb

    from bench.dataset import churn_module
    from driftloop.model.training import build_model_matrix
    from driftloop.usecase.active import active_spec

    simulate = churn_module("simulate.py")
    days = [START + timedelta(days=i) for i in range(DEMO_DAYS)]
    drift_day = days[-5]
    config = simulate.SimulationConfig(
        n_customers=customers,
        seed=7,
        epoch=days[0] - timedelta(days=HORIZON + 30),
        scenario="covariate_drift",
        scenario_start=drift_day,
        label_horizon_days=HORIZON,
    )
    batches = simulate.simulate_days(config, days)
    complete, newest_label = days[FEATURE_WINDOW - 1], days[-1] - timedelta(days=HORIZON)
    parts = []
    for as_of in days[: days.index(newest_label) + 1]:
        labels = batches[as_of + timedelta(days=HORIZON)]["churn_labels"]
        ids = labels["customer_id"].astype("int64")
        features = _features(batches, days, as_of, set(ids)).assign(as_of=as_of)
        parts.append(features.merge(labels[["customer_id", "churned"]].astype({"customer_id": "int64"})))
    everything = pd.concat(parts, ignore_index=True)
    complete_rows = everything.pop("as_of") >= complete
    reference, ramp_up = everything[complete_rows], everything[~complete_rows].drop(columns=["churned"])
    spec = active_spec()
    columns = spec.drift_columns([c for c in reference.columns if c != "churned"])
    train = xgb.DMatrix(
        build_model_matrix(reference, columns), label=reference["churned"].astype(int), enable_categorical=True
    )
    booster = xgb.train({"objective": "binary:logistic", "max_depth": 4, "eta": 0.1, "seed": 7}, train, 200)

    def scored(frame: pd.DataFrame) -> pd.DataFrame:
        matrix = xgb.DMatrix(build_model_matrix(frame, columns), enable_categorical=True)
        return frame.assign(prediction=booster.predict(matrix))

    scored_days = days[days.index(drift_day) - CLEAN_DAYS : days.index(drift_day)]
    return World(
        reference=scored(reference.drop(columns=["churned"]).reset_index(drop=True)),
        ramp_up=scored(ramp_up.reset_index(drop=True)),
        clean_days={d: scored(_features(batches, days, d)) for d in scored_days},
        shifted_day=(drift_day, scored(_features(batches, days, drift_day))),
        columns=columns,
    )


def _draw(frame: pd.DataFrame, n: int, seed: int) -> pd.DataFrame:
    """``n`` rows of ``frame``, seeded; with replacement only when ``frame`` has fewer."""
    return frame.sample(n=n, replace=n > len(frame), random_state=seed).reset_index(drop=True)


def verdict_rates(world: World, settings, sizes=SIZES, draws: int = DRAWS, seed: int = 0) -> list[dict]:
    """Per sample size: the share of draws whose verdict is ``drift`` and ``insufficient_data`` for clean samples of
    the reference, clean samples of the demo's clean days and samples of the first price-rise day; with the
    configured rule (``settings``), the same rule with ``DRIFTLOOP_DRIFT_MIN_ROWS`` at the smallest size (what the
    calibration alone gives), and the fixed rule that came before."""
    from driftloop.model.training import categorical_columns
    from driftloop.monitoring.monitor import day_thresholds, day_verdict, drift_thresholds, judge_drift

    config = settings.monitoring
    rules = {
        "calibrated": config,
        "calibrated_small_min": dataclasses.replace(config, drift_min_rows=min(sizes)),
        "fixed": dataclasses.replace(config, drift_min_rows=1, severe_threshold=float("inf")),
    }
    columns, categorical = world.columns, categorical_columns()
    clean_pool = pd.concat(world.clean_days.values(), ignore_index=True)
    sources = {"reference": world.reference, "clean_day": clean_pool, "shifted": world.shifted_day[1]}
    rows = []
    for n in sizes:
        calibrated = day_thresholds(world.reference, n, columns, settings)
        fixed = drift_thresholds.thresholds({}, columns, categorical, rules["fixed"], n)
        counts = {(rule, source, v): 0 for rule in rules for source in sources for v in ("drift", "insufficient")}
        for i in range(draws):
            for source, frame in sources.items():
                current = _draw(frame, n, seed + 1000 * n + i)
                scores = drift_thresholds.distances(world.reference, current, [*columns, "prediction"], categorical)
                prediction = scores.pop("prediction")
                for rule, rule_config in rules.items():
                    thresholds = fixed if rule == "fixed" else calibrated
                    drift = judge_drift(scores, prediction, thresholds, len(world.reference), n, rule_config)
                    verdict, _ = day_verdict(drift, {})
                    counts[(rule, source, "drift")] += verdict == "drift"
                    counts[(rule, source, "insufficient")] += verdict == "insufficient_data"
        rows.append(
            {
                "rows": n,
                "draws": draws,
                "thresholds": {c: round(v, 4) for c, v in calibrated.columns.items()},
                "prediction_threshold": round(calibrated.prediction, 4),
                **{f"{rule}.{source}.{v}": counts[(rule, source, v)] / draws for (rule, source, v) in counts},
            }
        )
    return rows


def distances_only(world: World, sizes=SIZES, draws: int = DRAWS, seed: int = 0) -> int:
    """The floor of :func:`verdict_rates`: the same draws' distances, with no thresholds or verdicts; returns the
    number of samples."""
    from driftloop.model.training import categorical_columns
    from driftloop.monitoring import drift_thresholds

    clean_pool = pd.concat(world.clean_days.values(), ignore_index=True)
    samples = 0
    for n in sizes:
        for i in range(draws):
            for frame in (world.reference, clean_pool, world.shifted_day[1]):
                current = _draw(frame, n, seed + 1000 * n + i)
                drift_thresholds.distances(
                    world.reference, current, [*world.columns, "prediction"], categorical_columns()
                )
                samples += 1
    return samples


def full_days(world: World, settings) -> dict[str, dict]:
    """The verdict of each whole clean day and of the whole first price-rise day, as ``monitor_day`` makes it
    (thresholds for the day's size): verdict, drifted columns and reasons."""
    from driftloop.model.training import categorical_columns
    from driftloop.monitoring.monitor import day_thresholds, day_verdict, drift_thresholds, judge_drift

    out = {}
    for day, frame in [*world.clean_days.items(), world.shifted_day]:
        thresholds = day_thresholds(world.reference, len(frame), world.columns, settings)
        scores = drift_thresholds.distances(
            world.reference, frame, [*world.columns, "prediction"], categorical_columns()
        )
        prediction = scores.pop("prediction")
        drift = judge_drift(scores, prediction, thresholds, len(world.reference), len(frame), settings.monitoring)
        verdict, reasons = day_verdict(drift, {})
        out[day.isoformat()] = {
            "rows": len(frame),
            "verdict": verdict,
            "drifted_columns": drift.drifted_columns,
            "reasons": reasons,
            "largest": max(scores, key=scores.get),
            "largest_distance": round(max(scores.values()), 4),
        }
    return out


def table(rows: list[dict]) -> str:
    """The measured rates as a Markdown table (the README's)."""
    lines = [
        "| rows | clean (reference): drift / insufficient | clean (real days): drift | shifted: drift "
        "| calibration alone (min rows 24): clean / real / shifted drift | fixed 0.1 before: clean / shifted drift |",
        "|---|---|---|---|---|---|",
    ]

    def pct(value: float) -> str:
        return f"{100 * value:.0f} %"

    for r in rows:
        lines.append(
            f"| {r['rows']:,} | {pct(r['calibrated.reference.drift'])} / {pct(r['calibrated.reference.insufficient'])} "
            f"| {pct(r['calibrated.clean_day.drift'])} | {pct(r['calibrated.shifted.drift'])} "
            f"| {pct(r['calibrated_small_min.reference.drift'])} / {pct(r['calibrated_small_min.clean_day.drift'])} / "
            f"{pct(r['calibrated_small_min.shifted.drift'])} "
            f"| {pct(r['fixed.reference.drift'])} / {pct(r['fixed.shifted.drift'])} |"
        )
    return "\n".join(lines)
