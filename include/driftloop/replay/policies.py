"""Retraining policies: when a replayed loop retrains, and on which matured labels.

A policy is named on the command line:

- ``never``: the first model stays in production;
- ``every:K``: retrain every ``K`` days (``every:1`` is daily), on the newest training window;
- ``drift[:N]``: as ``retrain_on_drift`` does, on the production version's actionable verdicts: a ``quality_drop``
  retrains at once; a ``drift`` (data or prediction drift) waits until ``N`` days of labels from the drift's first day
  on have matured (default ``DRIFTLOOP_RETRAIN_MIN_POST_DRIFT_DAYS``, the loop's own setting), then trains on
  those post-drift labels only;
- ``quality``: retrain on a ``quality_drop`` verdict only (matured labels worse than the version's test metric beyond
  ``DRIFTLOOP_QUALITY_DROP_TOLERANCE``).

Every retraining on day ``d`` learns only from labels that matured by ``d`` (:func:`training_window` ends at the
newest as-of day whose labels arrived by then), and a policy waits ``cooldown_days`` after a retraining before the
next, as the loop's ``DRIFTLOOP_RETRAIN_COOLDOWN_S`` does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

KINDS = ("never", "every", "drift", "quality")
DEFAULT_POST_DRIFT_DAYS = 7
"""The post-drift label days of a bare ``drift`` when the caller names none (the setting's own default)."""


@dataclass(frozen=True)
class Policy:
    """A retraining policy: its kind and its one setting (``every``: the period in days; ``drift``: the post-drift
    label days to wait for)."""

    kind: str
    days: int | None = None

    @property
    def name(self) -> str:
        """The policy as written on the command line (``every:7``, ``drift:7``)."""
        return self.kind if self.days is None else f"{self.kind}:{self.days}"

    @property
    def post_drift_days(self) -> int:
        """Days of post-drift labels a drift-triggered retraining waits for."""
        return self.days or DEFAULT_POST_DRIFT_DAYS


def parse_policy(text: str, post_drift_days: int = DEFAULT_POST_DRIFT_DAYS) -> Policy:
    """A policy from ``never``, ``every:K``, ``drift``, ``drift:N`` or ``quality`` (a bare ``drift`` waits for
    ``post_drift_days``); ValueError naming the choices."""
    kind, _, setting = text.strip().partition(":")
    if kind not in KINDS:
        raise ValueError(f"unknown retraining policy {text!r}; choose never, every:K, drift, drift:N or quality")
    if kind in ("never", "quality"):
        if setting:
            raise ValueError(f"policy {kind!r} takes no setting, got {text!r}")
        return Policy(kind)
    if kind == "every" and not setting:
        raise ValueError(f"policy 'every' needs a period in days, e.g. every:7 (got {text!r})")
    if not setting:
        return Policy(kind, post_drift_days)
    if not setting.isdigit() or int(setting) < 1:
        raise ValueError(f"policy {text!r}: the setting must be a whole number of days, at least 1")
    return Policy(kind, int(setting))


def parse_policies(text: str, post_drift_days: int = DEFAULT_POST_DRIFT_DAYS) -> list[Policy]:
    """Comma-separated policies, each once (a bare ``drift`` waits for ``post_drift_days``)."""
    policies = [parse_policy(part, post_drift_days) for part in text.split(",") if part.strip()]
    names = [p.name for p in policies]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValueError(f"policies listed twice: {', '.join(repeated)}")
    if not policies:
        raise ValueError("no retraining policy given")
    return policies


@dataclass(frozen=True)
class Retraining:
    """A decision to retrain at the end of a day: why, and from which as-of day its labels start (None: the
    newest training window)."""

    reason: str
    since: date | None = None


@dataclass
class PolicyState:
    """What a policy remembers between days: the last retraining and the first drift verdict since."""

    last_retrained: date
    drift_since: date | None = None


def decide(
    policy: Policy, day: date, verdict: str, state: PolicyState, label_horizon_days: int, cooldown_days: int
) -> Retraining | None:
    """Whether ``policy`` retrains at the end of ``day``, given the production version's verdict of the day, and
    updates ``state``'s drift memory. The caller resets ``state`` after a retraining (:func:`retrained`)."""
    if policy.kind == "never":
        return None
    if policy.kind == "every":
        return Retraining(f"every {policy.days} days") if (day - state.last_retrained).days >= policy.days else None
    if verdict == "drift" and state.drift_since is None:
        state.drift_since = day
    cooled = (day - state.last_retrained).days >= cooldown_days
    if verdict == "quality_drop" and policy.kind in ("quality", "drift") and cooled:
        return Retraining("quality_drop")
    if policy.kind == "drift" and state.drift_since is not None and cooled:
        newest_matured = day - timedelta(days=label_horizon_days)
        post_drift_days = (newest_matured - state.drift_since).days + 1
        if post_drift_days >= policy.post_drift_days:
            return Retraining(f"drift since {state.drift_since} ({post_drift_days} days of labels)", state.drift_since)
    return None


def retrained(state: PolicyState, day: date) -> None:
    """Record a retraining on ``day``: the drift that triggered it is consumed."""
    state.last_retrained = day
    state.drift_since = None


def training_window(
    day: date, label_horizon_days: int, window_days: int, complete_from: date, since: date | None = None
) -> tuple[date, date]:
    """The as-of days ``[start, end]`` a retraining at the end of ``day`` learns from: ``end`` is the newest as-of day
    whose labels matured by ``day`` (``day - label_horizon_days``), ``start`` the later of ``window_days`` before it,
    the first day with complete feature windows and ``since`` (the first drift day of a drift-triggered run)."""
    end = day - timedelta(days=label_horizon_days)
    start = max(end - timedelta(days=window_days - 1), complete_from, since or date.min)
    if start > end:
        raise ValueError(f"no matured labels to train on at the end of {day}: the window {start}..{end} is empty")
    return start, end
