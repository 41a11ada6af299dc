"""The replay itself: the days of a history played under each retraining policy, in one process.

Each policy starts from the same first model (trained at the end of the day before the replay on the newest
training window) and then, day by day:

1. **scores** the day's features with its production model (``driftloop.model.training.predict``, the function the
   registered model wraps);
2. **monitors** the day as ``driftloop.monitoring.monitor`` does, without the reports: data and prediction drift of
   the day's rows against the version's training set (``drift_thresholds.distances``, the Evidently distances, and
   ``calibrate``d thresholds judged by ``judge_drift``), and the version's quality on the labels that matured in the
   ``quality_days`` days up to it (they describe ``label_horizon_days`` earlier; only those that matured after the
   version was trained, so never one it learned from), compared with its test metric (``quality_dropped``);
   ``day_verdict`` gives the verdict;
3. **decides** whether to retrain (:mod:`driftloop.replay.policies`); a retraining learns on the matured labels of its
   window (``time_split``, ``train_model``, ``evaluate``, ``baseline_predictions``) and goes through the champion gate
   (``decide_promotion``) against the production model on the challenger's test split, the newest matured labels.

What depends only on the data and a model (a model trained on a window, a version's verdict of a day, a gate between
two models) is computed once and shared by the policies that meet it; a retraining's compute seconds are the CPU
seconds its training, evaluation and gate took when they were computed.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
import pandas as pd

from driftloop.model.evaluation import baseline_predictions, evaluate, evaluation_slices, primary_metric
from driftloop.model.promotion import decide_promotion
from driftloop.model.training import TrainedModel, categorical_columns, predict, target_column, time_split, train_model
from driftloop.monitoring import drift_thresholds
from driftloop.monitoring.monitor import MIN_CLASS_ROWS, day_verdict, judge_drift, quality_dropped, sample
from driftloop.replay.history import MATURED_ON, History
from driftloop.replay.policies import Policy, PolicyState, decide, retrained, training_window
from driftloop.usecase.spec import ENTITY_TIMESTAMP


class LabelLeak(AssertionError):
    """A training set held a label that had not matured by the day of the retraining."""


@dataclass
class Candidate:
    """A model trained on one window of matured labels, with its evaluation on its own test split."""

    key: tuple[date, date]
    trained_on: date
    model: TrainedModel
    frame: pd.DataFrame
    test: pd.DataFrame
    evaluation: dict
    baseline: dict
    seconds: float


@dataclass
class DayRecord:
    """What one policy's loop did on one day."""

    policy: str
    day: date
    model_version: int
    model_window: str
    metric: str
    quality: float | None
    quality_rows: int
    labels_matured: str
    """The days whose matured labels the quality is measured on."""
    verdict: str
    reasons: str
    drift_share: float | None
    drifted_columns: str
    prediction_drift: float | None
    retrained: bool = False
    retrain_reason: str = ""
    training_window: str = ""
    challenger_version: int | None = None
    promoted: bool = False
    gate_reasons: str = ""
    compute_seconds: float = 0.0


