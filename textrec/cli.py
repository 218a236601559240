"""The ``textrec`` command.

    textrec pipeline [--data SOURCE] [--profile quick|full] [--reports DIR] [--stages a,b]
    textrec env                 versions, profile and paths
    textrec download NAME       fetch a registry data set (online); `textrec download --list`
"""

from __future__ import annotations

import argparse
import sys


def _pipeline(args) -> int:
    from textrec.pipeline import run_pipeline

    stages = args.stages.split(",") if args.stages else None
    path = run_pipeline(source=args.data, profile=args.profile, reports=args.reports, stages=stages)
    print(f"report written to {path}")
    return 0


def _env(args) -> int:
    from textrec import _environment, config

    for name, version in _environment.versions().items():
        print(f"{name:26s} {version}")
    print(f"{'profile':26s} {config.profile_name()}")
    for name in ("home", "data_dir", "cache_dir", "reports_dir"):
        print(f"{name:26s} {getattr(config, name)()}")
    print(f"{'data source':26s} {config.data_source()}")
    return 0


def _download(args) -> int:
    from textrec.data import registry

    if args.list or not args.name:
        for name, entry in registry.REGISTRY.items():
            print(f"{name:50s} {entry.description}")
        return 0
    print(registry.fetch(args.name))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="textrec", description="textrec course tools")
    commands = parser.add_subparsers(dest="command", required=True)
    pipeline = commands.add_parser("pipeline", help="run the course end to end and write reports/")
    pipeline.add_argument("--data", help="'synthetic' (default), a registry name or a review file")
    pipeline.add_argument("--profile", choices=["quick", "full"], help="default: TEXTREC_PROFILE or auto")
    pipeline.add_argument("--reports", help="report folder (default: TEXTREC_REPORTS or <home>/reports)")
    pipeline.add_argument("--stages", help="comma-separated stage names (default: all)")
    pipeline.set_defaults(func=_pipeline)
    env = commands.add_parser("env", help="show versions, profile and paths")
    env.set_defaults(func=_env)
    download = commands.add_parser("download", help="fetch a data set from the registry")
    download.add_argument("name", nargs="?")
    download.add_argument("--list", action="store_true")
    download.set_defaults(func=_download)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (FileNotFoundError, ValueError, KeyError, RuntimeError) as exc:
        print(f"textrec {args.command}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
