"""The churn use case's source: a deterministic simulator of a subscription video service's daily upstream drops.

The world: ``n_customers`` subscribers with a signup date, plan, price, region, engagement level and device and
genre tastes. Every day, active customers watch sessions (Poisson, more at weekends), call support and sometimes fail
a payment; a daily cancellation hazard driven by engagement, payment failures, support contacts, price and tenure
decides who leaves. Customers renew every 30 days after signup; for each renewal on day ``d`` a label (churned within
the horizon, hours watched in it) arrives in the batch of ``d + label_horizon_days``.

State is iterated day by day from ``epoch`` with one random stream per (seed, day), so a day's files depend only on
the configuration and the day: the same day is byte-identical whether simulated alone or within a range.

Scenarios apply from ``scenario_start`` for ``scenario_days``: ``covariate_drift`` (price +25%, usage -30%, shorter
sessions, more mobile), ``concept_drift`` (heavy users now churn more, payment failures and support matter more;
inputs unchanged), ``price_shock`` (both at once, and a wave of cancellations, most on the standard plan: the price
rise moves the inputs and changes who leaves, so a monitor sees the drift and a model retrained on the labels after
it can learn the new world) and ``corrupt`` (files that break the contract; the world is unaffected).
``corrupt_day`` breaks one more day's files in any scenario.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from driftloop.dates import parse_day
from driftloop.ingest.landing import write_landing_batch
from driftloop.usecase.spec import load_spec

SPEC = load_spec(Path(__file__).resolve().parent)
ACTIVITY, PROFILES, LABELS = (SPEC.tables[n] for n in ("activity_events", "customer_profiles", "churn_labels"))
EVENT_TYPES = ACTIVITY.columns["event_type"].categories
DEVICES = ACTIVITY.columns["device"].categories
GENRES = ACTIVITY.columns["genre"].categories
PLANS = PROFILES.columns["plan"].categories
REGIONS = PROFILES.columns["region"].categories
_PARAMS = {param.name: param for param in SPEC.source.params}
SCENARIOS = _PARAMS["scenario"].enum
"""clean; covariate_drift: a price rise that cuts usage; concept_drift: churn driven differently; price_shock: both;
corrupt: files that break the contract."""
CORRUPTIONS = _PARAMS["corruption"].enum
"""The ways a corrupt batch breaks the contract, as real feeds do."""

PLAN_PRICES = np.array([8.99, 13.99, 19.99])
PLAN_SHARES = np.array([0.35, 0.45, 0.20])
REGION_PRICE_FACTOR = np.array([1.0, 0.95, 1.05, 1.0])
RENEWAL_DAYS = 30
PRICE_SHOCK_CHURN = 1.0
"""How much the ``price_shock`` scenario raises every customer's churn logit beyond the price term: a wave of
cancellations that gives the days after the shock enough churned labels to learn the new world from."""
PRICE_SHOCK_PLAN_CHURN = 2.0
"""How much more it raises the churn logit of standard-plan customers: the plan the rise took past a rival's."""
_STREAM_CUSTOMERS, _STREAM_DAY, _STREAM_OUTPUT = 0, 1, 2


@dataclass(frozen=True)
class SimulationConfig:
    """What world to simulate and which scenario plays out in it."""

    n_customers: int = 1000
    seed: int = 7
    epoch: date = date(2026, 1, 1)
    scenario: str = "clean"
    scenario_start: date | None = None
    scenario_days: int | None = None
    corruption: str | None = None
    label_horizon_days: int = 30
    corrupt_day: date | None = None

    def __post_init__(self) -> None:
        if self.scenario not in SCENARIOS:
            raise ValueError(f"unknown scenario {self.scenario!r}; choose one of {', '.join(SCENARIOS)}")
        if self.corruption is not None and self.corruption not in CORRUPTIONS:
            raise ValueError(f"unknown corruption {self.corruption!r}; choose one of {', '.join(CORRUPTIONS)}")
        if self.n_customers < 1:
            raise ValueError(f"n_customers must be positive, got {self.n_customers}")
        if self.label_horizon_days < 1:
            raise ValueError(f"label_horizon_days must be positive, got {self.label_horizon_days}")
        if self.scenario_days is not None and self.scenario_days < 1:
            raise ValueError(f"scenario_days must be positive, got {self.scenario_days}")

    def scenario_on(self, day: date) -> bool:
        """Whether the scenario applies on ``day``."""
        start = self.scenario_start or self.epoch
        if day < start:
            return False
        return self.scenario_days is None or day < start + timedelta(days=self.scenario_days)

    def corruption_on(self, day: date) -> str | None:
        """The corruption kind of ``day``'s batch, or None for a well-formed batch: every day of the ``corrupt``
        scenario, and ``corrupt_day`` whatever the scenario (so a drift scenario can have a bad batch too)."""
        if day != self.corrupt_day and (self.scenario != "corrupt" or not self.scenario_on(day)):
            return None
        return self.corruption or CORRUPTIONS[day.toordinal() % len(CORRUPTIONS)]


