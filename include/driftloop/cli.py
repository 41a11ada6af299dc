"""The ``driftloop`` command line: run pipeline stages without Airflow (``driftloop --help``)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from driftloop.dates import parse_day
from driftloop.scenarios import CORRUPTIONS, SCENARIOS
from driftloop.settings import get_settings


def _simulate(args: argparse.Namespace) -> int:
    from driftloop.simulate import SimulationConfig, simulate_days, write_batch

    settings = get_settings()
    landing = args.landing or settings.landing_uri
    if str(landing).startswith("s3://"):
        print(f"error: landing {landing} is S3; pass --landing DIR, or run the simulate_source DAG", file=sys.stderr)
        return 2
    start = parse_day(args.start)
    config = SimulationConfig(
        n_customers=args.customers,
        seed=args.seed,
        epoch=parse_day(args.epoch) if args.epoch else start,
        scenario=args.scenario,
        scenario_start=parse_day(args.scenario_start) if args.scenario_start else None,
        scenario_days=args.scenario_days,
        corruption=args.corruption,
        label_horizon_days=settings.label_horizon_days,
    )
    days = [start.fromordinal(start.toordinal() + i) for i in range(args.days)]
    for day, tables in simulate_days(config, days).items():
        path = write_batch(Path(landing), day, tables)
        counts = ", ".join(f"{name} {len(frame)}" for name, frame in tables.items())
        kind = config.corruption_on(day)
        print(f"{day}: {counts} -> {path}" + (f" (corrupt: {kind})" if kind else ""))
    return 0


def _feast_yaml(args: argparse.Namespace) -> int:
    import yaml

    from driftloop.feature_store import repo_config_values

    print(yaml.safe_dump(repo_config_values(get_settings()), sort_keys=False), end="")
    return 0


def _champion_history(args: argparse.Namespace) -> int:
    import json
    from dataclasses import asdict

    from driftloop.model_registry import RegistryUnavailable, read_history

    settings = get_settings()
    try:
        history = read_history(settings.mlflow_tracking_uri, args.model or settings.model.name)
    except RegistryUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.json:
        rows = [asdict(row) for row in history.tenures()]
        print(json.dumps({"model": history.model_name, "champion": history.champion, "history": rows}, indent=2))
    else:
        print(history.table())
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with one subcommand per stage."""
    parser = argparse.ArgumentParser(prog="driftloop", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    simulate = commands.add_parser("simulate", help="write simulated daily batches into landing")
    simulate.add_argument("--start", required=True, help="first batch day, YYYY-MM-DD")
    simulate.add_argument("--days", type=int, default=1, help="how many consecutive days (default 1)")
    simulate.add_argument("--customers", type=int, default=1000, help="size of the customer base (default 1000)")
    simulate.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    simulate.add_argument("--epoch", help="first day of the simulated world (default: --start); keep it fixed")
    simulate.add_argument("--scenario", choices=SCENARIOS, default="clean")
    simulate.add_argument("--scenario-start", help="first day the scenario applies (default: the epoch)")
    simulate.add_argument("--scenario-days", type=int, help="how many days the scenario lasts (default: forever)")
    simulate.add_argument("--corruption", choices=CORRUPTIONS, help="corrupt scenario: the kind (default: rotate)")
    simulate.add_argument("--landing", help="landing folder (default: DRIFTLOOP_LANDING_URI)")
    simulate.set_defaults(handler=_simulate)
    feast_yaml = commands.add_parser(
        "feast-yaml", help="print the feature_store.yaml of the current settings (for the feast CLI: feast -f FILE)"
    )
    feast_yaml.set_defaults(handler=_feast_yaml)
    history = commands.add_parser(
        "champion-history", help="which version was champion from when to when, moved by whom and why"
    )
    history.add_argument("--model", help="registered model name (default: DRIFTLOOP_MODEL_NAME)")
    history.add_argument("--json", action="store_true", help="print JSON instead of a table")
    history.set_defaults(handler=_champion_history)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv`` and run the chosen command; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