@dataclass
class Replayer:
    """Plays a history under policies, sharing models, verdicts and gate decisions between them."""

    history: History
    quality_days: int = 7
    """Days of matured labels a day's quality pools (a day alone holds too few churners for a stable ROC AUC)."""
    models: dict[tuple[date, date], Candidate] = field(default_factory=dict)
    verdicts: dict[tuple, tuple] = field(default_factory=dict)
    gates: dict[tuple, tuple] = field(default_factory=dict)
    thresholds: dict[tuple, drift_thresholds.Thresholds] = field(default_factory=dict)
    references: dict[tuple, pd.DataFrame] = field(default_factory=dict)

    @property
    def settings(self):
        """The history's settings."""
        return self.history.settings

    def train(self, day: date, start: date, end: date) -> Candidate:
        """The model of the as-of window ``[start, end]`` trained at the end of ``day`` (LabelLeak if the window
        holds a label that matured after ``day``)."""
        labelled = self.history.labelled
        frame = labelled[(labelled["as_of_day"] >= start) & (labelled["as_of_day"] <= end)]
        late = frame[frame[MATURED_ON] > day]
        if len(late):
            raise LabelLeak(
                f"training at the end of {day} on {start}..{end} would use {len(late)} labels matured later"
            )
        cached = self.models.get((start, end))
        if cached is not None:
            return cached
        settings, spec = self.settings, self.history.spec
        task = settings.task_type
        target = target_column(task)
        clock = time.process_time()
        split = time_split(frame.reset_index(drop=True), ENTITY_TIMESTAMP)
        inputs = self.history.model_inputs
        model = train_model(split, task, inputs, None, settings.model.seed, settings.model.device)
        slices = evaluation_slices(split.test, spec)
        evaluation = evaluate(task, split.test[target], predict(model, split.test), slices)
        numeric = [c for c in inputs if c not in categorical_columns()]
        baseline = evaluate(
            task, split.test[target], baseline_predictions(task, split.train, split.test, numeric, target), slices
        )
        candidate = Candidate(
            key=(start, end),
            trained_on=day,
            model=model,
            frame=frame,
            test=split.test,
            evaluation=evaluation,
            baseline=baseline,
            seconds=time.process_time() - clock,
        )
        self.models[(start, end)] = candidate
        return candidate

    def gate(self, challenger: Candidate, champion: Candidate) -> tuple[bool, list[str], float]:
        """The champion gate on the challenger's test split; returns the decision, its reasons and its CPU seconds."""
        key = (challenger.key, champion.key)
        if key not in self.gates:
            clock = time.process_time()
            settings, task = self.settings, self.settings.task_type
            test = challenger.test
            champion_eval = evaluate(
                task,
                test[target_column(task)],
                predict(champion.model, test),
                evaluation_slices(test, self.history.spec),
            )
            decision = decide_promotion(
                challenger.evaluation,
                champion_eval,
                challenger.baseline,
                task,
                settings.model.promotion_margin,
                settings.model.slice_tolerance,
            )
            self.gates[key] = (decision.promote, decision.reasons, time.process_time() - clock)
        return self.gates[key]

    def _reference(self, model: Candidate) -> pd.DataFrame:
        """The version's training rows (sampled as monitoring samples them) with its predictions on them."""
        if model.key not in self.references:
            config = self.settings.monitoring
            reference = sample(model.frame, config.sample_rows, self.settings.model.seed)
            self.references[model.key] = reference.assign(prediction=predict(model.model, reference))
        return self.references[model.key]

    def quality(self, model: Candidate, day: date) -> dict:
        """The version's quality on the labels that matured in the ``quality_days`` days up to ``day`` and after it
        was trained (never on a label it learned from), against its test metric; empty when they are too few
        (``DRIFTLOOP_QUALITY_MIN_ROWS``, and for classification :data:`MIN_CLASS_ROWS` of each class)."""
        settings, task = self.settings, self.settings.task_type
        labelled = self.history.labelled
        first = max(day - timedelta(days=self.quality_days - 1), model.trained_on + timedelta(days=1))
        labelled = labelled[(labelled[MATURED_ON] >= first) & (labelled[MATURED_ON] <= day)]
        target = target_column(task)
        if len(labelled) < settings.monitoring.quality_min_rows:
            return {}
        counts = labelled[target].value_counts().reindex([0, 1]).fillna(0)
        if task == "classification" and counts.min() < MIN_CLASS_ROWS:
            return {}
        metric, _ = primary_metric(task)
        value = float(evaluate(task, labelled[target], predict(model.model, labelled))["overall"][metric])
        reference = float(model.evaluation["overall"][metric])
        tolerance = settings.monitoring.quality_drop_tolerance
        return {
            "metric": metric,
            "value": value,
            "reference": reference,
            "rows": len(labelled),
            "since": first,
            "dropped": quality_dropped(metric, value, reference, tolerance),
        }

    def monitor(self, model: Candidate, day: date) -> tuple:
        """The version's verdict of ``day``: (verdict, reasons, drift result or None, quality dict)."""
        key = (model.key, day)
        if key in self.verdicts:
            return self.verdicts[key]
        settings = self.settings
        config = settings.monitoring
        quality = self.quality(model, day)
        window = [day - timedelta(days=i) for i in range(config.window_days)]
        rows = [self.history.features[d] for d in window if d in self.history.features]
        if day not in self.history.features:
            reasons = [f"no accepted batch on {day}: nothing scored"]
            drift = None
            verdict = "quality_drop" if quality.get("dropped") else "no_batch"
        else:
            current = sample(pd.concat(rows, ignore_index=True), config.sample_rows, settings.model.seed)
            current = current.assign(prediction=predict(model.model, current))
            reference = self._reference(model)
            columns = self.history.spec.drift_columns([c for c in reference.columns if c in current.columns])
            categorical = categorical_columns()
            size = drift_thresholds.size_bucket(len(current))
            if (model.key, size) not in self.thresholds:
                self.thresholds[(model.key, size)] = drift_thresholds.calibrate(
                    reference, columns, categorical, len(current), config, settings.model.seed
                )
            thresholds = self.thresholds[(model.key, size)]
            scores = drift_thresholds.distances(reference, current, columns, categorical)
            prediction = drift_thresholds.wasserstein_normed(reference["prediction"], current["prediction"])
            drift = judge_drift(scores, prediction, thresholds, len(reference), len(current), config)
            verdict, reasons = day_verdict(drift, {"dropped": quality.get("dropped", False), **quality})
        self.verdicts[key] = (verdict, reasons, drift, quality)
        return self.verdicts[key]

    def first_model(self, start: date) -> Candidate:
        """The model every policy starts with: trained at the end of the day before ``start``."""
        day = start - timedelta(days=1)
        settings = self.settings
        window = training_window(
            day, settings.label_horizon_days, settings.model.training_window_days, self.history.complete_from
        )
        return self.train(day, *window)

    def play(self, policy: Policy, days: list[date]) -> list[DayRecord]:
        """One policy over ``days``: a record per day."""
        settings = self.settings
        horizon, window_days = settings.label_horizon_days, settings.model.training_window_days
        cooldown = max(1, math.ceil(settings.monitoring.retrain_cooldown_s / 86_400))
        production = self.first_model(days[0])
        version, production_version = 1, 1
        state = PolicyState(last_retrained=days[0] - timedelta(days=1))
        records = []
        for day in days:
            verdict, reasons, drift, quality = self.monitor(production, day)
            record = DayRecord(
                policy=policy.name,
                day=day,
                model_version=production_version,
                model_window=f"{production.key[0]}..{production.key[1]}",
                metric=primary_metric(settings.task_type)[0],
                quality=quality.get("value"),
                quality_rows=quality.get("rows", 0),
                labels_matured=f"{quality['since']}..{day}" if quality else "",
                verdict=verdict,
                reasons="; ".join(reasons),
                drift_share=drift.drift_share if drift else None,
                drifted_columns=",".join(drift.drifted_columns) if drift else "",
                prediction_drift=drift.prediction_drift if drift else None,
            )
            retraining = decide(policy, day, verdict, state, horizon, cooldown)
            if retraining is not None:
                start, end = training_window(day, horizon, window_days, self.history.complete_from, retraining.since)
                challenger = self.train(day, start, end)
                promote, gate_reasons, gate_seconds = self.gate(challenger, production)
                version += 1
                record.retrained = True
                record.retrain_reason = retraining.reason
                record.training_window = f"{start}..{end}"
                record.challenger_version = version
                record.promoted = promote
                record.gate_reasons = "; ".join(gate_reasons)
                record.compute_seconds = challenger.seconds + gate_seconds
                retrained(state, day)
                if promote:
                    production, production_version = challenger, version
            records.append(record)
        return records


