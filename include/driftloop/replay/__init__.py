"""Replay a use case's history under retraining policies (``driftloop replay``); see ``driftloop.replay.run``."""

from driftloop.replay.run import ReplayResult, run_replay

__all__ = ["ReplayResult", "run_replay"]
