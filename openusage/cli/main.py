"""The openusage command line: builds the argparse tree from the command modules and dispatches.

`openusage telemetry hook` runs on every agent turn, so it is dispatched before anything else is
imported: this module imports only sys at the top.
"""
import sys

# Command name -> module under openusage.cli that registers it (register(sub, parents), func=run).
# Only the module of the command being run is imported, so one-shot commands start fast (bench/README.md).
COMMANDS = {
    "telemetry": "telemetry_cmd",
    "config": "config_cmd",
    "cache": "cache_cmd",
    "pricing": "pricing_cmd",
    "detect": "provider_cmds",
    "list": "provider_cmds",
    "usage": "provider_cmds",
    "status": "provider_cmds",
    "plugin": "plugin_cmd",
    "auth": "auth_cmd",
    "integrations": "integrations_cmd",
    "daily": "reports_cmd",
    "weekly": "reports_cmd",
    "monthly": "reports_cmd",
    "session": "reports_cmd",
    "blocks": "reports_cmd",
    "export": "reports_cmd",
    "statusline": "statusline_cmd",
    "alerts": "alerts_cmd",
    "hub": "hub_cmd",
    "hub-view": "hub_cmd",
    "demo": "demo_cmd",
    "version": "version_cmd",
}
COMMAND_MODULES = tuple(dict.fromkeys(COMMANDS.values()))
_OPTIONS_WITH_VALUES = {"--config", "--plugin-dir", "--socket-path", "--window"}


# One-shot commands whose work is all done when they return: the process ends as soon as their output
# is flushed, without the interpreter's teardown (freeing every object: ~30 ms after a large scan).
_QUICK_EXIT = frozenset({"reports_cmd", "statusline_cmd", "pricing_cmd"})


def run() -> None:
    """The console script and `python -m openusage`: main(), then the process's exit."""
    argv = sys.argv[1:]
    code = main(argv)
    if _command_module(argv) in _QUICK_EXIT:
        _exit_now(code)
    sys.exit(code)


def _exit_now(code: int) -> None:
    import os

    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a reader that went away (`| head`) or a closed stream
            pass
    if "logging" in sys.modules:
        sys.modules["logging"].shutdown()
    os._exit(code)  # no interpreter teardown (bench/README.md, start-up speed)


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:2] == ["telemetry", "hook"]:
        from openusage.cli import hook_cmd

        return hook_cmd.main(argv[2:])
    return _dispatch(argv)


def _dispatch(argv) -> int:
    import argparse
    import importlib

    from openusage.config import ConfigError
    from openusage.console import EXIT_USAGE, CliError
    from openusage.errors import OpenusageError

    parser = build_parser(argparse, importlib, only=_command_module(argv))
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        from openusage.cli import dashboard_cmd

        args.func = dashboard_cmd.run
        args.window = args.dashboard_window
    elif args.dashboard_window is not None:
        # Before a command, --window would be silently dropped: it is the dashboard's.
        parser.error("--window before a command sets the dashboard's window; commands that take one "
                     "(usage, export, demo) take it after their name")
    unused = _unused_globals(args)
    if unused:
        parser.error(f"{' and '.join(unused)}: not used by 'openusage {_command_name(argv)}'")
    try:
        return int(args.func(args) or 0)
    except CliError as exc:
        print(f"openusage: {_shown(exc)}", file=sys.stderr)
        return exc.code
    except ConfigError as exc:
        print(f"openusage: config: {_shown(exc)}", file=sys.stderr)
        return EXIT_USAGE
    except OpenusageError as exc:  # a path or store the user must fix: one line, no traceback
        print(f"openusage: {_shown(exc)}", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


def _shown(exc: BaseException) -> str:
    """An error as the terminal gets it: masked, and each of its lines free of control characters."""
    from openusage.core import redact
    from openusage.core.printable import printable

    return "\n".join(printable(line) for line in redact.mask(str(exc)).split("\n"))


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


# The global flags and the value each has when not given (set by the top-level parser).
GLOBAL_DEFAULTS = {"--json": ("json", False), "--config": ("config", None), "--plugin-dir": ("plugin_dir", None),
                   "--no-color": ("no_color", False), "--socket-path": ("socket_path", None)}


def _unused_globals(args) -> list:
    """The global flags given to a command that declares it uses others only (set_defaults(uses=...))."""
    uses = getattr(args, "uses", None)
    if uses is None:
        return []
    return [flag for flag, (dest, default) in GLOBAL_DEFAULTS.items()
            if flag not in uses and getattr(args, dest, default) != default]


def _command_module(argv):
    """The module of the command named in argv, or None (then every command is registered)."""
    name = _command_name(argv)
    return COMMANDS.get(name) if name else None


def _command_name(argv):
    """The first word of argv that is not an option or an option's value."""
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg in _OPTIONS_WITH_VALUES:
            skip = True
        elif not arg.startswith("-"):
            return arg
    return None


def build_parser(argparse=None, importlib=None, only=None):
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
    parser.add_argument("--window", dest="dashboard_window", choices=("1d", "3d", "7d", "30d", "all"),
                        help="time window of the dashboard (default: data.time_window); with no command only")
    parent = argparse.ArgumentParser(add_help=False)
    global_options(parent, suppress=True)
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")
    for name in (only,) if only else COMMAND_MODULES:
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