def _rng(config: SimulationConfig, stream: int, day: date | None = None) -> np.random.Generator:
    key = [config.seed, stream] + ([day.toordinal()] if day else [])
    return np.random.default_rng(np.random.SeedSequence(key))


class _Population:
    """Customer attributes, drawn once from the seed."""

    def __init__(self, config: SimulationConfig) -> None:
        n = config.n_customers
        rng = _rng(config, _STREAM_CUSTOMERS)
        self.ids = np.arange(1, n + 1, dtype=np.int64)
        joins_later = rng.random(n) < 0.05
        offset = np.where(joins_later, rng.integers(1, 121, n), -rng.integers(1, 3 * 365, n))
        self.signup_ordinal = config.epoch.toordinal() + offset
        self.plan = rng.choice(len(PLANS), size=n, p=PLAN_SHARES)
        self.region = rng.choice(len(REGIONS), size=n)
        self.region_missing = rng.random(n) < 0.015
        self.base_price = np.round(PLAN_PRICES[self.plan] * REGION_PRICE_FACTOR[self.region], 2)
        self.engagement = rng.lognormal(mean=0.0, sigma=0.6, size=n) * (0.8 + 0.2 * self.plan)
        self.device_taste = rng.dirichlet(np.ones(len(DEVICES)) * 0.7, size=n)
        self.genre_taste = rng.dirichlet(np.ones(len(GENRES)) * 0.7, size=n)
        self.payment_risk = rng.beta(1.0, 400.0, size=n)
        self.support_rate = rng.gamma(1.0, 0.01, size=n)


@dataclass
class _Day:
    """One simulated day: who was active, what they did, who cancelled at its end."""

    day: date
    active: np.ndarray
    session_customer: np.ndarray
    session_minutes: np.ndarray
    session_device: np.ndarray
    session_genre: np.ndarray
    session_second: np.ndarray
    support_customer: np.ndarray
    payment_customer: np.ndarray
    minutes_by_customer: np.ndarray
    price: np.ndarray


def _pick(rng: np.random.Generator, tastes: np.ndarray) -> np.ndarray:
    """One category index per row of ``tastes`` (rows are probability vectors)."""
    cumulative = tastes.cumsum(axis=1)
    draws = rng.random(len(tastes))[:, None] * cumulative[:, -1:]
    return (draws > cumulative).sum(axis=1)


