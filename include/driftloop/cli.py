"""The ``driftloop`` command line: run pipeline stages without Airflow (``driftloop --help``)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from driftloop.dates import parse_day
from driftloop.errors import UnfixableInputError
from driftloop.settings import get_settings

_TYPES = {"integer": int, "number": float, "string": str, "boolean": lambda v: v.lower() in ("1", "true", "yes")}


def _source_params():
    """The ``[source.params]`` of the active use case (none when its spec cannot be read: the command says why)."""
    from driftloop.usecase.active import active_spec

    try:
        source = active_spec().source
    except ValueError:
        return ()
    return source.params if source else ()


def _simulate(args: argparse.Namespace) -> int:
    from driftloop.usecase.active import active_spec, use_case_function

    settings = get_settings()
    spec = active_spec(settings)
    if spec.source is None:
        print(f"error: use case {spec.name} declares no [source] in {spec.folder}/usecase.toml", file=sys.stderr)
        return 2
    landing = args.landing or settings.landing_uri
    if str(landing).startswith("s3://"):
        print(f"error: landing {landing} is S3; pass --landing DIR, or run the simulate_source DAG", file=sys.stderr)
        return 2
    params = {param.name: getattr(args, param.name) for param in spec.source.params}
    write = use_case_function(spec, spec.source.module, spec.source.function)
    for path in write(Path(landing), parse_day(args.start), args.days, params, settings):
        counts = ", ".join(f"{f.stem} {sum(1 for _ in f.open()) - 1}" for f in sorted(Path(path).glob("*.csv")))
        print(f"{Path(path).name.removeprefix('dt=')}: {counts} -> {path}")
    return 0


def _feast_yaml(args: argparse.Namespace) -> int:
    import yaml

    from driftloop.features.feature_store import repo_config_values

    print(yaml.safe_dump(repo_config_values(get_settings()), sort_keys=False), end="")
    return 0


def _new_usecase(args: argparse.Namespace) -> int:
    from driftloop.usecase.template import create_usecase

    folder = create_usecase(args.name, Path(args.into) if args.into else None, entity=args.entity, key=args.key)
    print(f"created {folder}: edit usecase.toml, features.py and feast_repo.py, then DRIFTLOOP_USECASE={args.name}")
    for name in sorted(p.relative_to(folder) for p in folder.rglob("*") if p.is_file()):
        print(f"  {name}")
    return 0


def _check_usecase(args: argparse.Namespace) -> int:
    from driftloop.usecase.check import check_usecase

    for line in check_usecase(get_settings()):
        print(line)
    return 0


def _champion_history(args: argparse.Namespace) -> int:
    import json
    from dataclasses import asdict

    from driftloop.model.model_registry import RegistryUnavailable, read_history

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


def _test_score(args: argparse.Namespace) -> int:
    from driftloop.quality.registry import SECTIONS, render, score

    result = score()
    print(render(result))
    below = [s for s in SECTIONS if result.section(s) < args.min_section]
    if below:
        print(f"error: sections below {args.min_section:g}: {', '.join(below)}", file=sys.stderr)
        return 1
    return 0


def _drift_report(args: argparse.Namespace) -> int:
    from driftloop.dates import parse_day
    from driftloop.monitoring.monitor import render_drift_report

    print(render_drift_report(parse_day(args.day)))
    return 0


def _replay(args: argparse.Namespace) -> int:
    from driftloop.replay import run_replay

    result = run_replay(
        days=args.days,
        entities=args.entities,
        scenario=args.scenario,
        drift_day=args.drift_day,
        policies=args.policies,
        out=Path(args.out) if args.out else None,
        first_day=parse_day(args.first_day) if args.first_day else None,
        log_mlflow=not args.no_mlflow,
        quality_days=args.quality_days,
    )
    print(result.comparison_table())
    timings = result.timings
    print(
        f"history {timings['history_wall_s']} s wall, {timings['history_cpu_s']} s CPU"
        + (" (reused)" if timings["history_reused"] else "")
        + "; "
        + "; ".join(f"{name} {t['wall_s']} s wall, {t['cpu_s']} s CPU" for name, t in timings["policies"].items())
    )
    for name, path in result.paths.items():
        print(f"{name}: {path}")
    if result.mlflow_run_id:
        print(f"MLflow run {result.mlflow_run_id}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with one subcommand per stage; ``simulate`` takes the active use case's source params."""
    parser = argparse.ArgumentParser(prog="driftloop", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    simulate = commands.add_parser(
        "simulate", help="write the active use case's source batches into landing (DRIFTLOOP_USECASE)"
    )
    simulate.add_argument("--start", required=True, help="first batch day, YYYY-MM-DD")
    simulate.add_argument("--days", type=int, default=1, help="how many consecutive days (default 1)")
    for param in _source_params():
        simulate.add_argument(
            f"--{param.name.replace('_', '-')}",
            dest=param.name,
            type=_TYPES[param.type],
            default=param.default,
            choices=list(param.enum) if param.enum else None,
            help=f"{param.description} (default {param.default})",
        )
    simulate.add_argument("--landing", help="landing folder (default: DRIFTLOOP_LANDING_URI)")
    simulate.set_defaults(handler=_simulate)
    feast_yaml = commands.add_parser(
        "feast-yaml", help="print the feature_store.yaml of the current settings (for the feast CLI: feast -f FILE)"
    )
    feast_yaml.set_defaults(handler=_feast_yaml)
    new = commands.add_parser("new-usecase", help="start a use case folder from the template (usecases/NAME)")
    new.add_argument("name", help="the use case's name: lower case letters, digits and _")
    new.add_argument("--entity", default="entity", help="the entity's name (default: entity)")
    new.add_argument("--key", default="entity_id", help="the entity's join key column (default: entity_id)")
    new.add_argument("--into", help="parent folder (default: <repo>/usecases)")
    new.set_defaults(handler=_new_usecase)
    check = commands.add_parser(
        "check-usecase", help="load the active use case and check its spec, feature function and Feast definitions"
    )
    check.set_defaults(handler=_check_usecase)
    history = commands.add_parser(
        "champion-history", help="which version was champion from when to when, moved by whom and why"
    )
    history.add_argument("--model", help="registered model name (default: DRIFTLOOP_MODEL_NAME)")
    history.add_argument("--json", action="store_true", help="print JSON instead of a table")
    history.set_defaults(handler=_champion_history)
    test_score = commands.add_parser(
        "test-score",
        help="the ML Test Score's 28 tests, the check and tests covering each (verified in the code) and the score",
    )
    test_score.add_argument(
        "--min-section", type=float, default=0.0, help="exit 1 when a section scores below this (default 0)"
    )
    test_score.set_defaults(handler=_test_score)
    report = commands.add_parser(
        "drift-report", help="render the Evidently drift report of a monitored day (drift days get one already)"
    )
    report.add_argument("--day", required=True, help="the monitored day, YYYY-MM-DD")
    report.set_defaults(handler=_drift_report)
    replay = commands.add_parser(
        "replay",
        help="replay the active use case's history under retraining policies and compare them (DRIFTLOOP_USECASE)",
    )
    replay.add_argument("--days", type=int, default=90, help="days replayed after the warm-up (default 90)")
    replay.add_argument("--entities", type=int, help="entities of a simulated source (churn: customers, default 20000)")
    replay.add_argument(
        "--scenario",
        help="the source's scenario (churn: concept, covariate or clean, default concept; flights: recorded)",
    )
    replay.add_argument(
        "--drift-day", help="first day of the drift: an index into the replayed days (negative: from the end) or a date"
    )
    replay.add_argument(
        "--policies",
        default="never,every:7,drift,quality",
        help="comma-separated: never, every:K, drift[:N], quality (default never,every:7,drift,quality)",
    )
    replay.add_argument(
        "--out", help="output folder (default <DRIFTLOOP_DATA_ROOT>/replay); its history/ is reused by the next replay"
    )
    replay.add_argument("--first-day", help="first day of the history, YYYY-MM-DD (default 2026-01-01)")
    replay.add_argument(
        "--quality-days", type=int, default=7, help="days of matured labels a day's quality pools (default 7)"
    )
    replay.add_argument("--no-mlflow", action="store_true", help="do not log the MLflow run")
    replay.set_defaults(handler=_replay)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv`` and run the chosen command; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except (ValueError, UnfixableInputError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