def records_frame(records: list[DayRecord]) -> pd.DataFrame:
    """The replay's table: one row per policy and day."""
    frame = pd.DataFrame([r.__dict__ for r in records])
    frame["day"] = frame["day"].astype(str)
    return frame


def policy_summary(table: pd.DataFrame, drift_day: date | None, label_horizon_days: int) -> dict:
    """Per policy: mean quality over the replay, on the days whose pooled labels all describe days before the drift
    start, and on those whose labels all describe days from it on; retrainings, promotions and compute seconds."""
    summary = {}
    for policy, rows in table.groupby("policy", sort=False):
        quality = rows["quality"].astype(float)
        measured = rows["labels_matured"].astype(str).str.contains(r"\.\.", regex=True)
        spans = rows["labels_matured"].where(measured, "..").astype(str).str.split("..", regex=False)
        first = pd.to_datetime(spans.str[0], errors="coerce") - pd.Timedelta(days=label_horizon_days)
        last = pd.to_datetime(spans.str[1], errors="coerce") - pd.Timedelta(days=label_horizon_days)
        if drift_day is None:
            before, after = quality, quality.iloc[0:0]
        else:
            before, after = quality[last < pd.Timestamp(drift_day)], quality[first >= pd.Timestamp(drift_day)]

        def mean(values: pd.Series) -> float | None:
            values = values.dropna()
            return round(float(values.mean()), 4) if len(values) else None

        summary[policy] = {
            "metric": rows["metric"].iloc[0],
            "mean_quality": mean(quality),
            "mean_quality_before_drift": mean(before),
            "mean_quality_after_drift": mean(after),
            "retrainings": int(rows["retrained"].sum()),
            "promotions": int(rows["promoted"].sum()),
            "compute_seconds": round(float(rows["compute_seconds"].sum()), 2),
            "final_version": int(rows["model_version"].iloc[-1]),
            "drift_days": int((rows["verdict"] == "drift").sum()),
            "quality_drop_days": int((rows["verdict"] == "quality_drop").sum()),
        }
    return summary


def nan_to_none(value):
    """JSON has no NaN: missing numbers become null."""
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    if isinstance(value, np.generic):
        return nan_to_none(value.item())
    return value
