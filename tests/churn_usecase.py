"""The churn use case's files as modules, for tests: its simulator, feature function and table specs.

Use case folders are not packages (driftloop imports their files by path), so tests take them from here.
"""

from __future__ import annotations

from pathlib import Path

from driftloop.usecase.active import use_case_module
from driftloop.usecase.spec import load_spec

CHURN = load_spec(Path(__file__).resolve().parents[1] / "usecases" / "churn")
simulate = use_case_module(CHURN, "simulate.py")
features = use_case_module(CHURN, "features.py")

SimulationConfig = simulate.SimulationConfig
simulate_days = simulate.simulate_days
simulate_to_landing = simulate.simulate_to_landing
SCENARIOS, CORRUPTIONS = simulate.SCENARIOS, simulate.CORRUPTIONS
ACTIVITY, PROFILES, LABELS = simulate.ACTIVITY, simulate.PROFILES, simulate.LABELS
EVENT_TYPES, DEVICES, GENRES = simulate.EVENT_TYPES, simulate.DEVICES, simulate.GENRES
PLANS, REGIONS = simulate.PLANS, simulate.REGIONS
compute_daily_features = features.compute_daily_features
