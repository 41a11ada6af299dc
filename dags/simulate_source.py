"""
### Simulate the upstream source

Writes deterministic daily batches of the shipped churn use case (a subscription video service) into the landing
area, exactly as the upstream systems would: activity events, profile snapshots and matured churn labels, then the
`_SUCCESS` marker. Use it to feed `ingest` without real upstream systems.

Pick a **scenario** from a given day: `clean`, `covariate_drift` (a price rise that shifts usage and charges),
`concept_drift` (the relation between usage and churn changes) or `corrupt` (batches that break the data contract
the way real feeds do; choose the `corruption` kind or let it rotate by day). The same parameters always produce the
same files. The CLI does the same: `driftloop simulate --help`.
"""

from __future__ import annotations

from airflow.sdk import Param, dag, task

from driftloop.scenarios import CORRUPTIONS, SCENARIOS
from driftloop.settings import get_settings
from driftloop_airflow.defaults import DEFAULT_ARGS, START_DATE

settings = get_settings()


@dag(
    schedule=None,
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["driftloop", "simulation"],
    doc_md=__doc__,
    description="Write simulated daily batches into landing (manual runs with params).",
    params={
        "start": Param(
            "2026-01-01",
            type="string",
            format="date",
            title="First day",
            description="First batch day to write (YYYY-MM-DD).",
        ),
        "days": Param(
            7,
            type="integer",
            minimum=1,
            maximum=366,
            title="Days",
            description="How many consecutive daily batches to write.",
        ),
        "customers": Param(
            1000, type="integer", minimum=10, title="Customers", description="Size of the simulated customer base."
        ),
        "seed": Param(7, type="integer", title="Seed", description="Random seed; the same seed gives the same files."),
        "epoch": Param(
            "2026-01-01",
            type="string",
            format="date",
            title="World start",
            description="First day of the simulated world; keep it fixed across runs of one dataset.",
        ),
        "scenario": Param(
            "clean",
            type="string",
            enum=list(SCENARIOS),
            title="Scenario",
            description="What happens from the scenario start day on.",
        ),
        "scenario_start": Param(
            None,
            type=["null", "string"],
            format="date",
            title="Scenario start",
            description="First day the scenario applies. Empty: from the world start.",
        ),
        "scenario_days": Param(
            None,
            type=["null", "integer"],
            minimum=1,
            title="Scenario length",
            description="How many days the scenario lasts. Empty: until the end.",
        ),
        "corruption": Param(
            None,
            type=["null", "string"],
            enum=[None, *CORRUPTIONS],
            title="Corruption kind",
            description="For the corrupt scenario and the corrupt day: how the batch breaks. Empty: rotate by day.",
        ),
        "corrupt_day": Param(
            None,
            type=["null", "string"],
            format="date",
            title="Corrupt day",
            description="One more day whose batch breaks the contract, whatever the scenario. Empty: none.",
        ),
    },
)
def simulate_source():
    @task
    def write_batches(*, params=None) -> list[str]:
        """Simulate the requested days and write them to landing (uploading through the S3 hook for s3://)."""
        import tempfile
        from pathlib import Path

        from driftloop.dates import parse_day
        from driftloop.simulate import SimulationConfig, simulate_to_landing
        from driftloop_airflow.landing import upload_batch

        config = SimulationConfig(
            n_customers=params["customers"],
            seed=params["seed"],
            epoch=parse_day(params["epoch"]),
            scenario=params["scenario"],
            scenario_start=parse_day(params["scenario_start"]) if params["scenario_start"] else None,
            scenario_days=params["scenario_days"],
            corruption=params["corruption"],
            corrupt_day=parse_day(params["corrupt_day"]) if params.get("corrupt_day") else None,
            label_horizon_days=settings.label_horizon_days,
        )
        start = parse_day(params["start"])
        if not settings.landing_is_s3:
            written = simulate_to_landing(config, start, params["days"], Path(settings.landing_uri))
            return [str(path) for path in written]
        with tempfile.TemporaryDirectory() as workdir:
            written = simulate_to_landing(config, start, params["days"], Path(workdir))
            keys = []
            for path in written:
                keys += upload_batch(settings, path, parse_day(path.name.removeprefix("dt=")))
        return keys

    write_batches()


simulate_source()
