"""The `seal` command line: the engine, headless, for automation and tests.

Each subcommand is a module in `seal_engine.cli.commands` exposing `NAME`,
`HELP`, `add_arguments(parser)` and `run(args) -> int`. Errors a user can cause
(`SealError`, bad option values, filesystem errors) print one line on stderr and
exit with status 2.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from typing import Sequence

from .. import __version__
from ..errors import SealError

EXIT_USER_ERROR = 2


class _Parser(argparse.ArgumentParser):
    """argparse prints usage plus the message on errors; we want one line."""

    def error(self, message: str) -> None:  # type: ignore[override]
        print(f"{self.prog}: {message}", file=sys.stderr)
        raise SystemExit(EXIT_USER_ERROR)


def command_modules() -> list:
    from . import commands

    mods = []
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda i: i.name):
        if not info.name.startswith("_"):
            mods.append(importlib.import_module(f"{commands.__name__}.{info.name}"))
    return mods


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="seal", description="SEAL Sticker Studio, headless.")
    parser.add_argument("--version", action="version", version=f"seal {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for mod in command_modules():
        p = sub.add_parser(mod.NAME, help=mod.HELP, description=getattr(mod, "DESCRIPTION", mod.HELP),
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help(sys.stderr)
        return EXIT_USER_ERROR
    try:
        return int(args._run(args) or 0)
    except SealError as err:
        print(f"seal {args.command}: {err}", file=sys.stderr)
        return EXIT_USER_ERROR
    except OSError as err:  # a disk problem (read-only, permission, full...) is the user's to fix: one line
        from ..fs_errors import describe_os_error

        print(f"seal {args.command}: {describe_os_error(err, verb='access')}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print(f"seal {args.command}: interrupted; nothing partial was kept.", file=sys.stderr)
        return 130


def entry() -> None:
    """Console-script entry point."""
    import multiprocessing

    multiprocessing.freeze_support()
    import os

    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("DIFFUSERS_VERBOSITY", "error")
    _terminate_like_ctrl_c()
    sys.exit(main())


def _terminate_like_ctrl_c() -> None:
    """SIGTERM (what `kill` and service managers send) unwinds like Ctrl+C, so that staging folders and
    temporary files are removed on the way out instead of being left for the next run's sweep."""
    import signal

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    try:
        signal.signal(signal.SIGTERM, interrupt)
    except (ValueError, OSError, AttributeError):  # not the main thread, or no SIGTERM on this OS
        pass
