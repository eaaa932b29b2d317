"""The openusage command line: builds the argparse tree from the command modules and dispatches.

`openusage telemetry hook` runs on every agent turn, so it is dispatched before anything else is
imported: this module imports only sys at the top.
"""
import sys

# Command modules under openusage.cli; each has register(sub, parents) and sets func=run.
COMMAND_MODULES = (
    "telemetry_cmd",
    "config_cmd",
    "cache_cmd",
    "pricing_cmd",
    "provider_cmds",
    "plugin_cmd",
    "auth_cmd",
    "reports_cmd",
    "statusline_cmd",
    "hub_cmd",
    "demo_cmd",
    "version_cmd",
)


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:2] == ["telemetry", "hook"]:
        from openusage.cli import hook_cmd

        return hook_cmd.main(argv[2:])
    return _dispatch(argv)


def _dispatch(argv) -> int:
    import argparse
    import importlib

    from openusage.cli.common import EXIT_USAGE, CliError
    from openusage.config import ConfigError

    parser = build_parser(argparse, importlib)
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        from openusage.cli import dashboard_cmd

        args.func = dashboard_cmd.run
    try:
        return int(args.func(args) or 0)
    except CliError as exc:
        print(f"openusage: {exc}", file=sys.stderr)
        return exc.code
    except ConfigError as exc:
        print(f"openusage: config: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


def global_options(parser, suppress: bool) -> None:
    """The flags every command accepts, before or after the command name."""
    import argparse

    default = (lambda value: argparse.SUPPRESS) if suppress else (lambda value: value)
    parser.add_argument("--json", action="store_true", default=default(False), help="print JSON")
    parser.add_argument("--config", metavar="FILE", default=default(None), help="settings.json to use")
    parser.add_argument("--plugin-dir", metavar="DIR", action="append", default=default(None),
                        help="extra plugin directory (repeatable)")
    parser.add_argument("--no-color", action="store_true", default=default(False), help="no colours")
    parser.add_argument("--socket-path", metavar="PATH", default=default(None), help="daemon socket")


def build_parser(argparse=None, importlib=None):
    if argparse is None:
        import argparse
    if importlib is None:
        import importlib
    from openusage import __version__

    parser = argparse.ArgumentParser(
        prog="openusage",
        description="Usage, spend, tokens and rate limits of your AI coding tools and APIs in one place. "
        "With no command: the dashboard (a table when stdout is not a terminal).",
    )
    parser.add_argument("--version", action="version", version=f"openusage {__version__}")
    global_options(parser, suppress=False)
    parser.add_argument("--window", choices=("1d", "3d", "7d", "30d", "all"),
                        help="time window of the dashboard (default: data.time_window)")
    parent = argparse.ArgumentParser(add_help=False)
    global_options(parent, suppress=True)
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"openusage.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"openusage.cli.{name}":
                continue
            raise
        module.register(sub, [parent])
    return parser


if __name__ == "__main__":
    sys.exit(main())
