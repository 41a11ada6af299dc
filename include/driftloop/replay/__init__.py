"""Replay a use case's history under retraining policies (``driftloop replay``); see ``driftloop.replay.run``."""

from driftloop.replay.run import ReplayResult, demo_policy_comparison, run_replay

__all__ = ["ReplayResult", "demo_policy_comparison", "run_replay"]