class _World:
    """Iterates the population's daily life from the epoch and remembers what labels and outputs need."""

    def __init__(self, config: SimulationConfig) -> None:
        self.config = config
        self.pop = _Population(config)
        n = config.n_customers
        self.cancel_ordinal = np.full(n, np.iinfo(np.int64).max, dtype=np.int64)
        self.recent_minutes = np.full(n, 40.0) * self.pop.engagement
        self.recent_failures = np.zeros(n)
        self.recent_support = np.zeros(n)
        self.minutes_history: dict[int, np.ndarray] = {}

    def active_on(self, ordinal: int) -> np.ndarray:
        return (self.pop.signup_ordinal <= ordinal) & (self.cancel_ordinal >= ordinal)

    def step(self, day: date) -> _Day:
        config, pop = self.config, self.pop
        rng = _rng(config, _STREAM_DAY, day)
        ordinal = day.toordinal()
        active = self.active_on(ordinal)
        covariate = config.scenario in ("covariate_drift", "price_shock") and config.scenario_on(day)
        concept = config.scenario in ("concept_drift", "price_shock") and config.scenario_on(day)
        weekend = 1.3 if day.weekday() >= 5 else 1.0
        usage = 0.7 if covariate else 1.0

        sessions = rng.poisson(pop.engagement * 0.9 * weekend * usage) * active
        session_customer = np.repeat(np.arange(len(active)), sessions)
        scale = (18.0 if covariate else 22.0) * np.sqrt(pop.engagement[session_customer])
        minutes = np.minimum(rng.gamma(2.0, 1.0, size=len(session_customer)) * scale, 1440.0)
        tastes = pop.device_taste[session_customer]
        if covariate:
            tastes = tastes.copy()
            tastes[:, DEVICES.index("mobile")] += 0.5
        device = _pick(rng, tastes)
        genre = _pick(rng, pop.genre_taste[session_customer])
        second = rng.integers(0, 86400, size=len(session_customer))

        support = rng.poisson(pop.support_rate * (1.0 + 2.0 / (1.0 + pop.engagement))) * active
        failures = (rng.random(len(active)) < pop.payment_risk * (2.0 if covariate else 1.0)) & active
        minutes_by_customer = np.bincount(session_customer, weights=minutes, minlength=len(active))

        self.recent_minutes = 0.9 * self.recent_minutes + 0.1 * minutes_by_customer
        self.recent_failures = 0.93 * self.recent_failures + failures
        self.recent_support = 0.93 * self.recent_support + support
        price = pop.base_price * (1.25 if covariate else 1.0)
        tenure_days = ordinal - pop.signup_ordinal
        low_engagement = np.log1p(40.0 / (1.0 + self.recent_minutes))
        if concept:
            logit = -6.6 - 0.6 * low_engagement + 1.4 * self.recent_failures + 0.9 * self.recent_support
        else:
            logit = -9.0 + 3.0 * low_engagement + 1.5 * self.recent_failures + 0.6 * self.recent_support
        logit += 2.0 * (price / pop.base_price - 1.0) + 0.5 * (tenure_days < 90)
        if config.scenario == "price_shock" and config.scenario_on(day):
            # The rise takes the standard plan past a rival's price: its customers leave, the others much less so
            # (a middle plan, so no linear function of the price captures it).
            logit += PRICE_SHOCK_CHURN + PRICE_SHOCK_PLAN_CHURN * (pop.plan == PLANS.index("standard"))
        # Interactions and a U-shape, as in real churn: failed payments hurt new customers most, low usage hurts
        # most on the cheapest plan, and binge-watchers who ran out of content leave too.
        logit += 2.5 * (tenure_days < 90) * (self.recent_failures > 0.5)
        logit += 2.0 * (pop.plan == 0) * (low_engagement > 1.5) + 2.5 * (self.recent_minutes > 100.0)
        cancels = active & (rng.random(len(active)) < 1.0 / (1.0 + np.exp(-logit)))
        self.cancel_ordinal[cancels] = ordinal

        self.minutes_history[ordinal] = minutes_by_customer.astype(np.float32)
        self.minutes_history.pop(ordinal - config.label_horizon_days - 1, None)
        return _Day(
            day=day,
            active=active,
            session_customer=session_customer,
            session_minutes=minutes,
            session_device=device,
            session_genre=genre,
            session_second=second,
            support_customer=np.repeat(np.arange(len(active)), support),
            payment_customer=np.flatnonzero(failures),
            minutes_by_customer=minutes_by_customer,
            price=price,
        )


def _timestamps(day: date, seconds: np.ndarray) -> np.ndarray:
    base = np.datetime64(day.isoformat(), "s")
    return np.datetime_as_string(base + seconds.astype("timedelta64[s]"), unit="s")


def _activity(world: _World, today: _Day, rng: np.random.Generator) -> pd.DataFrame:
    ids = world.pop.ids
    n_sessions = len(today.session_customer)
    device = np.array(DEVICES, dtype=object)[today.session_device]
    genre = np.array(GENRES, dtype=object)[today.session_genre]
    minutes = np.round(today.session_minutes, 1).astype(object)
    device[rng.random(n_sessions) < 0.02] = None
    genre[rng.random(n_sessions) < 0.01] = None
    minutes[rng.random(n_sessions) < 0.005] = None
    other_customer = np.concatenate([today.support_customer, today.payment_customer])
    other_type = ["support_contact"] * len(today.support_customer) + ["payment_failure"] * len(today.payment_customer)
    customer = np.concatenate([today.session_customer, other_customer])
    frame = pd.DataFrame(
        {
            "customer_id": ids[customer],
            "event_time": np.char.add(
                _timestamps(
                    today.day, np.concatenate([today.session_second, rng.integers(0, 86400, size=len(other_customer))])
                ).astype(str),
                "Z",
            ),
            "event_type": ["session"] * n_sessions + other_type,
            "device": np.concatenate([device, np.full(len(other_customer), None, dtype=object)]),
            "genre": np.concatenate([genre, np.full(len(other_customer), None, dtype=object)]),
            "minutes_watched": np.concatenate([minutes, np.full(len(other_customer), None, dtype=object)]),
        }
    )
    frame = frame.sort_values(["customer_id", "event_time", "event_type"], kind="stable").reset_index(drop=True)
    sequence = frame.groupby("customer_id").cumcount()
    frame.insert(
        0, "event_id", [f"{today.day:%Y%m%d}-{c}-{k}" for c, k in zip(frame["customer_id"], sequence, strict=True)]
    )
    return frame[list(ACTIVITY.columns)]


