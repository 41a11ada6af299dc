"""
### Replay history under retraining policies

Manual only. **replay** runs the days of the active use case's history (`DRIFTLOOP_USECASE`; churn: the simulator's
`concept` or `covariate` drift scenario, flights: the recorded 2013 days) through the loop's own stages in one
process: its source writes the batches, each day is copied to raw, validated and turned into features once, then
every policy plays the days — score, monitor (drift verdicts and quality on the labels that matured that day), decide
whether to retrain, train on matured labels only, gate the challenger against the production model.

Policies: `never`, `every:K` (every K days), `drift[:N]` (as `retrain_on_drift`: a `quality_drop` retrains at once,
a `drift` once N days of post-drift labels have matured, default 7, on those labels) and `quality` (on
`quality_drop` only).

It writes `replay.csv`/`replay.json` (per policy and day: production version, its quality, verdict, retraining and
its compute seconds), `summary.json` (the comparison per policy) and `quality.png` into
`<DRIFTLOOP_DATA_ROOT>/replays/<run id>/` (or the `out` param), and logs one MLflow run in the experiment
`<model>-replay` with them as artifacts and each policy's mean quality before and after the drift, retrainings and
compute seconds as metrics. The task log prints the comparison. A rerun rewrites the same folder (its history is
reused when the params are the same). `driftloop replay` does the same from a shell.
"""

from __future__ import annotations

from airflow.sdk import Param, dag, task

from driftloop.settings import get_settings
from driftloop_airflow.defaults import DEFAULT_ARGS, START_DATE

settings = get_settings()


@dag(
    schedule=None,
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["driftloop", "model", "replay"],
    doc_md=__doc__,
    description="Replay the use case's history under retraining policies and compare quality and compute.",
    params={
        "days": Param(90, type="integer", minimum=2, title="Days", description="Days replayed after the warm-up."),
        "entities": Param(
            None,
            type=["null", "integer"],
            minimum=10,
            title="Entities",
            description="Entities of a simulated source (churn: customers). Empty: the use case's default (20,000).",
        ),
        "scenario": Param(
            None,
            type=["null", "string"],
            title="Scenario",
            description="The source's scenario (churn: concept, covariate or clean; flights: recorded). Empty: its "
            "default (churn: concept).",
        ),
        "drift_day": Param(
            None,
            type=["null", "string"],
            title="Drift day",
            description="First day of the drift: an index into the replayed days (negative: from the end), a "
            "YYYY-MM-DD date, or none. Empty: a third into the replay.",
        ),
        "policies": Param(
            "never,every:7,drift,quality",
            type="string",
            title="Policies",
            description="Comma-separated retraining policies: never, every:K, drift[:N], quality.",
        ),
        "out": Param(
            None,
            type=["null", "string"],
            title="Output folder",
            description="Where the table, plot and history go. Empty: <DRIFTLOOP_DATA_ROOT>/replays/<run id>.",
        ),
    },
)
def replay():
    @task
    def run_replay(*, params=None, **context) -> dict:
        """Replay the history under each policy; returns the comparison and the output paths."""
        import re
        from pathlib import Path

        from driftloop.replay import run_replay as replay_history

        out = params["out"] or str(settings.data_root / "replays" / re.sub(r"[^A-Za-z0-9_.-]+", "_", context["run_id"]))
        result = replay_history(
            days=params["days"],
            entities=params["entities"],
            scenario=params["scenario"],
            drift_day=params["drift_day"],
            policies=params["policies"],
            out=Path(out),
            settings=settings,
        )
        print(result.comparison_table())
        print(f"timings: {result.timings}")
        return {
            "policy_comparison": result.policy_comparison(),
            "paths": {name: str(path) for name, path in result.paths.items()},
            "mlflow_run_id": result.mlflow_run_id,
        }

    run_replay()


replay()
