"""Run one lifecycle step in this process, configured by the environment, and print its result as JSON: the try the
fault suite kills at a chosen request before retrying it, as Airflow would.

``run_step.py register FOLDER`` | ``gate FOLDER [--force]`` | ``rollback ACTOR REASON REQUEST``
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from driftloop.model import model_registry
from driftloop.model.training_run import step_gate, step_register
from driftloop.settings import get_settings


def main(argv: list[str]) -> int:
    """Run the step ``argv`` names; prints its JSON result on the last line."""
    settings = get_settings()
    step, *args = argv
    if step == "register":
        folder = Path(args[0])
        result = step_register(folder, {"dag_id": "train", "run_id": folder.name, "reason": "fault suite"}, settings)
    elif step == "gate":
        result = step_gate(Path(args[0]), "--force" in args, settings)
    elif step == "rollback":
        actor, reason, request = args
        moved = model_registry.rollback(settings.mlflow_tracking_uri, settings.model.name, actor, reason, request)
        result = {"from": moved[0], "to": moved[1]}
    else:
        raise SystemExit(f"unknown step {step!r}")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