def _profiles(world: _World, today: _Day, rng: np.random.Generator) -> pd.DataFrame:
    pop = world.pop
    idx = np.flatnonzero(today.active)
    region = np.array(REGIONS, dtype=object)[pop.region[idx]]
    region[pop.region_missing[idx]] = None
    frame = pd.DataFrame(
        {
            "snapshot_date": today.day.isoformat(),
            "customer_id": pop.ids[idx],
            "plan": np.array(PLANS, dtype=object)[pop.plan[idx]],
            "monthly_charge": np.round(today.price[idx], 2),
            "region": region,
            "signup_date": [date.fromordinal(int(o)).isoformat() for o in pop.signup_ordinal[idx]],
        }
    )
    return frame[list(PROFILES.columns)]


def _labels(world: _World, today: _Day) -> pd.DataFrame:
    horizon = world.config.label_horizon_days
    as_of = today.day.toordinal() - horizon
    columns = list(LABELS.columns)
    if as_of < world.config.epoch.toordinal():
        return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
    pop = world.pop
    tenure = as_of - pop.signup_ordinal
    renewing = (tenure > 0) & (tenure % RENEWAL_DAYS == 0) & world.active_on(as_of)
    idx = np.flatnonzero(renewing)
    cancel = world.cancel_ordinal[idx]
    churned = ((cancel >= as_of) & (cancel < today.day.toordinal())).astype(np.int64)
    future_minutes = sum(world.minutes_history[o][idx] for o in range(as_of + 1, today.day.toordinal() + 1))
    return pd.DataFrame(
        {
            "customer_id": pop.ids[idx],
            "as_of_date": date.fromordinal(as_of).isoformat(),
            "churned": churned,
            "future_watch_hours": np.round(np.asarray(future_minutes, dtype=np.float64) / 60.0, 2),
        }
    )[columns]


def _corrupt(kind: str, tables: dict[str, pd.DataFrame], rng: np.random.Generator) -> None:
    """Break ``tables`` in place the way the ``kind`` of bad feed does."""
    activity = tables[ACTIVITY.name].copy()
    sessions = np.flatnonzero((activity["event_type"] == "session").to_numpy())

    def some(rows: np.ndarray, share: float) -> np.ndarray:
        return rng.choice(rows, size=max(1, int(len(rows) * share)), replace=False)

    if kind == "missing_column":
        activity = activity.drop(columns=["minutes_watched"])
    elif kind == "bad_type":
        rows = some(sessions, 0.02)
        activity.loc[rows, "minutes_watched"] = rng.choice(["n/a", "12,5", "??"], size=len(rows))
    elif kind == "null_key":
        activity["customer_id"] = activity["customer_id"].astype(object)
        activity.loc[some(np.arange(len(activity)), 0.01), "customer_id"] = None
    elif kind == "out_of_range":
        rows = some(sessions, 0.01)
        activity.loc[rows, "minutes_watched"] = -np.round(rng.uniform(1, 60, len(rows)), 1)
    elif kind == "unknown_category":
        profiles = tables[PROFILES.name].copy()
        profiles.loc[some(np.arange(len(profiles)), 0.02), "plan"] = "PREMIUM+"
        tables[PROFILES.name] = profiles
    elif kind == "duplicate_key":
        activity = pd.concat([activity, activity.iloc[some(np.arange(len(activity)), 0.01)]], ignore_index=True)
    elif kind == "wrong_day":
        rows = some(np.arange(len(activity)), 0.03)
        shifted = pd.to_datetime(activity.loc[rows, "event_time"]) - pd.Timedelta(days=1)
        activity.loc[rows, "event_time"] = shifted.dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    elif kind == "truncated":
        activity = activity.iloc[: max(1, len(activity) // 10)]
    elif kind == "null_spike":
        activity.loc[some(sessions, 0.6), "device"] = None
    tables[ACTIVITY.name] = activity


def simulate_days(config: SimulationConfig, days: Sequence[date]) -> dict[date, dict[str, pd.DataFrame]]:
    """The three raw tables (as delivered, values as strings would be written) for each day in ``days``."""
    wanted = sorted(set(days))
    if not wanted:
        return {}
    if wanted[0] < config.epoch:
        raise ValueError(f"day {wanted[0]} is before the simulation epoch {config.epoch}")
    world = _World(config)
    batches: dict[date, dict[str, pd.DataFrame]] = {}
    day = config.epoch
    while day <= wanted[-1]:
        today = world.step(day)
        if day in wanted:
            rng = _rng(config, _STREAM_OUTPUT, day)
            tables = {
                ACTIVITY.name: _activity(world, today, rng),
                PROFILES.name: _profiles(world, today, rng),
                LABELS.name: _labels(world, today),
            }
            kind = config.corruption_on(day)
            if kind:
                _corrupt(kind, tables, rng)
            batches[day] = tables
        day += timedelta(days=1)
    return batches


def simulate_to_landing(config: SimulationConfig, start: date, n_days: int, landing_dir: Path) -> list[Path]:
    """Simulate ``n_days`` days from ``start`` and write each as a landed batch; returns the batch folders."""
    days = [start + timedelta(days=i) for i in range(n_days)]
    return [write_landing_batch(landing_dir, day, tables) for day, tables in simulate_days(config, days).items()]


def config_from_params(params: dict, label_horizon_days: int) -> SimulationConfig:
    """The simulation the ``source.params`` of ``usecase.toml`` describe (missing ones take their defaults)."""
    values = {param.name: param.default for param in SPEC.source.params} | {
        k: v for k, v in params.items() if v is not None
    }

    def day(name: str) -> date | None:
        return parse_day(values[name]) if values.get(name) else None

    return SimulationConfig(
        n_customers=int(values["customers"]),
        seed=int(values["seed"]),
        epoch=day("epoch"),
        scenario=values["scenario"],
        scenario_start=day("scenario_start"),
        scenario_days=values.get("scenario_days"),
        corruption=values.get("corruption"),
        corrupt_day=day("corrupt_day"),
        label_horizon_days=label_horizon_days,
    )


def write_batches(landing_dir: Path, start: date, n_days: int, params: dict, settings) -> list[Path]:
    """The use case's source (``[source]`` in ``usecase.toml``): simulate ``n_days`` batches from ``start`` into
    ``landing_dir`` with the trigger form's ``params``."""
    return simulate_to_landing(config_from_params(params, settings.label_horizon_days), start, n_days, landing_dir)


def demo_params(days: list[date], drift_day: date, corrupt_day: date | None, settings) -> dict:
    """``simulate_source``'s params for ``make demo``: a world started well before the first day, a price shock
    (price +25%, less viewing, more mobile, and heavy users now leave: covariate and concept drift a retraining on
    the labels after it can learn) from ``drift_day`` and a corrupt batch on ``corrupt_day``. The demo's
    customer count and corruption kind are ``DRIFTLOOP_DEMO_CUSTOMERS`` (20,000) and ``DRIFTLOOP_DEMO_CORRUPTION``
    (``bad_type``)."""
    import os

    return {
        "customers": int(os.environ.get("DRIFTLOOP_DEMO_CUSTOMERS") or 20_000),
        "seed": 7,
        "epoch": (days[0] - timedelta(days=settings.label_horizon_days + 30)).isoformat(),
        "scenario": "price_shock",
        "scenario_start": drift_day.isoformat(),
        "corruption": os.environ.get("DRIFTLOOP_DEMO_CORRUPTION") or "bad_type",
        "corrupt_day": corrupt_day.isoformat() if corrupt_day else None,
    }


REPLAY_SCENARIOS = {"clean": "clean", "covariate": "covariate_drift", "concept": "concept_drift"}
"""The scenarios a replay names (``driftloop replay --scenario``), as this simulator's ``scenario`` param."""


def replay_params(
    days: list[date], drift_day: date | None, scenario: str | None, entities: int | None, settings
) -> dict:
    """The source's params for ``driftloop replay``: a world started 60 days before the first day (so its churn has
    settled, as in the demo), ``entities`` customers
    (default 20,000) and the scenario (``covariate``/``covariate_drift``, ``concept``/``concept_drift`` or
    ``clean``; default ``concept``) from ``drift_day`` until the end."""
    chosen = REPLAY_SCENARIOS.get(scenario or "concept", scenario)
    if chosen not in SCENARIOS or chosen == "corrupt":
        known = ", ".join([*REPLAY_SCENARIOS, *REPLAY_SCENARIOS.values()])
        raise ValueError(f"unknown replay scenario {scenario!r} for the churn simulator; choose one of {known}")
    if chosen != "clean" and drift_day is None:
        raise ValueError(f"the {chosen} scenario needs a drift day")
    return {
        "customers": int(entities or 20_000),
        "seed": 7,
        "epoch": (days[0] - timedelta(days=60)).isoformat(),
        "scenario": chosen,
        "scenario_start": drift_day.isoformat() if chosen != "clean" else None,
        "corruption": None,
        "corrupt_day": None,
    }
